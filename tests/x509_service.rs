//! The X.509 service over real HTTP (seeds 002 and 004): every request example of the seeds,
//! as printed, against keys this test made; every certificate checked with `openssl verify`,
//! pkilint and our own decoder (each ISO/IEC 18013-5 Annex B extension, criticality and
//! value); the seed's end-to-end bash + jq script run as written.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Daemon, TestToken, assert_lint_clean, call, openssl};
use hsm_pki::x509::{KeyUsageName, MDL_DS_EKU, ParsedCertificate};
use serde_json::{Value, json};

const TENANT: &str = "test.tenant1";
const TARGET: &str = "/v1/test.tenant1.x509-service-1/x509-service-api";

/// pkilint findings accepted on these certificates, each with its reason.
const ACCEPTED: &[&str] = &[
    // None. Add a code here only with a comment saying why it is correct for us.
];

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

struct Env {
    _hsm: TestToken,
    d: Daemon,
    token: String,
    dir: tempfile::TempDir,
}

impl Env {
    fn start(label: &str) -> Env {
        let hsm = TestToken::new(label);
        let d = Daemon::start(&hsm);
        d.wait_status("/readyz", 200, Duration::from_secs(10));
        let token = d.create_token(TENANT, &["issuer"]);
        Env {
            _hsm: hsm,
            d,
            token,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let (s, b) = call(self.d.addr, &self.token, method, path, body);
        let v = if b.is_empty() {
            Value::Null
        } else {
            json_of(&b)
        };
        (s, v)
    }

    fn post(&self, route: &str, body: &str) -> Value {
        let (s, v) = self.call("POST", &format!("{TARGET}/{route}"), Some(body));
        assert_eq!(s, 200, "POST {route}: {v}\n{}", self.d.log_text());
        v
    }

    fn key(&self, name: &str, algorithm: &str) {
        let body = json!({"keyId": name, "algorithm": algorithm}).to_string();
        let (s, v) = self.call("POST", "/v1/keys", Some(&body));
        assert_eq!(s, 201, "{v}");
    }

    fn file(&self, name: &str, pem: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, pem).unwrap();
        p
    }

    /// Rows in the issuance ledger and the store, read from the database directly.
    fn counts(&self) -> (i64, i64) {
        let conn = rusqlite::Connection::open(self.d.db_path()).unwrap();
        let q = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        (
            q("SELECT count(*) FROM issued_certificates"),
            q("SELECT count(*) FROM stored_certificates"),
        )
    }
}

fn cert_of(v: &Value) -> (String, ParsedCertificate) {
    let pem = v["certificatePEM"]
        .as_str()
        .expect("certificatePEM")
        .to_owned();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let parsed = ParsedCertificate::from_pem(pem.as_bytes()).unwrap();
    (pem, parsed)
}

fn assert_stored(v: &Value, id: &str) {
    assert_eq!(
        v["storedCertificateIds"],
        json!([format!("{TENANT}.x509-store-1.{id}")]),
        "{v}"
    );
}

fn verify(ca: &Path, cert: &Path) {
    let (ok, out) = openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        ca.to_str().unwrap(),
        cert.to_str().unwrap(),
    ]);
    assert!(ok, "openssl verify {cert:?} under {ca:?}: {out}");
}

fn lint(cert: &Path) {
    assert_lint_clean("lint_pkix_cert", &[cert], ACCEPTED);
}

fn lint_chain(issuer: &Path, subject: &Path) {
    assert_lint_clean(
        "lint_pkix_signer_signee_cert_chain",
        &[issuer, subject],
        ACCEPTED,
    );
}

