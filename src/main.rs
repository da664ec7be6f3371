//! The `hsm-pki` binary: a thin command line over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hsm_pki::config::Config;
use hsm_pki::service::auth::{self, Role};
use hsm_pki::service::now_rfc3339;
use hsm_pki::store::Store;

/// mimalloc instead of glibc's malloc: under load glibc's allocator (malloc, free and
/// `malloc_consolidate`, with its arena locks) was 12% of the daemon's CPU per request;
/// mimalloc's per-thread free lists cost a fraction of that and hold RSS steady. Measured
/// in ARCHITECTURE.md's decision log.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "hsm-pki",
    version,
    about = "PKI daemon whose private keys never leave a PKCS#11 token"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP daemon until SIGTERM or Ctrl-C.
    Serve {
        #[arg(long, default_value = "hsm-config/hsm-pki.toml")]
        config: PathBuf,
    },
    /// Validate a configuration file and exit.
    CheckConfig {
        #[arg(long, default_value = "hsm-config/hsm-pki.toml")]
        config: PathBuf,
    },
    /// The PKCS#11 token itself.
    Token {
        #[command(subcommand)]
        command: HsmTokenCommand,
    },
    /// Manage API tokens (works beside a running daemon).
    ApiToken {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Tenant settings (works beside a running daemon).
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// TLS tools.
    Tls {
        #[command(subcommand)]
        command: TlsCommand,
    },
}

