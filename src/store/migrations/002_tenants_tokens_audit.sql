-- 2: tenants, API tokens and the hash-chained audit log.
    CREATE TABLE tenants (
        -- `{org}.{tenant}`, the prefix of walt.id-style paths.
        id          TEXT PRIMARY KEY,
        -- Defaults for certificates (DTS CA common name, country), set by the operator.
        domain      TEXT,
        country     TEXT,
        created_at  TEXT NOT NULL
    ) STRICT;

    CREATE TABLE api_tokens (
        -- Public part of the token, shown in listings; the secret part is never stored.
        id           TEXT PRIMARY KEY,
        tenant       TEXT NOT NULL,
        -- Comma-separated role names.
        roles        TEXT NOT NULL,
        -- SHA-256 of the secret part. The secret has 256 bits of entropy, so a fast hash
        -- is enough: there is nothing to brute-force.
        secret_hash  BLOB NOT NULL,
        description  TEXT,
        created_at   TEXT NOT NULL,
        revoked_at   TEXT
    ) STRICT;

    -- Append-only: each row's hash covers the previous row's hash and its own fields, so
    -- editing or deleting a row breaks the chain from that row on (`hsm-pki audit verify`).
    CREATE TABLE audit_events (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        at          TEXT NOT NULL,
        tenant      TEXT NOT NULL,
        token_id    TEXT,
        request_id  TEXT,
        event       TEXT NOT NULL,
        object_id   TEXT,
        outcome     TEXT NOT NULL CHECK (outcome IN ('start', 'success', 'fail')),
        error_code  TEXT,
        prev_hash   BLOB NOT NULL,
        hash        BLOB NOT NULL
    ) STRICT;
    CREATE INDEX audit_events_tenant ON audit_events (tenant, seq);
    CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
    CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