/// ISO/IEC 18013-5 Table B.1, extension by extension.
fn assert_iaca_profile(c: &ParsedCertificate, uri: &str) {
    assert!(c.is_self_issued());
    c.verify_signed_by(&c.public_key().unwrap()).unwrap();
    let e = c.ext();
    let bc = e.basic_constraints().unwrap().expect("basicConstraints");
    assert!(bc.critical && bc.value.ca);
    assert_eq!(bc.value.path_len_constraint, Some(0));
    let ku = e.key_usage().unwrap().expect("keyUsage");
    assert!(ku.critical);
    assert_eq!(ku.value, [KeyUsageName::KeyCertSign, KeyUsageName::CrlSign]);
    let ski = e.subject_key_identifier().unwrap().expect("SKI");
    assert_eq!(ski.len(), 20);
    assert_eq!(
        ski,
        hsm_pki::x509::key_identifier(&c.public_key().unwrap()).unwrap()
    );
    assert_eq!(e.authority_key_identifier().unwrap(), Some(ski));
    let ian = e.issuer_alt_names().unwrap().expect("issuerAltName");
    assert!(!ian.critical);
    assert_eq!(ian.value.uris, [uri]);
    assert!(e.extended_key_usage().unwrap().is_none());
    // C is a PrintableString (Table B.1); checked by the IACA validator as well.
    hsm_pki::x509::check_iaca(c, "iaca").unwrap();
    assert!(c.not_after() <= hsm_pki::x509::add_years(c.not_before(), 20));
}

/// Criticality as OpenSSL reads it: an independent decoder.
fn assert_openssl_criticality(path: &Path, critical: &[&str], not_critical: &[&str]) {
    let (ok, text) = openssl(&["x509", "-noout", "-text", "-in", path.to_str().unwrap()]);
    assert!(ok, "{text}");
    for ext in critical {
        assert!(
            text.contains(&format!("{ext}: critical")),
            "{ext} not critical: {text}"
        );
    }
    for ext in not_critical {
        assert!(
            text.contains(&format!("{ext}: \n")),
            "{ext} missing or critical: {text}"
        );
    }
}

/// ISO/IEC 18013-5 Table B.3 against its IACA.
fn assert_ds_profile(ds: &ParsedCertificate, iaca: &ParsedCertificate, crl: &str) {
    let e = ds.ext();
    let ku = e.key_usage().unwrap().expect("keyUsage");
    assert!(ku.critical);
    assert_eq!(ku.value, [KeyUsageName::DigitalSignature]);
    let eku = e.extended_key_usage().unwrap().expect("extKeyUsage");
    assert!(eku.critical);
    assert_eq!(eku.value, [MDL_DS_EKU]);
    assert_eq!(
        e.authority_key_identifier().unwrap(),
        iaca.ext().subject_key_identifier().unwrap()
    );
    assert!(e.subject_key_identifier().unwrap().is_some());
    assert_eq!(
        e.issuer_alt_names().unwrap().unwrap().value,
        iaca.ext().issuer_alt_names().unwrap().unwrap().value
    );
    assert_eq!(e.crl_distribution_uris().unwrap().unwrap(), [crl]);
    assert!(e.basic_constraints().unwrap().is_none_or(|b| !b.value.ca));
    assert_eq!(
        ds.certificate().tbs_certificate().issuer(),
        iaca.certificate().tbs_certificate().subject()
    );
    assert!(ds.not_after() - ds.not_before() <= time::Duration::days(457));
    assert!(ds.not_before() >= iaca.not_before() && ds.not_after() <= iaca.not_after());
    assert_eq!(
        ds.subject().unwrap().country,
        iaca.subject().unwrap().country
    );
    let view = hsm_pki::x509::check_iaca(iaca, "iaca").unwrap();
    hsm_pki::x509::check_document_signer(ds, &view, "ds").unwrap();
}

/// A CSR from OpenSSL with a key OpenSSL made: the "external party" of seed 004.
fn openssl_csr(env: &Env, name: &str, subject: &str) -> String {
    let key = env.dir.path().join(format!("{name}.key"));
    let csr = env.dir.path().join(format!("{name}.csr"));
    let (ok, out) = openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        subject,
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        csr.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    std::fs::read_to_string(csr).unwrap()
}

/// The seed DS and generic-from-CSR examples use an IACA key given by data; issue that
/// IACA here too, so the chain can be verified and the generic issuer has a certificate.
const SETUP_IACA: &str = r#"{
  "storedCertificateId": "iaca-for-ds",
  "certificateData": {
    "country": "US",
    "commonName": "Example IACA",
    "notBefore": "2025-05-28T12:23:01Z",
    "notAfter": "2040-05-24T12:23:01Z",
    "issuerAlternativeNameConf": {
      "uri": "https://iaca.example.com"
    }
  },
  "iacaKeyDesc": {
    "type": "kms-hosted-key-descriptor",
    "keyIdPath": "test.tenant1.kms1.iaca-secp256r1"
  }
}"#;