#[derive(Subcommand)]
enum TlsCommand {
    /// Make (or reuse) the TLS server key in the token and write a self-signed certificate
    /// for localhost to `--out`; then set `[server.tls] certificate_chain = <out>` and
    /// `key_label = "hsm-pki.tls-server-key"`. For trying TLS locally.
    DevCert {
        #[arg(long, default_value = "hsm-config/hsm-pki.toml")]
        config: PathBuf,
        #[arg(long, default_value = "var/tls-dev-cert.pem")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Set a tenant's certificate defaults (the tenant is created if new): the domain names
    /// managed roots ("<domain> DTS CA"), the country fills in a root's C, the issuer
    /// alternative name (a URI and/or an e-mail address) fills in a managed root's
    /// issuerAltName when a request has no `issuerAlternativeNameConf`.
    Set {
        #[arg(long, default_value = "hsm-config/hsm-pki.toml")]
        config: PathBuf,
        #[arg(long)]
        tenant: String,
        /// e.g. `example.com`.
        #[arg(long)]
        domain: Option<String>,
        /// ISO 3166-1 alpha-2, e.g. `NZ`.
        #[arg(long)]
        country: Option<String>,
        /// issuerAltName URI of managed roots, e.g. `https://pki.example.com`.
        #[arg(long)]
        issuer_alt_uri: Option<String>,
        /// issuerAltName e-mail address of managed roots, e.g. `pki@example.com`.
        #[arg(long)]
        issuer_alt_email: Option<String>,
    },
}

fn tenant_command(cmd: TenantCommand) -> Result<(), String> {
    match cmd {
        TenantCommand::Set {
            config,
            tenant,
            domain,
            country,
            issuer_alt_uri,
            issuer_alt_email,
        } => {
            if !auth::valid_tenant_id(&tenant) {
                return Err(format!(
                    "--tenant {tenant:?}: must be {{org}}.{{tenant}}, lowercase letters, digits, '-'"
                ));
            }
            if domain.is_none()
                && country.is_none()
                && issuer_alt_uri.is_none()
                && issuer_alt_email.is_none()
            {
                return Err(
                    "give one or more of --domain, --country, --issuer-alt-uri, --issuer-alt-email"
                        .into(),
                );
            }
            // The same rules as a request's issuerAlternativeNameConf (RFC 5280 4.2.1.6).
            if let Some(u) = &issuer_alt_uri {
                hsm_pki::x509::check_uri(u, "--issuer-alt-uri")
                    .map_err(|e| format!("--issuer-alt-uri {u:?}: {e}"))?;
            }
            if let Some(m) = &issuer_alt_email {
                hsm_pki::x509::check_email(m, "--issuer-alt-email")
                    .map_err(|e| format!("--issuer-alt-email {m:?}: {e}"))?;
            }
            if let Some(d) = &domain {
                // The domain becomes part of a PrintableString commonName.
                let ok = !d.is_empty()
                    && d.len() <= 50
                    && d.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
                if !ok {
                    return Err(format!(
                        "--domain {d:?}: must be a DNS name of at most 50 characters"
                    ));
                }
            }
            if let Some(c) = &country
                && !hsm_pki::x509::is_iso3166_alpha2(c)
            {
                return Err(format!(
                    "--country {c:?}: must be an ISO 3166-1 alpha-2 code (e.g. NZ)"
                ));
            }
            let store = open_store(&config)?;
            store
                .set_tenant_defaults(
                    &tenant,
                    domain.as_deref(),
                    country.as_deref(),
                    issuer_alt_uri.as_deref(),
                    issuer_alt_email.as_deref(),
                    &now_rfc3339(),
                )
                .map_err(|e| e.to_string())?;
            eprintln!("tenant {tenant} updated");
            Ok(())
        }
    }
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token for a tenant (created if new); prints the token once on stdout.
    Create {
        #[arg(long, default_value = "hsm-config/hsm-pki.toml")]
        config: PathBuf,
        /// `{org}.{tenant}`, e.g. `test.tenant1`.
        #[arg(long)]
        tenant: String,
        /// admin, dts-provider, holder, issuer or auditor; repeat for several.
        #[arg(long = "role", required = true, num_args = 1..)]
        roles: Vec<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// List tokens (ids, tenants, roles; never secrets).
    List {
        #[arg(long, default_value = "hsm-config/hsm-pki.toml")]
        config: PathBuf,
    },
    /// Revoke a token by id.
    Revoke {
        #[arg(long, default_value = "hsm-config/hsm-pki.toml")]
        config: PathBuf,
        id: String,
    },
}

#[derive(Subcommand)]
enum HsmTokenCommand {
    /// An operator's first command on a new HSM: module and token info, the mechanisms
    /// the daemon needs with their key sizes, session limits against the pool, and a test
    /// key of every algorithm made with the daemon's template, signed and verified. Exits
    /// non-zero, naming the reason, when a requirement is missing. Generates and destroys
    /// keys: run it before the daemon's first start or beside it, never on a token you
    /// cannot write to.
    Check {
        #[arg(long, default_value = "hsm-config/hsm-pki.toml")]
        config: PathBuf,
    },
}

fn hsm_token_command(cmd: HsmTokenCommand) -> Result<(), String> {
    match cmd {
        HsmTokenCommand::Check { config } => {
            let c = Config::load(&config).map_err(|e| e.to_string())?;
            let cfg = hsm_pki::daemon::token_config(&c).map_err(|e| e.to_string())?;
            let report = hsm_pki::hsm::check_token(&cfg);
            for line in &report.lines {
                println!("{line}");
            }
            if report.failures.is_empty() {
                println!("verdict: this token can serve hsm-pki");
                return Ok(());
            }
            println!("verdict: NOT usable by hsm-pki:");
            for f in &report.failures {
                println!("  - {f}");
            }
            Err(format!(
                "token check failed: {} requirement(s) not met",
                report.failures.len()
            ))
        }
    }
}

/// `check-config` for a URI: load the module and say which tokens the URI matches, so a
/// URI that matches none or several is explained before the daemon starts.
fn explain_uri(c: &Config) -> Result<String, String> {
    let cfg = hsm_pki::daemon::token_config(c).map_err(|e| e.to_string())?;
    let all = hsm_pki::hsm::list_tokens(&cfg).map_err(|e| format!("token.uri: {e}"))?;
    let (hits, others): (Vec<_>, Vec<_>) = all.iter().partition(|f| cfg.token.matches(f));
    let list = |fs: &[&hsm_pki::hsm::SlotFacts]| {
        fs.iter()
            .map(|f| format!("\n  {}", hsm_pki::hsm::describe_slot(f)))
            .collect::<String>()
    };
    match hits.as_slice() {
        [one] => Ok(format!(
            "token.uri selects {}",
            hsm_pki::hsm::describe_slot(one)
        )),
        [] => Err(format!(
            "token.uri matches no token of {}; it lists:{}",
            cfg.module_path.display(),
            if others.is_empty() {
                " none".to_owned()
            } else {
                list(&others)
            }
        )),
        many => Err(format!(
            "token.uri matches {} tokens; add serial= (or slot-id=) to pick one:{}",
            many.len(),
            list(many)
        )),
    }
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the audit log: its hash chain, its checkpoints (signed by the token's audit key)
    /// and the token's anchor; exits non-zero saying what was found (needs the token).
    Verify {
        #[arg(long, default_value = "hsm-config/hsm-pki.toml")]
        config: PathBuf,
    },
}

fn open_store(config: &std::path::Path) -> Result<Store, String> {
    let c = Config::load(config).map_err(|e| e.to_string())?;
    Store::open(&c.database.path).map_err(|e| e.to_string())
}

fn token_command(cmd: TokenCommand) -> Result<(), String> {
    match cmd {
        TokenCommand::Create {
            config,
            tenant,
            roles,
            description,
        } => {
            if !auth::valid_tenant_id(&tenant) {
                return Err(format!(
                    "--tenant {tenant:?}: must be {{org}}.{{tenant}}, lowercase letters, digits, '-'"
                ));
            }
            let roles = roles
                .iter()
                .map(|r| Role::from_name(r).ok_or_else(|| format!("--role {r:?}: unknown role")))
                .collect::<Result<Vec<_>, _>>()?;
            let store = open_store(&config)?;
            let now = now_rfc3339();
            store
                .ensure_tenant(&tenant, &now)
                .map_err(|e| e.to_string())?;
            let t = auth::new_token(&tenant, &roles, description, &now);
            store
                .insert_api_token(&t.record)
                .map_err(|e| e.to_string())?;
            eprintln!(
                "created token {} for tenant {tenant}; it is shown only once:",
                t.record.id
            );
            println!("{}", t.secret.as_str());
            Ok(())
        }
        TokenCommand::List { config } => {
            let store = open_store(&config)?;
            for t in store.list_api_tokens().map_err(|e| e.to_string())? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.tenant,
                    t.roles,
                    t.created_at,
                    t.revoked_at
                        .as_deref()
                        .map_or("active".to_owned(), |r| format!("revoked {r}"))
                );
            }
            Ok(())
        }
        TokenCommand::Revoke { config, id } => {
            let store = open_store(&config)?;
            if store
                .revoke_api_token(&id, &now_rfc3339())
                .map_err(|e| e.to_string())?
            {
                eprintln!("revoked {id}");
                Ok(())
            } else {
                Err(format!("no active token with id {id}"))
            }
        }
    }
}

fn audit_command(cmd: AuditCommand) -> Result<(), String> {
    match cmd {
        AuditCommand::Verify { config } => {
            let c = Config::load(&config).map_err(|e| e.to_string())?;
            let r = hsm_pki::daemon::verify_audit(&c)?;
            if r.findings.is_empty() {
                println!(
                    "audit log intact: {} events, {} checkpoints signed by the token's audit key; \
                     {} events after the newest checkpoint (not yet anchored)",
                    r.events, r.checkpoints, r.unanchored
                );
                return Ok(());
            }
            for f in &r.findings {
                println!("{f}");
            }
            Err(format!(
                "audit log check failed: {} finding(s) in {} events",
                r.findings.len(),
                r.events
            ))
        }
    }
}

fn exit(r: Result<(), String>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(config.logging.filter.as_deref().unwrap_or("info")))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.logging.json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::ApiToken { command } => exit(token_command(command)),
        Command::Audit { command } => exit(audit_command(command)),
        Command::Tenant { command } => exit(tenant_command(command)),
        Command::Token { command } => exit(hsm_token_command(command)),
        Command::Tls {
            command: TlsCommand::DevCert { config, out },
        } => exit(Config::load(&config).map_err(|e| e.to_string()).and_then(|c| {
            hsm_pki::daemon::tls_dev_cert(&c, &out)?;
            println!(
                "wrote {}; serve TLS with:\n[server.tls]\ncertificate_chain = \"{}\"\nkey_label = \"{}\"",
                out.display(),
                std::fs::canonicalize(&out).unwrap_or(out.clone()).display(),
                hsm_pki::hsm::TLS_KEY_LABEL
            );
            Ok(())
        })),
        Command::CheckConfig { config } => match Config::load(&config) {
            Ok(c) => match c.token.read_pin() {
                Ok(_) if c.token.uri.is_some() => match explain_uri(&c) {
                    Ok(what) => {
                        println!("{}: ok; {what}", config.display());
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        ExitCode::FAILURE
                    }
                },
                Ok(_) => {
                    println!("{}: ok", config.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            },
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Serve { config } => {
            let config = match Config::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            init_logging(&config);
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(hsm_pki::daemon::serve(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "daemon failed");
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
