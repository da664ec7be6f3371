//! Schema migrations, one SQL file each under `migrations/`. `PRAGMA user_version` holds the
//! number applied.
//!
//! Migrations are append-only: never edit one that has shipped, add the next file. A
//! database whose version is newer than this binary knows is refused (an older binary must
//! not write into a schema it does not understand).

/// Each entry moves the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_keys.sql"),
    include_str!("migrations/002_tenants_tokens_audit.sql"),
    // 3 and 4 shipped as no-ops (slots reserved before issues 4 and 5 were built); databases
    // exist at version 4 without those tables, so the real schema follows as 5 and 6.
    include_str!("migrations/003_reserved.sql"),
    include_str!("migrations/004_reserved.sql"),
    include_str!("migrations/005_ca_signers.sql"),
    include_str!("migrations/006_issuance.sql"),
    include_str!("migrations/007_purposes_signatures.sql"),
    include_str!("migrations/008_tenant_issuer_alt_name.sql"),
    include_str!("migrations/009_audit_indexes.sql"),
    include_str!("migrations/010_audit_checkpoints.sql"),
    include_str!("migrations/011_issued_is_ca.sql"),
    include_str!("migrations/012_mobile_credentials.sql"),
    include_str!("migrations/013_issued_mdocs.sql"),
    include_str!("migrations/014_ecosystems.sql"),
    include_str!("migrations/015_vicals.sql"),
    include_str!("migrations/016_revocation_crls.sql"),
    include_str!("migrations/017_status_lists.sql"),
    include_str!("migrations/018_scale_indexes.sql"),
];

pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;
