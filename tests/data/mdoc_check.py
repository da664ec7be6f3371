#!/usr/bin/env python3
"""Independent check of an ISO/IEC 18013-5 IssuerSigned structure.

Decodes with cbor2 and verifies the IssuerAuth COSE_Sign1 with pycose (neither is used by
hsm-pki to build mdocs), so an encoding or signing mistake in the Rust code is not repeated
here. Checks:

- IssuerSigned is {nameSpaces, issuerAuth}; issuerAuth is an untagged COSE_Sign1 whose
  protected header is {1: alg} with ES256/ES384/ES512, and whose unprotected header holds
  x5chain (label 33, one bstr or an array of them).
- The signature verifies with the public key of the first x5chain certificate (pycose).
- The payload is #6.24(bstr .cbor MobileSecurityObject): version "1.0", a SHA-2
  digestAlgorithm, the expected docType, an EC2 deviceKey without a private part (-4),
  validityInfo with signed <= validFrom < validUntil, UTC, no fractions.
- Every IssuerSignedItem (tag 24) is re-hashed and its digest found under its digestID in
  valueDigests; digestIDs are unique per namespace; random is at least 16 bytes. An item's
  bytes are re-encoded as tag 24 over its byte string in preferred serialization (shortest
  head), which is how readers re-create what was sent.
- A status member, if any, is {status_list: {idx: uint, uri: tstr}}, reported as "status".
- With --iaca: the document signer certificate is issued by that IACA (signature and name)
  and its validity covers the MSO's.

Prints a JSON summary and exits 0, or prints {"ok": false, "error": ...} and exits 1.

Usage: mdoc_check.py --doc-type DOCTYPE [--iaca IACA.pem] FILE
where FILE (or - for stdin) holds the IssuerSigned CBOR as base64url text.
"""

import argparse
import base64
import datetime
import hashlib
import json
import sys

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from pycose.keys import EC2Key
from pycose.keys.curves import P256, P384, P521
from pycose.messages import Sign1Message

ALGS = {-7: ("ES256", "secp256r1"), -35: ("ES384", "secp384r1"), -36: ("ES512", "secp521r1")}
CURVES = {"secp256r1": P256, "secp384r1": P384, "secp521r1": P521}
DIGESTS = {"SHA-256": hashlib.sha256, "SHA-384": hashlib.sha384, "SHA-512": hashlib.sha512}


