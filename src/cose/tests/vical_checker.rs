use std::path::{Path, PathBuf};
use std::process::Command;

use super::vical::{AAMVA, AUSTROADS, Dts, dts, iaca, members, root, sign_vical, spec};
use super::*;
use crate::cose::sign1::Draft;

/// Runs tests/data/vical_check.py (cbor2 + pycose + cryptography) on what this module signs
/// and on the published VICALs. Needs the venv `scripts/test` makes (`HSM_PKI_PKILINT_BIN`),
/// and skips without it.
#[test]
fn the_independent_checker_accepts_our_vicals_and_refuses_broken_ones() {
    let Some(bin) = std::env::var_os("HSM_PKI_PKILINT_BIN") else {
        eprintln!(
            "skipped: HSM_PKI_PKILINT_BIN is unset (scripts/test sets it to the venv holding \
             cbor2 and pycose)"
        );
        return;
    };
    let python = Path::new(&bin).join("python");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/vical_check.py");
    let dir = tempfile::tempdir().unwrap();
    let pem = |name: &str, cert: &ParsedCertificate| -> PathBuf {
        let file = dir.path().join(name);
        std::fs::write(&file, cert.to_pem().unwrap()).unwrap();
        file
    };
    let run = |name: &str, vical: &[u8], args: &[&Path]| -> Json {
        let file = dir.path().join(name);
        std::fs::write(&file, vical).unwrap();
        let out = Command::new(&python)
            .arg(&script)
            .args(args)
            .arg(&file)
            .output()
            .expect("run vical_check.py");
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
    let error = |s: &Json| s["error"].as_str().unwrap_or_default().to_owned();

    let members = members();
    let member_files: Vec<PathBuf> = members
        .iter()
        .enumerate()
        .map(|(i, m)| pem(&format!("member{i}.pem"), &m.certificate))
        .collect();
    for (curve, alg) in [(Curve::P256, "ES256"), (Curve::P521, "ES512")] {
        let d = dts(curve);
        let root_file = pem("root.pem", &d.root);
        for x5chain in [
            vec![d.signer.clone()],
            vec![d.signer.clone(), d.root.clone()],
        ] {
            let signed = sign_with(&d, &x5chain, &members);
            let mut args: Vec<&Path> = vec![Path::new("--root"), &root_file];
            for f in &member_files {
                args.extend([Path::new("--member"), f.as_path()]);
            }
            let ok = run("good.cbor", signed.bytes(), &args);
            assert_eq!(ok["ok"], json!(true), "{alg}: {ok}");
            assert_eq!(ok["alg"], json!(alg));
            assert_eq!(ok["tagged"], json!(false));
            assert_eq!(ok["members"], json!(3));
            assert_eq!(ok["membersFound"], json!(3));
            assert_eq!(ok["chainVerified"], json!(true));
            assert_eq!(ok["x5chainLength"], json!(x5chain.len()));
            assert_eq!(ok["vicalIssueID"], json!(7));
            assert_eq!(ok["warnings"], json!([]));
        }
    }

    // Negative controls, each alone: a flipped signature byte, a flipped payload byte, the
    // wrong root, a member that is not listed, a ski that is not the certificate's (in a
    // VICAL signed properly, which the builder would not have made).
    let d = dts(Curve::P256);
    let root_file = pem("root.pem", &d.root);
    let signed = sign_vical(&d, std::slice::from_ref(&d.signer));
    let mut flipped = signed.bytes().to_vec();
    *flipped.last_mut().unwrap() ^= 1;
    let bad = run("sig.cbor", &flipped, &[]);
    assert!(error(&bad).contains("signature"), "{bad}");

    // The first letter of vicalProvider's value, after the key's text.
    let at = signed
        .bytes()
        .windows(13)
        .position(|w| w == b"vicalProvider")
        .unwrap();
    let mut flipped = signed.bytes().to_vec();
    flipped[at + 14] ^= 0x20;
    let bad = run("payload.cbor", &flipped, &[]);
    assert!(error(&bad).contains("signature"), "{bad}");

    let other_root = pem("other-root.pem", &root(32).0);
    let bad = run(
        "root.cbor",
        signed.bytes(),
        &[Path::new("--root"), &other_root],
    );
    assert!(error(&bad).contains("root"), "{bad}");

    let stranger = pem("stranger.pem", &iaca(77, None, 2026, 2036));
    let bad = run(
        "member.cbor",
        signed.bytes(),
        &[
            Path::new("--root"),
            &root_file,
            Path::new("--member"),
            &stranger,
        ],
    );
    assert!(error(&bad).contains("not in certificateInfos"), "{bad}");

    let mut vical: Value = ciborium::de::from_reader(signed.payload()).unwrap();
    let infos = vical.as_map_mut().unwrap().last_mut().unwrap();
    let info = infos.1.as_array_mut().unwrap()[1].as_map_mut().unwrap();
    info[2].1 = Value::Bytes(vec![0x5a; 20]);
    let forged = resign(&d, &encode(&vical));
    let bad = run("ski.cbor", &forged, &[]);
    assert!(error(&bad).contains("ski"), "{bad}");
    let lenient = run("ski.cbor", &forged, &[Path::new("--lenient")]);
    assert_eq!(
        lenient["warnings"].as_array().unwrap().len(),
        1,
        "{lenient}"
    );

    // The published VICALs: AAMVA's DER-wrapped ski fails the strict check, both pass
    // leniently (with the disagreements as warnings), Austroads' chains to its root.
    let bad = run("aamva.cbor", AAMVA, &[]);
    assert!(error(&bad).contains("ski"), "{bad}");
    let aamva = run("aamva.cbor", AAMVA, &[Path::new("--lenient")]);
    assert_eq!(aamva["members"], json!(13), "{aamva}");
    assert_eq!(aamva["x5chainLength"], json!(3));
    assert_eq!(aamva["warnings"].as_array().unwrap().len(), 38, "{aamva}");
    let austroads_root =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/vical/austroads-root.pem");
    let austroads = run(
        "austroads.cbor",
        AUSTROADS,
        &[Path::new("--lenient"), Path::new("--root"), &austroads_root],
    );
    assert_eq!(austroads["members"], json!(40), "{austroads}");
    assert_eq!(austroads["chainVerified"], json!(true));
}

/// [`sign_vical`] for other members.
fn sign_with(dts: &Dts, x5chain: &[ParsedCertificate], members: &[VicalMember]) -> SignedVical {
    let prepared = build_vical(&spec(), members)
        .unwrap()
        .prepare(x5chain)
        .unwrap();
    let sig = crypto::sign(
        &dts.signer_key,
        prepared.signature_algorithm(),
        prepared.bytes(),
    )
    .unwrap();
    prepared.finish(sig.to_fixed()).unwrap()
}

/// A COSE_Sign1 over `payload` as it is, properly signed by the VICAL signer: for a VICAL
/// the builder would refuse to make.
fn resign(dts: &Dts, payload: &[u8]) -> Vec<u8> {
    let draft = Draft::new(payload.to_vec(), std::slice::from_ref(&dts.signer), "test").unwrap();
    let sig = crypto::sign(&dts.signer_key, draft.signature_algorithm(), draft.tbs()).unwrap();
    draft.complete(sig.to_fixed(), "test").unwrap().1
}
