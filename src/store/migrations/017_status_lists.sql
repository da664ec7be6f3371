-- 17: Token Status Lists for mdocs (issue 14 item 4). Status list signers are signers of
-- kind 'status-list' under IACAs, with their keys' purpose 'mobile-status-list-signer':
-- both are CHECK constraints, which SQLite cannot alter, so `keys` and `signers` are rebuilt
-- as migration 12 did (foreign keys are off during migrations and checked after). Then the
-- lists, the mdocs' entries in them, and revocations.

    CREATE TABLE keys_new (
        label          TEXT PRIMARY KEY,
        tenant         TEXT NOT NULL,
        name           TEXT NOT NULL,
        algorithm      TEXT NOT NULL,
        public_key_der BLOB NOT NULL,
        origin         TEXT NOT NULL CHECK (origin IN ('generated', 'imported')),
        created_at     TEXT NOT NULL,
        purpose        TEXT CHECK (purpose IN (
            'dts-root', 'holder-root', 'vical-signer', 'wallet-signer',
            'iaca', 'document-signer', 'mobile-iaca', 'mobile-document-signer',
            'mobile-status-list-signer', 'generic-ca', 'generic-end-entity')),
        UNIQUE (tenant, name)
    ) STRICT;
    INSERT INTO keys_new SELECT label, tenant, name, algorithm, public_key_der, origin,
        created_at, purpose FROM keys;
    DROP TABLE keys;
    ALTER TABLE keys_new RENAME TO keys;

    CREATE TABLE signers_new (
        id               TEXT PRIMARY KEY,
        tenant           TEXT NOT NULL,
        -- 'vical' (under 'dts'), 'wallet' (under 'holder'), 'document' and 'status-list'
        -- (under 'iaca').
        kind             TEXT NOT NULL
                         CHECK (kind IN ('vical', 'wallet', 'document', 'status-list')),
        ca_id            TEXT NOT NULL REFERENCES root_cas(id),
        key_label        TEXT NOT NULL UNIQUE REFERENCES keys(label),
        csr_der          BLOB NOT NULL,
        certificate_der  BLOB,
        active           INTEGER NOT NULL CHECK (active IN (0, 1)),
        created_at       TEXT NOT NULL,
        CHECK (active = 0 OR certificate_der IS NOT NULL)
    ) STRICT;
    INSERT INTO signers_new SELECT id, tenant, kind, ca_id, key_label, csr_der,
        certificate_der, active, created_at FROM signers;
    DROP TABLE signers;
    ALTER TABLE signers_new RENAME TO signers;
    CREATE INDEX signers_tenant ON signers (tenant, kind);
    CREATE INDEX signers_ca ON signers (ca_id);

    -- One status list: `size` entries of `bits` bits for the mdocs of one IACA, the
    -- uncompressed list, and its newest signed token. `uri` (the token's sub, and the uri
    -- of every mdoc in it) is fixed when the list is made. `next_idx` is the first index
    -- no mdoc has taken; an index is never handed out twice. `version` counts the token's
    -- re-signings: a re-signing writes only over the version it read.
    CREATE TABLE status_lists (
        id              TEXT PRIMARY KEY,
        tenant          TEXT NOT NULL,
        iaca_id         TEXT NOT NULL REFERENCES root_cas(id),
        uri             TEXT NOT NULL UNIQUE,
        bits            INTEGER NOT NULL CHECK (bits IN (1, 2, 4, 8)),
        size            INTEGER NOT NULL CHECK (size > 0),
        next_idx        INTEGER NOT NULL DEFAULT 0 CHECK (next_idx BETWEEN 0 AND size),
        list            BLOB NOT NULL,
        token           BLOB NOT NULL,
        -- The token's iat and exp, unix seconds, and the status list signer that signed it.
        token_iat       INTEGER NOT NULL,
        token_exp       INTEGER NOT NULL,
        signer_id       TEXT NOT NULL,
        version         INTEGER NOT NULL DEFAULT 0,
        created_at      TEXT NOT NULL
    ) STRICT;
    CREATE INDEX status_lists_iaca ON status_lists (tenant, iaca_id);
    CREATE INDEX status_lists_exp ON status_lists (token_exp);

    -- An mdoc's id (the sign response's credentialId) and its entry, recorded in the
    -- transaction that records the mdoc. The mdoc ledger stays append-only: these columns
    -- are written by the INSERT only.
    ALTER TABLE issued_mdocs ADD COLUMN credential_id TEXT;
    ALTER TABLE issued_mdocs ADD COLUMN status_list_id TEXT REFERENCES status_lists(id);
    ALTER TABLE issued_mdocs ADD COLUMN status_idx INTEGER;
    CREATE UNIQUE INDEX issued_mdocs_credential ON issued_mdocs (credential_id)
        WHERE credential_id IS NOT NULL;
    -- The rule "never reused", kept by the database as well.
    CREATE UNIQUE INDEX issued_mdocs_status ON issued_mdocs (status_list_id, status_idx)
        WHERE status_list_id IS NOT NULL;

    -- Revocations, append-only: an mdoc revoked stays revoked (status INVALID, 0x01).
    CREATE TABLE mdoc_revocations (
        credential_id   TEXT PRIMARY KEY,
        tenant          TEXT NOT NULL,
        status_list_id  TEXT NOT NULL REFERENCES status_lists(id),
        status_idx      INTEGER NOT NULL,
        revoked_at      TEXT NOT NULL,
        request_id      TEXT
    ) STRICT;
    CREATE TRIGGER mdoc_revocations_no_update BEFORE UPDATE ON mdoc_revocations
        BEGIN SELECT RAISE(ABORT, 'revocations are append-only'); END;
    CREATE TRIGGER mdoc_revocations_no_delete BEFORE DELETE ON mdoc_revocations
        BEGIN SELECT RAISE(ABORT, 'revocations are append-only'); END;
