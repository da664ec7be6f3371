#!/usr/bin/env python3
"""Independent check of a Status List Token in CWT form (draft-ietf-oauth-status-list).

Decodes with cbor2, verifies with pycose, inflates with zlib and reads the signer
certificate with cryptography (none of which hsm-pki uses to build tokens). Checks:

- The message is COSE_Sign1_Tagged (tag 18), not tagged as a CWT (61).
- The protected header holds alg (ES256/ES384/ES512) and typ (16)
  "application/statuslist+cwt"; the unprotected header holds x5chain (33), one bstr or an
  array of them (RFC 9360), the status list signer first.
- The signature verifies with the first x5chain certificate's key (pycose).
- The claims: sub (2) text (equal to --uri if given), iat (6) and exp (4) integers with
  iat < exp, ttl (65534) a positive integer, status_list (65533) {bits: 1|2|4|8, lst: bstr}
  whose lst inflates as zlib (RFC 1950).
- With --iaca: the signer certificate is issued by that IACA and valid from iat to exp.
- With --now (unix seconds): iat <= now < exp.
- With --index N (repeatable): reports the status of entry N (bits packed from the least
  significant bit of byte 0); an index past the list is an error.

Prints a JSON summary and exits 0, or prints {"ok": false, "error": ...} and exits 1.

Usage: status_check.py [--iaca IACA.pem] [--uri URI] [--now SECS] [--index N]... FILE
where FILE (or - for stdin) holds the token's raw bytes.
"""

import argparse
import datetime
import json
import sys
import zlib

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from pycose.keys import EC2Key
from pycose.keys.curves import P256, P384, P521
from pycose.messages import Sign1Message

ALGS = {-7: ("ES256", "secp256r1"), -35: ("ES384", "secp384r1"), -36: ("ES512", "secp521r1")}
CURVES = {"secp256r1": P256, "secp384r1": P384, "secp521r1": P521}
TYP = "application/statuslist+cwt"


class CheckError(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise CheckError(msg)


def status_at(raw, bits, idx):
    need(idx * bits < len(raw) * 8, f"index {idx} is past the list's {len(raw) * 8 // bits}")
    bit = idx * bits
    return (raw[bit // 8] >> (bit % 8)) & ((1 << bits) - 1)


def check(token, iaca_pem=None, uri=None, now=None, indexes=()):
    outer = cbor2.loads(token)
    need(isinstance(outer, cbor2.CBORTag), "the token is not tagged")
    need(outer.tag == 18, f"the token is tag {outer.tag}, not 18 (COSE_Sign1_Tagged)")
    arr = list(outer.value)
    need(len(arr) == 4, "the COSE_Sign1 is not a four-element array")
    # cbor2 6 decodes a tag's content immutably (tuples, frozendicts); pycose 1.1 takes
    # neither, so the message is rebuilt from plain lists and dicts of the same bytes.
    need(hasattr(arr[1], "items"), "the unprotected header is not a map")
    arr[1] = dict(arr[1])
    protected_bstr, unprotected, payload, signature = arr
    protected = cbor2.loads(protected_bstr)
    need(protected.get(16) == TYP, f"protected typ is {protected.get(16)!r}, not {TYP}")
    need(protected.get(1) in ALGS, f"alg {protected.get(1)} is not ES256/ES384/ES512")
    alg_name, curve_name = ALGS[protected[1]]
    x5chain = unprotected.get(33)
    need(x5chain is not None, "unprotected header has no x5chain (33)")
    chain = [x5chain] if isinstance(x5chain, bytes) else list(x5chain)
    need(chain and all(isinstance(c, bytes) for c in chain), "x5chain is not bstr(s)")
    signer = x509.load_der_x509_certificate(chain[0])
    key = signer.public_key()
    need(isinstance(key, ec.EllipticCurvePublicKey), "the signer key is not an EC key")
    need(key.curve.name == curve_name, f"{alg_name} with a {key.curve.name} key")

    msg = Sign1Message.from_cose_obj(arr, True)
    numbers = key.public_numbers()
    n = (key.curve.key_size + 7) // 8
    msg.key = EC2Key(
        crv=CURVES[curve_name], x=numbers.x.to_bytes(n, "big"), y=numbers.y.to_bytes(n, "big")
    )
    need(len(signature) == 2 * n, f"signature is {len(signature)} bytes, not {2 * n}")
    need(msg.verify_signature(), "the signature does not verify with the x5chain key")

    claims = cbor2.loads(payload)
    need(isinstance(claims, dict), "the claims are not a map")
    sub, iat, exp, ttl = claims.get(2), claims.get(6), claims.get(4), claims.get(65534)
    need(isinstance(sub, str) and sub, "sub (2) is not text")
    if uri is not None:
        need(sub == uri, f"sub is {sub!r}, not the mdoc's uri {uri!r}")
    need(isinstance(iat, int) and isinstance(exp, int), "iat (6) / exp (4) are not integers")
    need(iat < exp, "exp is not after iat")
    need(isinstance(ttl, int) and ttl > 0, "ttl (65534) is not a positive integer")
    sl = claims.get(65533)
    need(isinstance(sl, dict), "status_list (65533) is not a map")
    bits, lst = sl.get("bits"), sl.get("lst")
    need(bits in (1, 2, 4, 8), f"bits is {bits!r}")
    need(isinstance(lst, bytes), "lst is not a byte string")
    need(lst[:1] == b"\x78", "lst does not start with a zlib header")
    raw = zlib.decompress(lst)
    if now is not None:
        need(iat <= now < exp, f"now {now} is outside iat {iat} .. exp {exp}")

    summary = {
        "ok": True,
        "alg": alg_name,
        "typ": protected[16],
        "sub": sub,
        "iat": iat,
        "exp": exp,
        "ttl": ttl,
        "bits": bits,
        "entries": len(raw) * 8 // bits,
        "signer": signer.subject.rfc4514_string(),
        "statuses": {str(i): status_at(raw, bits, i) for i in indexes},
        "chainVerified": False,
    }
    if iaca_pem is not None:
        iaca = x509.load_pem_x509_certificate(iaca_pem)
        try:
            signer.verify_directly_issued_by(iaca)
        except Exception as e:  # noqa: BLE001: any failure is the answer
            raise CheckError(f"the signer is not issued by the IACA: {e}") from e
        t = datetime.datetime.fromtimestamp
        utc = datetime.timezone.utc
        need(signer.not_valid_before_utc <= t(iat, utc), "iat is before the signer's notBefore")
        need(t(exp, utc) <= signer.not_valid_after_utc, "exp is after the signer's notAfter")
        summary["chainVerified"] = True
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iaca", help="PEM file of the IACA certificate")
    parser.add_argument("--uri", help="the uri the mdoc's status entry names")
    parser.add_argument("--now", type=int, help="unix seconds the token must be valid at")
    parser.add_argument("--index", type=int, action="append", default=[])
    parser.add_argument("file", help="the token's bytes, or - for stdin")
    args = parser.parse_args()
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else open(args.file, "rb").read()
        iaca = open(args.iaca, "rb").read() if args.iaca else None
        summary = check(data, iaca, args.uri, args.now, args.index)
    except Exception as e:  # noqa: BLE001: every failure is reported the same way
        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}))
        return 1
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