/// A self-signed CA certificate for `key`, for the seed examples whose issuer is a bare key.
fn setup_root(env: &Env, key: &str, path_len: u8) -> (String, ParsedCertificate) {
    let body = json!({
        "storedCertificateId": format!("setup-{key}"),
        "certificateData": {
            "subjectName": {"commonName": format!("Root {key}"), "country": "US"},
            "isCertificateAuthority": true,
            "pathLengthConstraint": path_len,
            "keyUsage": ["KeyCertSign", "CRLSign"]
        },
        "subjectPublicKeySource": {"type": "key-descriptor", "keyDescriptor": {
            "type": "kms-hosted-key-descriptor", "keyIdPath": format!("test.tenant1.kms1.{key}")}},
        "issuer": {"type": "self-signed"}
    });
    cert_of(&env.post("certificate", &body.to_string()))
}

#[test]
fn seed_examples_issue_verify_and_lint() {
    let env = Env::start("x509-seeds");
    for k in [
        "secp256r1",
        "iaca-secp256r1",
        "ds-secp256r1",
        "leaf-secp256r1",
        "intermediate-secp256r1",
        "root-secp256r1",
        "ca-secp256r1",
    ] {
        env.key(k, "secp256r1");
    }

    // --- seed 002: IACA, as printed -----------------------------------------------------
    let v = env.post(
        "iso/iacas",
        r#"{
  "storedCertificateId": "iaca-prod-2026-q1",
  "certificateData": {
    "country": "US",
    "commonName": "Example IACA",
    "issuerAlternativeNameConf": {
      "uri": "https://iaca.example.com"
    }
  },
  "vicalEntryComplementaryMetadata": {
    "docType": ["org.iso.18013.5.1.mDL"],
    "certificateProfile": ["org.iso.18013.5.1.iaca"]
  },
  "iacaKeyDesc": {
    "type": "kms-hosted-key-descriptor",
    "keyIdPath": "test.tenant1.kms1.secp256r1"
  }
}"#,
    );
    assert_stored(&v, "iaca-prod-2026-q1");
    let data = &v["certificateData"];
    assert_eq!(data["country"], "US");
    assert_eq!(data["commonName"], "Example IACA");
    assert_eq!(
        data["issuerAlternativeNameConf"],
        json!({"uri": "https://iaca.example.com"})
    );
    let (pem, iaca1) = cert_of(&v);
    assert_eq!(data["notBefore"], iaca1_time(&iaca1, true));
    assert_eq!(data["notAfter"], iaca1_time(&iaca1, false));
    // Default validity: 20 years.
    assert_eq!(
        iaca1.not_after(),
        hsm_pki::x509::add_years(iaca1.not_before(), 20)
    );
    assert_iaca_profile(&iaca1, "https://iaca.example.com");
    let iaca1_path = env.file("iaca1.pem", &pem);
    verify(&iaca1_path, &iaca1_path);
    lint(&iaca1_path);
    assert_openssl_criticality(
        &iaca1_path,
        &["X509v3 Basic Constraints", "X509v3 Key Usage"],
        &[
            "X509v3 Subject Key Identifier",
            "X509v3 Authority Key Identifier",
            "X509v3 Issuer Alternative Name",
        ],
    );
    let (ok, text) = openssl(&[
        "x509",
        "-noout",
        "-text",
        "-in",
        iaca1_path.to_str().unwrap(),
    ]);
    assert!(
        ok && text.contains("CA:TRUE, pathlen:0") && text.contains("Certificate Sign, CRL Sign")
    );

    // Every optional IACA field: state, organization, e-mail and URI, CRL distribution point;
    // a P-384 key (SHA-384 signature).
    env.key("iaca-p384", "secp384r1");
    let v = env.post(
        "iso/iacas",
        &json!({"certificateData": {"country": "US", "commonName": "Full IACA",
            "stateOrProvinceName": "US-OH", "organizationName": "Example Org",
            "issuerAlternativeNameConf": {"uri": "https://iaca.example.org", "email": "iaca@example.org"},
            "crlDistributionPointUri": "https://iaca.example.org/crl"},
            "iacaKeyDesc": {"type": "kms-hosted-key-descriptor",
                "keyIdPath": "test.tenant1.kms1.iaca-p384"}})
        .to_string(),
    );
    let (pem, full) = cert_of(&v);
    assert_iaca_profile(&full, "https://iaca.example.org");
    let ian = full.ext().issuer_alt_names().unwrap().unwrap().value;
    assert_eq!(ian.emails, ["iaca@example.org"]);
    assert_eq!(
        full.ext().crl_distribution_uris().unwrap().unwrap(),
        ["https://iaca.example.org/crl"]
    );
    let subject = full.subject().unwrap();
    assert_eq!(subject.state_or_province.as_deref(), Some("US-OH"));
    assert_eq!(subject.organization.as_deref(), Some("Example Org"));
    assert_eq!(
        full.signature_algorithm().unwrap(),
        hsm_pki::crypto::SignatureAlgorithm::EcdsaSha384
    );
    let full_path = env.file("iaca-full.pem", &pem);
    verify(&full_path, &full_path);
    lint(&full_path);
    assert_openssl_criticality(&full_path, &[], &["X509v3 CRL Distribution Points"]);

    // The IACA the DS examples name by data.
    let (pem, iaca2) = cert_of(&env.post("iso/iacas", SETUP_IACA));
    assert_iaca_profile(&iaca2, "https://iaca.example.com");
    let iaca2_path = env.file("iaca2.pem", &pem);
    verify(&iaca2_path, &iaca2_path);
    lint(&iaca2_path);

    // --- seed 002: Document Signer, as printed --------------------------------------------
    let v = env.post(
        "iso/document-signers",
        r#"{
  "storedCertificateId": "ds-mainline-2026-01",
  "iacaSigner": {
    "type": "iaca-cert-data-descriptor",
    "iacaKeyDesc": {
      "type": "kms-hosted-key-descriptor",
      "keyIdPath": "test.tenant1.kms1.iaca-secp256r1"
    },
    "certificateData": {
      "country": "US",
      "commonName": "Example IACA",
      "notBefore": "2025-05-28T12:23:01Z",
      "notAfter": "2040-05-24T12:23:01Z",
      "issuerAlternativeNameConf": {
        "uri": "https://iaca.example.com"
      }
    }
  },
  "certificateData": {
    "country": "US",
    "commonName": "Example DS",
    "crlDistributionPointUri": "https://crl-example.com"
  },
  "dsPublicKeySource": {
    "type": "key-descriptor",
    "keyDescriptor": {
      "type": "kms-hosted-key-descriptor",
      "keyIdPath": "test.tenant1.kms1.ds-secp256r1"
    }
  }
}"#,
    );
    assert_stored(&v, "ds-mainline-2026-01");
    let data = &v["certificateData"];
    assert_eq!(data["commonName"], "Example DS");
    assert_eq!(data["crlDistributionPointUri"], "https://crl-example.com");
    assert!(data["notBefore"].is_string() && data["notAfter"].is_string());
    let (pem, ds1) = cert_of(&v);
    assert_eq!(
        ds1.not_after() - ds1.not_before(),
        time::Duration::days(457)
    );
    assert_ds_profile(&ds1, &iaca2, "https://crl-example.com");
    let ds1_path = env.file("ds1.pem", &pem);
    verify(&iaca2_path, &ds1_path);
    lint(&ds1_path);
    assert_openssl_criticality(
        &ds1_path,
        &["X509v3 Key Usage", "X509v3 Extended Key Usage"],
        &[
            "X509v3 Subject Key Identifier",
            "X509v3 Authority Key Identifier",
            "X509v3 Issuer Alternative Name",
            "X509v3 CRL Distribution Points",
        ],
    );
    lint_chain(&iaca2_path, &ds1_path);

    // --- seed 004: Document Signer from a CSR (an OpenSSL-made key and CSR) ----------------
    let ds_csr = openssl_csr(&env, "ds", "/C=US/CN=Example DS");
    let body = r#"{
  "storedCertificateId": "ds-from-csr-2026-01",
  "iacaSigner": {
    "type": "iaca-cert-data-descriptor",
    "iacaKeyDesc": {
      "type": "kms-hosted-key-descriptor",
      "keyIdPath": "test.tenant1.kms1.iaca-secp256r1"
    },
    "certificateData": {
      "country": "US",
      "commonName": "Example IACA",
      "notBefore": "2025-05-28T12:23:01Z",
      "notAfter": "2040-05-24T12:23:01Z",
      "issuerAlternativeNameConf": {
        "uri": "https://iaca.example.com"
      }
    }
  },
  "certificateData": {
    "country": "US",
    "commonName": "Example DS",
    "crlDistributionPointUri": "https://crl-example.com"
  },
  "dsPublicKeySource": {
    "type": "csr",
    "csrPEM": @CSR@
  }
}"#
    .replace("@CSR@", &json!(ds_csr).to_string());
    let v = env.post("iso/document-signers", &body);
    assert_stored(&v, "ds-from-csr-2026-01");
    let (pem, ds2) = cert_of(&v);
    assert_ds_profile(&ds2, &iaca2, "https://crl-example.com");
    let ds2_path = env.file("ds2.pem", &pem);
    verify(&iaca2_path, &ds2_path);
    lint(&ds2_path);
    lint_chain(&iaca2_path, &ds2_path);

    // The same IACA by PEM (iaca-pem-cert-descriptor).
    let body = json!({
        "iacaSigner": {"type": "iaca-pem-cert-descriptor",
            "iacaKeyDesc": {"type": "kms-hosted-key-descriptor",
                "keyIdPath": "test.tenant1.kms1.iaca-secp256r1"},
            "certificatePEM": std::fs::read_to_string(&iaca2_path).unwrap()},
        "certificateData": {"country": "US", "commonName": "Example DS 3",
            "localityName": "Austin", "organizationName": "Example DS Org",
            "crlDistributionPointUri": "https://crl-example.com"},
        "dsKeyDescriptor": {"type": "kms-hosted-key-descriptor",
            "keyIdPath": "test.tenant1.kms1.ds-secp256r1"}
    });
    let v = env.post("iso/document-signers", &body.to_string());
    let (pem, ds3) = cert_of(&v);
    // No storedCertificateId: a UUID.
    let id = v["storedCertificateIds"][0].as_str().unwrap();
    let uuid = id.strip_prefix("test.tenant1.x509-store-1.").unwrap();
    assert_eq!(uuid.len(), 36, "{id}");
    assert_ds_profile(&ds3, &iaca2, "https://crl-example.com");
    let ds3_path = env.file("ds3.pem", &pem);
    verify(&iaca2_path, &ds3_path);
    lint(&ds3_path);
    lint_chain(&iaca2_path, &ds3_path);

    // --- seed 002: generic self-signed leaf, as printed ------------------------------------
    let v = env.post(
        "certificate",
        r#"{
  "storedCertificateId": "generic-leaf-01",
  "certificateData": {
    "subjectName": {
      "commonName": "Example Leaf",
      "country": "US",
      "organizationName": "Example Org"
    },
    "isCertificateAuthority": false,
    "keyUsage": ["DigitalSignature"]
  },
  "subjectPublicKeySource": {
    "type": "key-descriptor",
    "keyDescriptor": {
      "type": "kms-hosted-key-descriptor",
      "keyIdPath": "test.tenant1.kms1.leaf-secp256r1"
    }
  },
  "issuer": {
    "type": "self-signed"
  }
}"#,
    );
    assert_stored(&v, "generic-leaf-01");
    let data = &v["certificateData"];
    let name =
        json!({"commonName": "Example Leaf", "country": "US", "organizationName": "Example Org"});
    assert_eq!(data["subjectName"], name);
    assert_eq!(data["issuerName"], name);
    assert_eq!(data["isCertificateAuthority"], false);
    assert_eq!(data["keyUsage"], json!(["DigitalSignature"]));
    assert_eq!(data["publicKeyJwk"]["kty"], "EC");
    assert_eq!(data["publicKeyJwk"]["crv"], "P-256");
    assert!(data["publicKeyJwk"]["x"].is_string() && data["publicKeyJwk"]["y"].is_string());
    let (pem, leaf) = cert_of(&v);
    assert_eq!(
        leaf.not_after() - leaf.not_before(),
        time::Duration::days(365)
    );
    let leaf_path = env.file("leaf.pem", &pem);
    lint(&leaf_path);
    // A self-signed end-entity certificate: its own signature verifies.
    leaf.verify_signed_by(&leaf.public_key().unwrap()).unwrap();
    let (ok, out) = openssl(&[
        "verify",
        "-partial_chain",
        "-CAfile",
        leaf_path.to_str().unwrap(),
        leaf_path.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");

    // --- seed 002: generic CA-signed intermediate, as printed ------------------------------
    let (root_pem, _) = setup_root(&env, "root-secp256r1", 1);
    let root_path = env.file("root.pem", &root_pem);
    lint(&root_path);
    let v = env.post(
        "certificate",
        r#"{
  "storedCertificateId": "generic-intermediate-01",
  "certificateData": {
    "subjectName": {
      "commonName": "Example Intermediate CA",
      "country": "US"
    },
    "isCertificateAuthority": true,
    "pathLengthConstraint": 0,
    "keyUsage": ["KeyCertSign", "CRLSign"]
  },
  "subjectPublicKeySource": {
    "type": "key-descriptor",
    "keyDescriptor": {
      "type": "kms-hosted-key-descriptor",
      "keyIdPath": "test.tenant1.kms1.intermediate-secp256r1"
    }
  },
  "issuer": {
    "type": "ca-signed",
    "issuerKeyDescriptor": {
      "type": "kms-hosted-key-descriptor",
      "keyIdPath": "test.tenant1.kms1.root-secp256r1"
    }
  }
}"#,
    );
    assert_stored(&v, "generic-intermediate-01");
    assert_eq!(v["certificateData"]["isCertificateAuthority"], true);
    assert_eq!(v["certificateData"]["pathLengthConstraint"], 0);
    assert_eq!(
        v["certificateData"]["issuerName"],
        json!({"commonName": "Root root-secp256r1", "country": "US"})
    );
    let (pem, _) = cert_of(&v);
    let inter_path = env.file("intermediate.pem", &pem);
    verify(&root_path, &inter_path);
    lint(&inter_path);
    lint_chain(&root_path, &inter_path);

    // --- seed 004: generic CSR, as printed ---------------------------------------------------
    let v = env.post(
        "csrs",
        r#"{
  "type": "generic",
  "subjectKeyDescriptor": {
    "type": "kms-hosted-key-descriptor",
    "keyIdPath": "test.tenant1.kms1.leaf-secp256r1"
  },
  "subjectName": {
    "commonName": "Example Leaf",
    "country": "US",
    "organizationName": "Example Org"
  },
  "subjectAlternativeNames": {
    "dnsNames": ["leaf.example.com"]
  }
}"#,
    );
    let csr_pem = v["csrPEM"].as_str().unwrap().to_owned();
    assert!(csr_pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
    assert_eq!(
        v["csrData"]["subjectName"],
        json!({"commonName": "Example Leaf", "country": "US", "organizationName": "Example Org"})
    );
    assert_eq!(
        v["csrData"]["subjectAlternativeNames"],
        json!({"dnsNames": ["leaf.example.com"]})
    );
    assert_eq!(v["csrData"]["publicKeyJwk"], data_jwk(&leaf));
    let csr_path = env.file("leaf.csr", &csr_pem);
    let (ok, out) = openssl(&[
        "req",
        "-verify",
        "-noout",
        "-in",
        csr_path.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");

    // --- seed 004: generic certificate from that CSR ---------------------------------------
    let body = r#"{
  "storedCertificateId": "generic-leaf-from-csr",
  "certificateData": {
    "subjectName": {
      "commonName": "Example Leaf From CSR",
      "country": "US"
    },
    "keyUsage": ["DigitalSignature"]
  },
  "subjectPublicKeySource": {
    "type": "csr",
    "csrPEM": @CSR@
  },
  "issuer": {
    "type": "ca-signed",
    "issuerKeyDescriptor": {
      "type": "kms-hosted-key-descriptor",
      "keyIdPath": "test.tenant1.kms1.@ISSUER@"
    }
  }
}"#
    .replace("@CSR@", &json!(csr_pem).to_string());
    // Key purposes: an IACA key signs only Document Signer certificates, and a Document
    // Signer key no certificate at all; either as a generic issuer is a 400 naming the key,
    // and nothing is issued.
    for refused in ["iaca-secp256r1", "ds-secp256r1"] {
        let b = body.replace("@ISSUER@", refused);
        let (s, v) = env.call("POST", &format!("{TARGET}/certificate"), Some(&b));
        assert_eq!(s, 400, "{refused}: {v}");
        assert_eq!(
            v["details"][0]["param"], "issuer.issuerKeyDescriptor.keyIdPath",
            "{v}"
        );
        let (s, _) = env.call(
            "GET",
            "/v1/test.tenant1.x509-store-1/x509-store-api/certificates/\
             test.tenant1.x509-store-1.generic-leaf-from-csr",
            None,
        );
        assert_eq!(s, 404, "{refused}: a refused request stored a certificate");
    }
    let v = env.post("certificate", &body.replace("@ISSUER@", "root-secp256r1"));
    assert_stored(&v, "generic-leaf-from-csr");
    assert_eq!(v["certificateData"]["publicKeyJwk"], data_jwk(&leaf));
    let (pem, _) = cert_of(&v);
    let from_csr_path = env.file("from-csr.pem", &pem);
    verify(&root_path, &from_csr_path);
    lint(&from_csr_path);
    lint_chain(&root_path, &from_csr_path);

    // --- seed 004: the ISO Document Signer CSR type ----------------------------------------
    let v = env.post(
        "csrs",
        &json!({"type": "iso-document-signer",
            "subjectKeyDescriptor": {"type": "kms-hosted-key-descriptor",
                "keyIdPath": "test.tenant1.kms1.ds-secp256r1"},
            "subjectName": {"commonName": "Example DS", "country": "US"}})
        .to_string(),
    );
    let p = env.file("ds.csr", v["csrPEM"].as_str().unwrap());
    let (ok, out) = openssl(&[
        "req",
        "-verify",
        "-noout",
        "-text",
        "-in",
        p.to_str().unwrap(),
    ]);
    assert!(
        ok && out.contains("1.0.18013.5.1.2") && out.contains("Digital Signature"),
        "{out}"
    );

    // --- seed 004: the end-to-end bash + jq script, as written -----------------------------
    let (ca_pem, _) = setup_root(&env, "ca-secp256r1", 0);
    let ca_path = env.file("ca.pem", &ca_pem);
    let out = run_seed_script(&env);
    let v = json_of(&out);
    let (pem, e2e) = cert_of(&v);
    assert_eq!(v["storedCertificateIds"].as_array().unwrap().len(), 1);
    assert_eq!(
        e2e.subject().unwrap().common_name.as_deref(),
        Some("Example Leaf")
    );
    assert_eq!(v["certificateData"]["publicKeyJwk"], data_jwk(&leaf));
    let e2e_path = env.file("e2e.pem", &pem);
    verify(&ca_path, &e2e_path);
    lint(&e2e_path);
    lint_chain(&ca_path, &e2e_path);

    // --- the store API --------------------------------------------------------------------
    let store = "/v1/test.tenant1.x509-store-1/x509-store-api/certificates";
    let (s, all) = env.call("GET", &format!("{store}/ids?limit=1000"), None);
    assert_eq!(s, 200, "{all}");
    let ids: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 12, "{ids:?}");
    assert_eq!(ids[0], "test.tenant1.x509-store-1.iaca-prod-2026-q1");
    // Pages of 5: 5 + 5 + 2, the same ids in the same order.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => format!("{store}?limit=5"),
            Some(c) => format!("{store}?limit=5&cursor={c}"),
        };
        let (s, page) = env.call("GET", &path, None);
        assert_eq!(s, 200, "{page}");
        for c in page["data"].as_array().unwrap() {
            paged.push(c["storedCertificateId"].as_str().unwrap().to_owned());
        }
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, ids);
    let first = format!("{store}/test.tenant1.x509-store-1.iaca-prod-2026-q1");
    let (s, one) = env.call("GET", &first, None);
    assert_eq!(s, 200, "{one}");
    assert_eq!(one["type"], "vical-entry");
    assert_eq!(
        one["vicalEntryComplementaryMetadata"],
        json!({"docType": ["org.iso.18013.5.1.mDL"], "certificateProfile": ["org.iso.18013.5.1.iaca"]})
    );
    assert_eq!(one["fingerprintSha256"], iaca1.fingerprint_sha256());
    let (s, ds) = env.call(
        "GET",
        &format!("{store}/test.tenant1.x509-store-1.ds-mainline-2026-01"),
        None,
    );
    assert_eq!(s, 200);
    assert_eq!(ds["type"], "base");
    assert_eq!(
        ds["certificatePEM"],
        std::fs::read_to_string(&ds1_path).unwrap()
    );
    let (ledger, stored) = env.counts();
    assert_eq!((ledger, stored), (12, 12));
    let (s, _) = env.call("DELETE", &first, None);
    assert_eq!(s, 204);
    let (s, _) = env.call("GET", &first, None);
    assert_eq!(s, 404);
    let (s, _) = env.call("DELETE", &first, None);
    assert_eq!(s, 404);
    // The ledger keeps what was issued; the store forgets it.
    assert_eq!(env.counts(), (12, 11));
    // Another tenant sees neither the store nor the certificates.
    let other = env.d.create_token("test.tenant2", &["issuer", "admin"]);
    for path in [
        format!("{store}/ids"),
        format!("{store}/test.tenant1.x509-store-1.ds-mainline-2026-01"),
    ] {
        let (s, b) = call(env.d.addr, &other, "GET", &path, None);
        assert_eq!(s, 404, "{path}: {b}");
    }
    let (s, b) = call(
        env.d.addr,
        &other,
        "POST",
        &format!("{TARGET}/iso/iacas"),
        Some(SETUP_IACA),
    );
    assert_eq!(s, 404, "{b}");
    // Audit: each issuance committed START and SUCCESS.
    let admin = env.d.create_token(TENANT, &["admin"]);
    let (s, b) = call(
        env.d.addr,
        &admin,
        "GET",
        "/v1/audit-events?event=X509_IACA_CERTIFICATE_CREATE_SUCCESS",
        None,
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(json_of(&b)["data"].as_array().unwrap().len(), 3, "{b}");
}

