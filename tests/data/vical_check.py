#!/usr/bin/env python3
"""Independent check of a signed VICAL (ISO/IEC 18013-5 Annex C).

Decodes with cbor2 and verifies the COSE_Sign1 with pycose (neither is used by hsm-pki to
build VICALs), and reads the certificates with cryptography, so a mistake in the Rust code
is not repeated here. Checks:

- The file is one COSE_Sign1 (untagged, or tag 18) whose protected header is {1: alg}
  with ES256/ES384/ES512; x5chain (label 33) is a bstr for one certificate or an array of
  several; the payload is attached and is the VICAL map itself (no tag 24).
- The signature verifies with the key of the first x5chain certificate (pycose), whose
  curve fits alg, which carries the extKeyUsage 1.0.18013.5.1.8 and is valid at the
  VICAL's date; each x5chain certificate is issued by the next.
- The VICAL: version "1.0", a vicalProvider, date and nextUpdate tdates (UTC, no
  fraction, nextUpdate later), vicalIssueID a uint, certificateInfos a list; each
  CertificateInfo's certificate parses, and its serialNumber, ski (the keyIdentifier),
  issuingCountry (C), stateOrProvinceName (ST), notBefore and notAfter are the
  certificate's; docType is a non-empty list of text; no member expired at the date.
- With --root: the x5chain ends at that root (is it, or is issued by it).
- With --member (repeatable): each certificate appears byte for byte in certificateInfos.
- With --lenient, disagreements between a CertificateInfo and its certificate are
  reported as warnings instead (for published VICALs that are not ours).

Prints a JSON summary and exits 0, or prints {"ok": false, "error": ...} and exits 1.

Usage: vical_check.py [--root ROOT.pem] [--member IACA.pem ...] [--lenient] FILE
where FILE (or - for stdin) holds the signed VICAL as binary CBOR (application/cbor).
"""

import argparse
import datetime
import json
import sys

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from pycose.keys import EC2Key
from pycose.keys.curves import P256, P384, P521
from pycose.messages import Sign1Message

ALGS = {-7: ("ES256", "secp256r1"), -35: ("ES384", "secp384r1"), -36: ("ES512", "secp521r1")}
CURVES = {"secp256r1": P256, "secp384r1": P384, "secp521r1": P521}
VICAL_SIGNER_EKU = ObjectIdentifier("1.0.18013.5.1.8")
INFO_KEYS = {
    "certificate", "serialNumber", "ski", "docType", "certificateProfile",
    "issuingAuthority", "issuingCountry", "stateOrProvinceName", "issuer", "subject",
    "notBefore", "notAfter", "extensions",
}


