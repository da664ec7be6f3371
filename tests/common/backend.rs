//! The token backends the integration tests run on: SoftHSM2 and Kryoptic, two PKCS#11
//! implementations with different storage, locking and error signals, so a SoftHSM quirk
//! cannot pass for PKCS#11. `HSM_PKI_TEST_BACKEND` (`softhsm`, the default, or `kryoptic`)
//! picks one for the whole run; `scripts/test` runs the integration suite once on each.
//!
//! What a test needs of a backend is small: make a token, name its module and the
//! environment variable that points the module at the token, take the token's storage away
//! (an outage) and bring it back, and read its objects from a second process (pkcs11-tool).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Which PKCS#11 implementation a [`TestToken`] lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    SoftHsm,
    Kryoptic,
}

impl Backend {
    /// The backend of this run: `HSM_PKI_TEST_BACKEND`, SoftHSM2 when unset. An unknown name
    /// panics: a typo must not silently test SoftHSM again.
    pub fn from_env() -> Backend {
        match std::env::var("HSM_PKI_TEST_BACKEND").as_deref() {
            Err(_) | Ok("") | Ok("softhsm") => Backend::SoftHsm,
            Ok("kryoptic") => Backend::Kryoptic,
            Ok(other) => panic!("HSM_PKI_TEST_BACKEND={other:?}: use softhsm or kryoptic"),
        }
    }

    /// The PKCS#11 module file.
    pub fn module(self) -> PathBuf {
        match self {
            Backend::SoftHsm => softhsm_module(),
            Backend::Kryoptic => kryoptic_module(),
        }
    }

    /// The environment variable that points the module at its configuration.
    pub fn conf_var(self) -> &'static str {
        match self {
            Backend::SoftHsm => "SOFTHSM2_CONF",
            Backend::Kryoptic => "KRYOPTIC_CONF",
        }
    }
}

/// The SoftHSM2 PKCS#11 module: `HSM_PKI_SOFTHSM_MODULE` (set by scripts/test) or Debian's
/// usual paths.
pub fn softhsm_module() -> PathBuf {
    if let Ok(p) = std::env::var("HSM_PKI_SOFTHSM_MODULE") {
        return PathBuf::from(p);
    }
    for p in [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    ] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("libsofthsm2.so not found: run scripts/test, which installs softhsm2");
}