fn iaca1_time(c: &ParsedCertificate, before: bool) -> String {
    let t = if before {
        c.not_before()
    } else {
        c.not_after()
    };
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn data_jwk(c: &ParsedCertificate) -> Value {
    serde_json::to_value(c.public_key().unwrap().to_jwk()).unwrap()
}

/// Seed 004's "End-to-end CSR workflow example", byte for byte, with only the host, the
/// target and the token substituted (the keyIdPaths name keys this test made).
const SEED_SCRIPT: &str = r#"# Step 1: Create a CSR
CSR_RESPONSE=$(curl -s -X 'POST' \
  'https://{orgID}.enterprise-sandbox.waltid.dev/v1/{target}/x509-service-api/csrs' \
  -H 'accept: application/json' \
  -H 'Authorization: Bearer {yourToken}' \
  -H 'Content-Type: application/json' \
  -d '{
  "type": "generic",
  "subjectKeyDescriptor": {
    "type": "kms-hosted-key-descriptor",
    "keyIdPath": "test.tenant1.kms1.leaf-secp256r1"
  },
  "subjectName": {
    "commonName": "Example Leaf",
    "country": "US"
  }
}')

# Extract the CSR PEM (requires jq)
CSR_PEM=$(echo "$CSR_RESPONSE" | jq -r '.csrPEM')

# Step 2: Create a certificate from the CSR
curl -X 'POST' \
  'https://{orgID}.enterprise-sandbox.waltid.dev/v1/{target}/x509-service-api/certificate' \
  -H 'accept: application/json' \
  -H 'Authorization: Bearer {yourToken}' \
  -H 'Content-Type: application/json' \
  -d "{
  \"certificateData\": {
    \"subjectName\": {
      \"commonName\": \"Example Leaf\",
      \"country\": \"US\"
    },
    \"keyUsage\": [\"DigitalSignature\"]
  },
  \"subjectPublicKeySource\": {
    \"type\": \"csr\",
    \"csrPEM\": $(echo "$CSR_PEM" | jq -Rs .)
  },
  \"issuer\": {
    \"type\": \"ca-signed\",
    \"issuerKeyDescriptor\": {
      \"type\": \"kms-hosted-key-descriptor\",
      \"keyIdPath\": \"test.tenant1.kms1.ca-secp256r1\"
    }
  }
}"
"#;

fn run_seed_script(env: &Env) -> String {
    let script = SEED_SCRIPT
        .replace(
            "https://{orgID}.enterprise-sandbox.waltid.dev",
            &format!("http://{}", env.d.addr),
        )
        .replace("{target}", "test.tenant1.x509-service-1")
        .replace("{yourToken}", &env.token);
    let path = env.dir.path().join("seed-004-e2e.sh");
    std::fs::write(&path, format!("set -euo pipefail\n{script}")).unwrap();
    let out = std::process::Command::new("bash")
        .arg(&path)
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "seed script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
