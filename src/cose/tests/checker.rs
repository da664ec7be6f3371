use std::path::Path;
use std::process::Command;

use super::*;

/// Runs tests/data/mdoc_check.py (cbor2 + pycose) on what this module signs. Needs the venv
/// `scripts/test` makes (`HSM_PKI_PKILINT_BIN`, with cbor2 and pycose), and skips without it.
#[test]
fn the_independent_checker_accepts_our_mdocs_and_refuses_flipped_bytes() {
    let Some(bin) = std::env::var_os("HSM_PKI_PKILINT_BIN") else {
        eprintln!(
            "skipped: HSM_PKI_PKILINT_BIN is unset (scripts/test sets it to the venv holding \
             cbor2 and pycose)"
        );
        return;
    };
    let python = Path::new(&bin).join("python");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mdoc_check.py");
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, issuer_signed: &[u8], doc_type: &str, iaca: Option<&Path>| {
        let file = dir.path().join(name);
        std::fs::write(&file, Base64UrlUnpadded::encode_string(issuer_signed)).unwrap();
        let mut cmd = Command::new(&python);
        cmd.arg(&script).args(["--doc-type", doc_type]);
        if let Some(iaca) = iaca {
            cmd.arg("--iaca").arg(iaca);
        }
        let out = cmd.arg(&file).output().expect("run mdoc_check.py");
        let summary: Json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{name}: not JSON ({e}): {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        assert_eq!(
            out.status.success(),
            summary["ok"] == json!(true),
            "{summary}"
        );
        summary
    };

    for (curve, alg) in [
        (Curve::P256, "ES256"),
        (Curve::P384, "ES384"),
        (Curve::P521, "ES512"),
    ] {
        let issuer = issuer(curve);
        let iaca = dir.path().join("iaca.pem");
        std::fs::write(&iaca, issuer.iaca.to_pem().unwrap()).unwrap();
        let signed = sign(&issuer, &items());
        let bytes = signed.bytes();

        let ok = run("good", bytes, MDL, Some(&iaca));
        assert_eq!(ok["ok"], json!(true), "{alg}: {ok}");
        assert_eq!(ok["alg"], json!(alg));
        assert_eq!(ok["digestsChecked"], json!(10));
        assert_eq!(ok["undisclosedDigests"], json!(0));
        assert_eq!(ok["chainVerified"], json!(true));

        // Negative controls: one bit inside an IssuerSignedItem (its salt), one inside the
        // signature (the last byte of the IssuerSigned), the wrong docType, another IACA.
        let salt = Base64::decode_vec(
            signed.decoded()["namespaces"][MDL_NS][0]["random"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        let at = bytes.windows(salt.len()).position(|w| w == salt).unwrap();
        let mut item_flipped = bytes.to_vec();
        item_flipped[at + 7] ^= 0x01;
        let bad = run("item", &item_flipped, MDL, Some(&iaca));
        assert!(bad["error"].as_str().unwrap().contains("digest"), "{bad}");

        let mut sig_flipped = bytes.to_vec();
        *sig_flipped.last_mut().unwrap() ^= 0x01;
        let bad = run("sig", &sig_flipped, MDL, Some(&iaca));
        assert!(
            bad["error"].as_str().unwrap().contains("signature"),
            "{bad}"
        );

        let bad = run("doctype", bytes, "org.iso.23220.photoid.1", Some(&iaca));
        assert_eq!(bad["ok"], json!(false));

        let other = dir.path().join("other.pem");
        std::fs::write(&other, issuer.ds.to_pem().unwrap()).unwrap();
        let bad = run("other-iaca", bytes, MDL, Some(&other));
        assert!(bad["error"].as_str().unwrap().contains("IACA"), "{bad}");
    }
    // And the checker agrees with the standard's own example.
    let annex_d = run("annex-d", ANNEX_D, MDL, None);
    assert_eq!(annex_d["digestsChecked"], json!(6), "{annex_d}");
}