/// Kryoptic's module: `HSM_PKI_KRYOPTIC_MODULE` (set by scripts/test) or where
/// `scripts/lib.sh`'s `kryoptic_module` builds it, under this worktree's `target/`.
pub fn kryoptic_module() -> PathBuf {
    let p = std::env::var("HSM_PKI_KRYOPTIC_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/kryoptic/libkryoptic_pkcs11.so")
        });
    assert!(
        p.exists(),
        "{} not found: run scripts/test (or `. scripts/lib.sh; kryoptic_module`), which builds it",
        p.display()
    );
    p
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .expect("read /dev/urandom");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A fresh token in a temporary directory, initialised with random PINs (16 hex digits:
/// Kryoptic wants at least 8 characters).
pub struct TestToken {
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    /// The module's configuration file (the value of [`Backend::conf_var`]).
    pub conf: PathBuf,
    /// The directory that holds the token's objects; renaming it is the outage.
    pub store: PathBuf,
    pub label: String,
    pub pin: String,
    pub so_pin: String,
}

impl TestToken {
    /// A token of this run's backend.
    pub fn new(label: &str) -> TestToken {
        Self::with_backend(Backend::from_env(), label, &[])
    }

    /// A token whose module does not offer `withheld` mechanisms (`CKM_...` names), through
    /// each backend's own configuration: SoftHSM's `slots.mechanisms`, Kryoptic's deny list.
    pub fn without_mechanisms(label: &str, withheld: &[&str]) -> TestToken {
        Self::with_backend(Backend::from_env(), label, withheld)
    }

    pub fn with_backend(backend: Backend, label: &str, withheld: &[&str]) -> TestToken {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("tokens");
        std::fs::create_dir_all(&store).unwrap();
        let pin = random_hex(8);
        let so_pin = random_hex(8);
        let conf = match backend {
            Backend::SoftHsm => dir.path().join("softhsm2.conf"),
            Backend::Kryoptic => dir.path().join("kryoptic.conf"),
        };
        let token = TestToken {
            backend,
            dir,
            conf,
            store,
            label: label.to_owned(),
            pin,
            so_pin,
        };
        match backend {
            Backend::SoftHsm => token.init_softhsm(withheld),
            Backend::Kryoptic => token.init_kryoptic(withheld),
        }
        token
    }

    fn init_softhsm(&self, withheld: &[&str]) {
        let template = include_str!("../../hsm-config/softhsm2.conf.template");
        let mut conf = template.replace("@TOKENDIR@", self.store.to_str().unwrap());
        if !withheld.is_empty() {
            // SoftHSM 2.5+: a list prefixed with "-" names the mechanisms disabled. 2.6.1
            // drops the first name after the "-" (measured: "-CKM_A,CKM_B" disables only
            // CKM_B), hence the empty first name.
            conf.push_str(&format!("slots.mechanisms = -,{}\n", withheld.join(",")));
        }
        std::fs::write(&self.conf, conf).unwrap();
        let out = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &self.conf)
            .args(["--init-token", "--free", "--label", &self.label])
            .args(["--so-pin", &self.so_pin, "--pin", &self.pin])
            .output()
            .expect("softhsm2-util not found: run scripts/test, which installs softhsm2");
        assert!(
            out.status.success(),
            "softhsm2-util --init-token failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn init_kryoptic(&self, withheld: &[&str]) {
        let mut conf = format!(
            "[[slots]]\nslot = 1\ndbtype = \"sqlite\"\ndbargs = \"{}\"\n",
            self.store.join("token.sql").display()
        );
        if !withheld.is_empty() {
            let names: Vec<String> = withheld.iter().map(|m| format!("{m:?}")).collect();
            conf.push_str(&format!("mechanisms = [\"DENY\", {}]\n", names.join(", ")));
        }
        std::fs::write(&self.conf, conf).unwrap();
        // The token is initialised like a hardware one: pkcs11-tool, as the SO, then the
        // user PIN.
        self.run_pkcs11_tool(&[
            "--slot",
            "1",
            "--init-token",
            "--label",
            &self.label,
            "--so-pin",
            &self.so_pin,
        ]);
        self.run_pkcs11_tool(&[
            "--token-label",
            &self.label,
            "--login",
            "--login-type",
            "so",
            "--so-pin",
            &self.so_pin,
            "--init-pin",
            "--new-pin",
            &self.pin,
        ]);
    }

    /// A second token in the same module, labelled `label`, with this token's PINs: two
    /// tokens that a label alone cannot tell apart when `label` is this one's.
    pub fn add_token(&self, label: &str) {
        match self.backend {
            Backend::SoftHsm => {
                let out = Command::new("softhsm2-util")
                    .env("SOFTHSM2_CONF", &self.conf)
                    .args(["--init-token", "--free", "--label", label])
                    .args(["--so-pin", &self.so_pin, "--pin", &self.pin])
                    .output()
                    .expect("softhsm2-util");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            Backend::Kryoptic => {
                let mut conf = std::fs::read_to_string(&self.conf).unwrap();
                conf.push_str(&format!(
                    "\n[[slots]]\nslot = 2\ndbtype = \"sqlite\"\ndbargs = \"{}\"\n",
                    self.store.join("token2.sql").display()
                ));
                std::fs::write(&self.conf, conf).unwrap();
                self.run_pkcs11_tool(&[
                    "--slot",
                    "2",
                    "--init-token",
                    "--label",
                    label,
                    "--so-pin",
                    &self.so_pin,
                ]);
                self.run_pkcs11_tool(&[
                    "--slot",
                    "2",
                    "--login",
                    "--login-type",
                    "so",
                    "--so-pin",
                    &self.so_pin,
                    "--init-pin",
                    "--new-pin",
                    &self.pin,
                ]);
            }
        }
    }

    /// CK_TOKEN_INFO.serialNumber of this token, as pkcs11-tool prints it.
    pub fn serial(&self) -> String {
        let out = self.run_pkcs11_tool(&["--token-label", &self.label, "-I", "-T"]);
        out.lines()
            .filter_map(|l| l.trim().strip_prefix("serial num"))
            .map(|l| l.trim_start_matches([' ', ':']).trim().to_owned())
            .next()
            .unwrap_or_else(|| panic!("no serial in: {out}"))
    }

    fn run_pkcs11_tool(&self, args: &[&str]) -> String {
        let out = self
            .pkcs11_tool_bare()
            .args(args)
            .output()
            .expect("pkcs11-tool not found: run scripts/test, which installs opensc");
        assert!(
            out.status.success(),
            "pkcs11-tool {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn pkcs11_tool_bare(&self) -> Command {
        let mut cmd = Command::new("pkcs11-tool");
        cmd.env(self.backend.conf_var(), &self.conf)
            .arg("--module")
            .arg(self.module());
        cmd
    }

    /// OpenSC's pkcs11-tool on this token, logged in as the user: a second, independent
    /// PKCS#11 client in its own process (both backends allow one beside the daemon).
    pub fn pkcs11_tool(&self) -> Command {
        let mut cmd = self.pkcs11_tool_bare();
        cmd.args(["--token-label", &self.label, "--login", "--pin", &self.pin]);
        cmd
    }

    pub fn module(&self) -> PathBuf {
        self.backend.module()
    }

    /// Point this process's module at the token: only for tests that open the token
    /// in-process (one such test per test binary: one PKCS#11 context per process).
    pub fn export_env(&self) {
        // SAFETY: called once at the start of a single-threaded test, before any thread
        // that reads the environment is spawned.
        unsafe { std::env::set_var(self.backend.conf_var(), &self.conf) };
    }

    fn away(&self) -> PathBuf {
        self.store.with_extension("away")
    }

    /// Take the token's storage away: its whole object directory (SoftHSM's tokendir,
    /// Kryoptic's database directory). The daemon must notice within a few probes.
    pub fn take_away(&self) {
        std::fs::rename(&self.store, self.away()).expect("move the token's storage away");
    }

    /// Undo [`TestToken::take_away`].
    pub fn bring_back(&self) {
        std::fs::rename(self.away(), &self.store).expect("move the token's storage back");
    }

    /// The part of the storage whose loss looks like an absent token after a reconnect:
    /// SoftHSM's token subdirectory (the tokendir stays, with an empty slot), Kryoptic's
    /// database file (the directory stays, and C_Initialize makes a new, empty database).
    fn part(&self) -> PathBuf {
        match self.backend {
            Backend::SoftHsm => std::fs::read_dir(&self.store)
                .expect("tokendir")
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.is_dir())
                .expect("token subdirectory"),
            Backend::Kryoptic => self.store.join("token.sql"),
        }
    }

    /// Take [`part`](Self::part) of the storage away, leaving the rest.
    pub fn take_away_partly(&self) {
        let part = self.part();
        std::fs::write(self.dir.path().join("part"), part.to_str().unwrap()).unwrap();
        std::fs::rename(&part, self.dir.path().join("part-away")).expect("move part away");
    }

    /// Undo [`TestToken::take_away_partly`], replacing whatever the module made meanwhile.
    pub fn bring_back_partly(&self) {
        let part = std::fs::read_to_string(self.dir.path().join("part")).unwrap();
        if self.backend == Backend::Kryoptic {
            // Kryoptic's new, empty database (and its journal), made by a reconnect.
            for f in ["token.sql", "token.sql-journal"] {
                let _ = std::fs::remove_file(self.store.join(f));
            }
        }
        std::fs::rename(self.dir.path().join("part-away"), part).expect("move part back");
    }
}
