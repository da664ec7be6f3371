#!/usr/bin/env python3
"""Independent check of a wallet attestation JWT (draft-ietf-oauth-attestation-based-
client-auth, OpenID4VC HAIP).

Verifies the compact JWS with jwcrypto (which hsm-pki does not use) using the key of the
x5c leaf certificate alone, and reads the certificates with cryptography. Checks:

- Three unpadded base64url parts; the header is {typ, alg, x5c} with typ
  "oauth-client-attestation+jwt", alg ES256/ES384/ES512 fitting the leaf key's curve, and
  x5c a non-empty list of standard (padded) base64 DER certificates.
- The signature verifies with the x5c leaf's public key (jwcrypto, alg pinned).
- HAIP: the leaf is not self-signed; each x5c certificate is issued by the next; no
  certificate is self-issued (the trust anchor is not sent).
- Claims: iss and sub non-empty text (sub equal to --client-id when given); iat and exp
  integers with iat < exp, now (or --now) within [iat - 60 s, exp); exp not after the
  leaf's notAfter; cnf.jwk a public EC JWK (kty EC, crv/x/y, no private member) that
  jwcrypto loads as a public key; wallet_name and wallet_link text when present.
- With --root: the last x5c certificate is issued by that root.

Prints a JSON summary and exits 0, or prints {"ok": false, "error": ...} and exits 1.

Usage: attestation_check.py [--root ROOT.pem] [--client-id ID] [--now UNIX] FILE
where FILE (or - for stdin) holds the compact JWT.
"""

import argparse
import base64
import binascii
import json
import re
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwcrypto import jwk, jws

TYP = "oauth-client-attestation+jwt"
ALGS = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
JWK_CURVES = {"P-256": "secp256r1", "P-384": "secp384r1", "P-521": "secp521r1"}
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
SKEW = 60


class CheckError(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise CheckError(msg)


def b64url_json(part, what):
    need(B64URL.match(part), f"the {what} is not unpadded base64url")
    raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    value = json.loads(raw)
    need(isinstance(value, dict), f"the {what} is not a JSON object")
    return value


def issued_by(cert, issuer):
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except Exception:  # noqa: BLE001: any failure means "not issued by"
        return False


def check(token, root_pem=None, client_id=None, now=None):
    now = int(time.time()) if now is None else now
    parts = token.split(".")
    need(len(parts) == 3, f"{len(parts)} parts, not 3")
    header = b64url_json(parts[0], "header")
    claims = b64url_json(parts[1], "payload")
    need(B64URL.match(parts[2]), "the signature is not unpadded base64url")
    need(header.get("typ") == TYP, f"typ is {header.get('typ')!r}, not {TYP}")
    alg = header.get("alg")
    need(alg in ALGS, f"alg {alg!r} is not ES256/ES384/ES512")
    need(set(header) == {"typ", "alg", "x5c"}, f"header members {sorted(header)}")

    x5c = header.get("x5c")
    need(isinstance(x5c, list) and x5c, "x5c is not a non-empty list")
    certs = []
    for i, c in enumerate(x5c):
        need(isinstance(c, str) and len(c) % 4 == 0, f"x5c[{i}] is not padded base64")
        try:
            der = base64.b64decode(c, validate=True)
        except binascii.Error as e:
            raise CheckError(f"x5c[{i}] is not standard base64 ({e})") from e
        certs.append(x509.load_der_x509_certificate(der))
    leaf = certs[0]
    for i, cert in enumerate(certs):
        need(cert.issuer != cert.subject, f"x5c[{i}] is self-issued (HAIP: no trust anchor, leaf not self-signed)")
    for i in range(len(certs) - 1):
        need(issued_by(certs[i], certs[i + 1]), f"x5c[{i}] is not issued by x5c[{i + 1}]")
    leaf_key = leaf.public_key()
    need(isinstance(leaf_key, ec.EllipticCurvePublicKey), "the leaf key is not EC")
    need(leaf_key.curve.name == ALGS[alg], f"{alg} with a {leaf_key.curve.name} leaf key")

    # jwcrypto verifies with the leaf's key only, the algorithm pinned to the header's.
    key = jwk.JWK.from_pem(leaf_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    sig = jws.JWS()
    sig.deserialize(token)
    try:
        sig.verify(key, alg=alg)
    except Exception as e:  # noqa: BLE001
        raise CheckError(f"the signature does not verify with the x5c leaf key ({e})") from e

    for name in ("iss", "sub"):
        need(isinstance(claims.get(name), str) and claims[name], f"{name} is not non-empty text")
    if client_id is not None:
        need(claims["sub"] == client_id, f"sub is {claims['sub']!r}, not {client_id!r}")
    iat, exp = claims.get("iat"), claims.get("exp")
    need(isinstance(iat, int) and isinstance(exp, int), "iat and exp are not integers")
    need(iat < exp, "exp is not after iat")
    need(iat - SKEW <= now < exp, f"now ({now}) is outside [iat, exp)")
    need(exp <= int(leaf.not_valid_after_utc.timestamp()), "exp is after the leaf's notAfter")
    cnf = claims.get("cnf")
    need(isinstance(cnf, dict) and isinstance(cnf.get("jwk"), dict), "cnf.jwk is missing")
    wallet = cnf["jwk"]
    need(not PRIVATE_MEMBERS & set(wallet), f"cnf.jwk has private members {sorted(PRIVATE_MEMBERS & set(wallet))}")
    need(wallet.get("kty") == "EC", "cnf.jwk is not an EC key")
    need(wallet.get("crv") in JWK_CURVES, f"cnf.jwk crv {wallet.get('crv')!r}")
    wallet_key = jwk.JWK(**wallet)
    need(not wallet_key.has_private, "cnf.jwk holds a private key")
    for name in ("wallet_name", "wallet_link"):
        if name in claims:
            need(isinstance(claims[name], str) and claims[name], f"{name} is not non-empty text")

    summary = {
        "ok": True,
        "typ": header["typ"],
        "alg": alg,
        "x5cLength": len(certs),
        "leafSubject": leaf.subject.rfc4514_string(),
        "iss": claims["iss"],
        "sub": claims["sub"],
        "iat": iat,
        "exp": exp,
        "walletKeyCrv": wallet["crv"],
        "walletKeyThumbprint": wallet_key.thumbprint(),
        "claims": sorted(claims),
        "chainVerified": False,
    }
    if root_pem is not None:
        root = x509.load_pem_x509_certificate(root_pem)
        need(issued_by(certs[-1], root), "the last x5c certificate is not issued by the root")
        need(
            root.not_valid_before_utc <= leaf.not_valid_before_utc
            and leaf.not_valid_after_utc <= root.not_valid_after_utc,
            "the leaf's validity is not inside the root's",
        )
        summary["chainVerified"] = True
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", help="PEM file of the holder root certificate")
    parser.add_argument("--client-id", help="the expected sub")
    parser.add_argument("--now", type=int, help="the time to check against (Unix seconds)")
    parser.add_argument("file", help="the compact JWT, or - for stdin")
    args = parser.parse_args()
    try:
        token = (sys.stdin.read() if args.file == "-" else open(args.file).read()).strip()
        root = open(args.root, "rb").read() if args.root else None
        summary = check(token, root, args.client_id, args.now)
    except Exception as e:  # noqa: BLE001: every failure is reported the same way
        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}))
        return 1
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