class CheckError(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise CheckError(msg)


def b64url_decode(text):
    text = "".join(text.split())
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def utc_tdate(name, value):
    need(isinstance(value, datetime.datetime), f"validityInfo.{name} is not a tdate")
    need(value.utcoffset() == datetime.timedelta(0), f"validityInfo.{name} is not in UTC")
    need(value.microsecond == 0, f"validityInfo.{name} has fractions of a second")
    return value


def check(issuer_signed_bytes, doc_type, iaca_pem=None):
    issuer_signed = cbor2.loads(issuer_signed_bytes)
    need(isinstance(issuer_signed, dict), "IssuerSigned is not a map")
    need(set(issuer_signed) <= {"nameSpaces", "issuerAuth"}, "IssuerSigned has unknown keys")
    auth = issuer_signed.get("issuerAuth")
    need(isinstance(auth, list) and len(auth) == 4, "issuerAuth is not a COSE_Sign1 array")
    protected_bstr, unprotected, payload, signature = auth
    protected = cbor2.loads(protected_bstr)
    need(set(protected) == {1}, f"protected header is {protected!r}, not {{1: alg}}")
    need(protected[1] in ALGS, f"alg {protected[1]} is not ES256/ES384/ES512")
    alg_name, curve_name = ALGS[protected[1]]

    x5chain = unprotected.get(33)
    need(x5chain is not None, "unprotected header has no x5chain (33)")
    chain = [x5chain] if isinstance(x5chain, bytes) else x5chain
    need(
        isinstance(chain, list) and chain and all(isinstance(c, bytes) for c in chain),
        "x5chain is not a bstr or an array of bstr",
    )
    if isinstance(x5chain, list):
        need(len(x5chain) > 1, "a single x5chain certificate must be a bstr (RFC 9360)")
    ds = x509.load_der_x509_certificate(chain[0])
    ds_key = ds.public_key()
    need(isinstance(ds_key, ec.EllipticCurvePublicKey), "the DS key is not an EC key")
    need(ds_key.curve.name == curve_name, f"{alg_name} with a {ds_key.curve.name} DS key")

    # IssuerAuth is untagged, and Sign1Message.decode takes only tag 18 (whose content
    # cbor2 6 decodes as a tuple, which pycose 1.1 does not take either): build the message
    # from the decoded array, whose protected header and payload are the bytes as received.
    msg = Sign1Message.from_cose_obj(list(auth), True)
    numbers = ds_key.public_numbers()
    n = (ds_key.curve.key_size + 7) // 8
    msg.key = EC2Key(
        crv=CURVES[curve_name], x=numbers.x.to_bytes(n, "big"), y=numbers.y.to_bytes(n, "big")
    )
    need(len(signature) == 2 * n, f"signature is {len(signature)} bytes, not r || s of {2 * n}")
    need(msg.verify_signature(), "the COSE_Sign1 signature does not verify with the DS key")

    need(isinstance(payload, bytes), "payload is not a byte string")
    wrapped = cbor2.loads(payload)
    need(
        isinstance(wrapped, cbor2.CBORTag) and wrapped.tag == 24 and isinstance(wrapped.value, bytes),
        "payload is not #6.24(bstr)",
    )
    mso = cbor2.loads(wrapped.value)
    need(isinstance(mso, dict), "MSO is not a map")
    need(mso.get("version") == "1.0", f"MSO version is {mso.get('version')!r}")
    need(mso.get("digestAlgorithm") in DIGESTS, f"digestAlgorithm {mso.get('digestAlgorithm')!r}")
    digest = DIGESTS[mso["digestAlgorithm"]]
    need(mso.get("docType") == doc_type, f"docType is {mso.get('docType')!r}, not {doc_type!r}")
    device_key = mso.get("deviceKeyInfo", {}).get("deviceKey")
    need(isinstance(device_key, dict), "deviceKeyInfo.deviceKey is missing")
    need(device_key.get(1) == 2 and device_key.get(-1) in (1, 2, 3), "deviceKey is not EC2")
    need(-4 not in device_key, "deviceKey holds a private key (-4)")

    vi = mso.get("validityInfo", {})
    signed = utc_tdate("signed", vi.get("signed"))
    valid_from = utc_tdate("validFrom", vi.get("validFrom"))
    valid_until = utc_tdate("validUntil", vi.get("validUntil"))
    need(signed <= valid_from, "validFrom is before signed")
    need(valid_from < valid_until, "validUntil is not after validFrom")
    if "expectedUpdate" in vi:
        utc_tdate("expectedUpdate", vi["expectedUpdate"])

    value_digests = mso.get("valueDigests")
    need(isinstance(value_digests, dict) and value_digests, "valueDigests is empty")
    checked = 0
    per_namespace = {}
    for ns, items in (issuer_signed.get("nameSpaces") or {}).items():
        need(ns in value_digests, f"namespace {ns} has no valueDigests")
        need(isinstance(items, list) and items, f"namespace {ns} has no items")
        seen = set()
        for item in items:
            need(
                isinstance(item, cbor2.CBORTag) and item.tag == 24 and isinstance(item.value, bytes),
                f"an item of {ns} is not #6.24(bstr)",
            )
            decoded = cbor2.loads(item.value)
            need(
                set(decoded) == {"digestID", "random", "elementIdentifier", "elementValue"},
                f"an item of {ns} has members {sorted(decoded)}",
            )
            did = decoded["digestID"]
            name = decoded["elementIdentifier"]
            need(isinstance(did, int) and did >= 0, f"{ns}/{name}: digestID {did!r}")
            need(did not in seen, f"{ns}: digestID {did} is used twice")
            seen.add(did)
            need(isinstance(name, str) and name, f"{ns}: elementIdentifier {name!r}")
            need(
                isinstance(decoded["random"], bytes) and len(decoded["random"]) >= 16,
                f"{ns}/{name}: random is shorter than 16 bytes",
            )
            expected = value_digests[ns].get(did)
            need(expected is not None, f"{ns}/{name}: digestID {did} is not in valueDigests")
            actual = digest(cbor2.dumps(cbor2.CBORTag(24, item.value))).digest()
            need(actual == expected, f"{ns}/{name}: the item's digest does not match valueDigests")
            checked += 1
        per_namespace[ns] = len(items)

    summary = {
        "ok": True,
        "docType": doc_type,
        "alg": alg_name,
        "x5chainLength": len(chain),
        "dsSubject": ds.subject.rfc4514_string(),
        "namespaces": per_namespace,
        "digestsChecked": checked,
        "undisclosedDigests": sum(len(d) for d in value_digests.values()) - checked,
        "validityInfo": {
            k: v.isoformat() for k, v in vi.items() if isinstance(v, datetime.datetime)
        },
        "chainVerified": False,
    }
    status = mso.get("status")
    if status is not None:
        # draft-ietf-oauth-status-list 6.3: {"status_list": {"idx": uint, "uri": tstr}}.
        need(isinstance(status, dict) and set(status) == {"status_list"}, "status is not {status_list}")
        ref = status["status_list"]
        need(isinstance(ref, dict) and set(ref) == {"idx", "uri"}, "status_list is not {idx, uri}")
        need(isinstance(ref["idx"], int) and ref["idx"] >= 0, "status_list.idx is not a uint")
        need(isinstance(ref["uri"], str) and ref["uri"], "status_list.uri is not text")
        summary["status"] = {"idx": ref["idx"], "uri": ref["uri"]}
    if iaca_pem is not None:
        iaca = x509.load_pem_x509_certificate(iaca_pem)
        try:
            ds.verify_directly_issued_by(iaca)
        except Exception as e:  # noqa: BLE001: any failure is the answer
            raise CheckError(f"the DS certificate is not issued by the IACA: {e}") from e
        need(
            ds.not_valid_before_utc <= signed <= ds.not_valid_after_utc,
            "signed is outside the DS certificate's validity",
        )
        need(ds.not_valid_before_utc <= valid_from, "validFrom is before the DS notBefore")
        need(valid_until <= ds.not_valid_after_utc, "validUntil is after the DS notAfter")
        summary["chainVerified"] = True
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--doc-type", required=True)
    parser.add_argument("--iaca", help="PEM file of the IACA certificate")
    parser.add_argument("file", help="base64url IssuerSigned, or - for stdin")
    args = parser.parse_args()
    try:
        text = sys.stdin.read() if args.file == "-" else open(args.file).read()
        iaca = open(args.iaca, "rb").read() if args.iaca else None
        summary = check(b64url_decode(text), args.doc_type, iaca)
    except Exception as e:  # noqa: BLE001: every failure is reported the same way
        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}))
        return 1
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