class CheckError(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise CheckError(msg)


def tdate(name, value):
    need(isinstance(value, datetime.datetime), f"{name} is not a tdate")
    need(value.utcoffset() == datetime.timedelta(0), f"{name} is not in UTC")
    need(value.microsecond == 0, f"{name} has fractions of a second")
    return value


def name_attr(name, oid):
    attrs = name.get_attributes_for_oid(oid)
    return attrs[0].value if attrs else None


def issued_by(cert, issuer):
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except Exception:  # noqa: BLE001: any failure means "not issued by"
        return False


def check_member(i, info, date, problem):
    need(isinstance(info, dict), f"certificateInfos[{i}] is not a map")
    need(all(isinstance(k, str) for k in info), f"certificateInfos[{i}] has a non-text key")
    at = f"certificateInfos[{i}]"
    need(isinstance(info.get("certificate"), bytes), f"{at}.certificate is not a bstr")
    cert = x509.load_der_x509_certificate(info["certificate"])
    serial = info.get("serialNumber")
    need(isinstance(serial, int) and serial >= 0, f"{at}.serialNumber is not an unsigned integer")
    if serial != cert.serial_number:
        problem(f"{at}.serialNumber is not the certificate's")
    need(isinstance(info.get("ski"), bytes), f"{at}.ski is not a bstr")
    try:
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except Exception as e:  # noqa: BLE001
        ski = None
        problem(f"{at}: the certificate's subjectKeyIdentifier cannot be read ({e})")
    if ski is not None and info["ski"] != ski:
        problem(f"{at}.ski is not the certificate's keyIdentifier")
    doc_types = info.get("docType")
    need(
        isinstance(doc_types, list) and doc_types and all(isinstance(d, str) for d in doc_types),
        f"{at}.docType is not a non-empty list of text",
    )
    for key in ("certificateProfile",):
        if key in info:
            v = info[key]
            need(isinstance(v, list) and v and all(isinstance(s, str) for s in v), f"{at}.{key}")
    for key, oid in (("issuingCountry", NameOID.COUNTRY_NAME),
                     ("stateOrProvinceName", NameOID.STATE_OR_PROVINCE_NAME)):
        if key in info:
            need(isinstance(info[key], str), f"{at}.{key} is not text")
            if info[key] != name_attr(cert.subject, oid):
                problem(f"{at}.{key} {info[key]!r} is not the certificate's")
    for key, actual in (("notBefore", cert.not_valid_before_utc),
                        ("notAfter", cert.not_valid_after_utc)):
        if key in info:
            if tdate(f"{at}.{key}", info[key]) != actual:
                problem(f"{at}.{key} is not the certificate's ({actual.isoformat()})")
    if cert.not_valid_after_utc < date:
        problem(f"{at}: the certificate expired before the VICAL's date")
    unknown = sorted(set(info) - INFO_KEYS)
    if unknown:
        problem(f"{at} has members outside the CDDL: {unknown}")
    return doc_types


def check(data, root_pem=None, member_pems=(), lenient=False):
    warnings = []

    def problem(msg):
        if not lenient:
            raise CheckError(msg)
        warnings.append(msg)

    top = cbor2.loads(data)
    tagged = isinstance(top, cbor2.CBORTag)
    if tagged:
        need(top.tag == 18, f"tag {top.tag} is not COSE_Sign1 (18)")
        top = top.value
    need(isinstance(top, (list, tuple)) and len(top) == 4, "not a COSE_Sign1 array")
    protected_bstr, unprotected, payload, signature = top
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
    certs = [x509.load_der_x509_certificate(c) for c in chain]
    signer = certs[0]
    key = signer.public_key()
    need(isinstance(key, ec.EllipticCurvePublicKey), "the signer key is not an EC key")
    need(key.curve.name == curve_name, f"{alg_name} with a {key.curve.name} signer key")

    msg = Sign1Message.from_cose_obj(list(top), True)
    numbers = key.public_numbers()
    n = (key.curve.key_size + 7) // 8
    msg.key = EC2Key(
        crv=CURVES[curve_name], x=numbers.x.to_bytes(n, "big"), y=numbers.y.to_bytes(n, "big")
    )
    need(len(signature) == 2 * n, f"signature is {len(signature)} bytes, not r || s of {2 * n}")
    need(msg.verify_signature(), "the COSE_Sign1 signature does not verify with the signer key")

    try:
        eku = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        eku = []
    need(VICAL_SIGNER_EKU in eku, "the signer certificate lacks extKeyUsage 1.0.18013.5.1.8")
    need(ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku, "the signer has anyExtendedKeyUsage")
    for i in range(len(certs) - 1):
        need(issued_by(certs[i], certs[i + 1]), f"x5chain[{i}] is not issued by x5chain[{i + 1}]")

    need(isinstance(payload, bytes), "the payload is not attached")
    vical = cbor2.loads(payload)
    need(not isinstance(vical, cbor2.CBORTag), "the payload is tagged, not the VICAL map")
    need(isinstance(vical, dict), "the VICAL is not a map")
    need(vical.get("version") == "1.0", f"version is {vical.get('version')!r}")
    need(isinstance(vical.get("vicalProvider"), str) and vical["vicalProvider"], "vicalProvider")
    date = tdate("date", vical.get("date"))
    need(
        signer.not_valid_before_utc <= date <= signer.not_valid_after_utc,
        "the signer certificate is not valid at the VICAL's date",
    )
    issue_id = vical.get("vicalIssueID")
    if issue_id is not None:
        need(isinstance(issue_id, int) and issue_id >= 0, "vicalIssueID is not a uint")
    next_update = vical.get("nextUpdate")
    if next_update is not None:
        need(tdate("nextUpdate", next_update) > date, "nextUpdate is not after date")
    infos = vical.get("certificateInfos")
    need(isinstance(infos, list), "certificateInfos is not a list")
    doc_types = set()
    for i, info in enumerate(infos):
        doc_types.update(check_member(i, info, date, problem))

    summary = {
        "ok": True,
        "tagged": tagged,
        "alg": alg_name,
        "vicalProvider": vical["vicalProvider"],
        "vicalIssueID": issue_id,
        "date": date.isoformat(),
        "nextUpdate": next_update.isoformat() if next_update else None,
        "members": len(infos),
        "docTypes": sorted(doc_types),
        "x5chainLength": len(chain),
        "signerSubject": signer.subject.rfc4514_string(),
        "chainVerified": False,
        "membersFound": 0,
        "warnings": warnings,
    }
    if root_pem is not None:
        root = x509.load_pem_x509_certificate(root_pem)
        last = certs[-1]
        need(
            last == root or issued_by(last, root),
            "the x5chain does not end at the root (neither it nor issued by it)",
        )
        summary["chainVerified"] = True
    present = {info["certificate"] for info in infos}
    for pem in member_pems:
        der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
        need(der in present, "a --member certificate is not in certificateInfos")
        summary["membersFound"] += 1
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", help="PEM file of the DTS root certificate")
    parser.add_argument("--member", action="append", default=[], help="PEM of a listed IACA")
    parser.add_argument("--lenient", action="store_true", help="member mismatches as warnings")
    parser.add_argument("file", help="signed VICAL (binary CBOR), or - for stdin")
    args = parser.parse_args()
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else open(args.file, "rb").read()
        root = open(args.root, "rb").read() if args.root else None
        members = [open(m, "rb").read() for m in args.member]
        summary = check(data, root, members, args.lenient)
    except Exception as e:  # noqa: BLE001: every failure is reported the same way
        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}))
        return 1
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
