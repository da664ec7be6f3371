use std::path::Path;
use std::process::Command;

use super::*;

/// Runs tests/data/status_check.py (cbor2 + pycose + zlib + cryptography) on a token this
/// module signs, and tests/data/mdoc_check.py on an mdoc pointing at it. Skips without the
/// venv `scripts/test` makes (`HSM_PKI_PKILINT_BIN`).
#[test]
fn the_independent_checker_reads_our_tokens_and_refuses_a_tampered_one() {
    let Some(bin) = std::env::var_os("HSM_PKI_PKILINT_BIN") else {
        eprintln!("skipped: HSM_PKI_PKILINT_BIN is unset (scripts/test sets it)");
        return;
    };
    let python = Path::new(&bin).join("python");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let dir = tempfile::tempdir().unwrap();
    let run = |script: &str, args: &[&str], name: &str, bytes: &[u8]| -> Json {
        let file = dir.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        let out = Command::new(&python)
            .arg(data.join(script))
            .args(args)
            .arg(&file)
            .output()
            .expect("run the checker");
        let summary: Json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{name}: not JSON ({e}): {}",
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
    let issuer = issuer(Curve::P256);
    let iaca = dir.path().join("iaca.pem");
    std::fs::write(&iaca, issuer.iaca.to_pem().unwrap()).unwrap();
    let iaca_arg = iaca.to_str().unwrap();
    let uri = "https://pki.example.com/v2/credentials/mobile/status-lists/l1/token";

    // An mdoc with its status entry: mdoc_check reports it.
    let mdoc = unsigned(&items())
        .with_status(StatusRef {
            idx: 3,
            uri: uri.into(),
        })
        .unwrap()
        .prepare(std::slice::from_ref(&issuer.ds))
        .unwrap();
    let tbs = mdoc.to_be_signed();
    let sig = crypto::sign(&issuer.ds_key, tbs.signature_algorithm(), tbs.bytes()).unwrap();
    let signed = mdoc.finish(sig.to_fixed()).unwrap();
    let m = run(
        "mdoc_check.py",
        &["--doc-type", MDL, "--iaca", iaca_arg],
        "mdoc",
        signed.encoded().as_bytes(),
    );
    assert_eq!(m["status"], json!({"idx": 3, "uri": uri}), "{m}");

    let mut list = StatusList::new(1, 64).unwrap();
    list.set(3, STATUS_INVALID).unwrap();
    let prepared = build_status_list_token(
        StatusListClaims {
            sub: uri.into(),
            iat: datetime!(2026-03-01 00:00:00 UTC),
            exp: datetime!(2026-03-02 00:00:00 UTC),
            ttl: 600,
        },
        &list,
    )
    .unwrap()
    .prepare(std::slice::from_ref(&issuer.ds))
    .unwrap();
    let sig = crypto::sign(
        &issuer.ds_key,
        prepared.signature_algorithm(),
        prepared.bytes(),
    )
    .unwrap();
    let token = prepared.finish(sig.to_fixed()).unwrap();
    let now = datetime!(2026-03-01 12:00:00 UTC)
        .unix_timestamp()
        .to_string();
    let args = [
        "--iaca", iaca_arg, "--uri", uri, "--now", &now, "--index", "3", "--index", "2",
    ];
    let ok = run("status_check.py", &args, "token", token.bytes());
    assert_eq!(ok["ok"], json!(true), "{ok}");
    assert_eq!(ok["typ"], json!(STATUS_LIST_CWT_TYPE));
    assert_eq!(ok["statuses"], json!({"3": 1, "2": 0}));
    assert_eq!(ok["entries"], json!(64));
    assert_eq!(ok["ttl"], json!(600));
    assert_eq!(ok["chainVerified"], json!(true));

    // Negative controls: a flipped signature bit, a flipped list bit, the untagged message,
    // another uri, a time after exp, an index past the list, another IACA.
    let mut bad_sig = token.bytes().to_vec();
    *bad_sig.last_mut().unwrap() ^= 1;
    let bad = run("status_check.py", &args, "sig", &bad_sig);
    assert!(
        bad["error"].as_str().unwrap().contains("signature"),
        "{bad}"
    );
    let lst = list.compressed();
    let at = token
        .bytes()
        .windows(lst.len())
        .position(|w| w == lst)
        .unwrap();
    let mut bad_lst = token.bytes().to_vec();
    bad_lst[at + 3] ^= 0x10;
    assert_eq!(
        run("status_check.py", &args, "lst", &bad_lst)["ok"],
        json!(false)
    );
    let bad = run("status_check.py", &args, "untagged", &token.bytes()[1..]);
    assert!(bad["error"].as_str().unwrap().contains("tag"), "{bad}");
    let mut other = args.to_vec();
    other[3] = "https://other.example.com/l";
    assert_eq!(
        run("status_check.py", &other, "uri", token.bytes())["ok"],
        json!(false)
    );
    let late = datetime!(2026-03-02 00:00:00 UTC)
        .unix_timestamp()
        .to_string();
    let mut expired = args.to_vec();
    expired[5] = &late;
    assert_eq!(
        run("status_check.py", &expired, "exp", token.bytes())["ok"],
        json!(false)
    );
    let past = ["--index", "64"];
    assert_eq!(
        run("status_check.py", &past, "idx", token.bytes())["ok"],
        json!(false)
    );
    let ds_pem = dir.path().join("ds.pem");
    std::fs::write(&ds_pem, issuer.ds.to_pem().unwrap()).unwrap();
    let wrong = ["--iaca", ds_pem.to_str().unwrap()];
    assert_eq!(
        run("status_check.py", &wrong, "iaca", token.bytes())["ok"],
        json!(false)
    );
}
