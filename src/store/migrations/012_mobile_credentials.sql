-- 12: the mobile credential family (issue 12) on the root/signer tables: IACAs as roots of
-- kind 'iaca', document signers as signers of kind 'document' (under a managed IACA the
-- daemon provisions them itself), with their keys' purposes 'mobile-iaca' and
-- 'mobile-document-signer'. Kinds and purposes are CHECK constraints, which SQLite cannot
-- alter: the three tables are rebuilt (foreign keys are off during migrations and checked
-- after).

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
            'generic-ca', 'generic-end-entity')),
        UNIQUE (tenant, name)
    ) STRICT;
    INSERT INTO keys_new SELECT label, tenant, name, algorithm, public_key_der, origin,
        created_at, purpose FROM keys;
    DROP TABLE keys;
    ALTER TABLE keys_new RENAME TO keys;

    CREATE TABLE root_cas_new (
        id               TEXT PRIMARY KEY,
        tenant           TEXT NOT NULL,
        -- 'dts' (/v1/ecosystems/certificates/ca), 'holder' (/v1/holder/certificates/ca) or
        -- 'iaca' (/v2/credentials/mobile/iacas).
        kind             TEXT NOT NULL CHECK (kind IN ('dts', 'holder', 'iaca')),
        key_label        TEXT UNIQUE REFERENCES keys(label),
        certificate_der  BLOB NOT NULL,
        active           INTEGER NOT NULL CHECK (active IN (0, 1)),
        crl_number       INTEGER NOT NULL DEFAULT 0,
        created_at       TEXT NOT NULL
    ) STRICT;
    INSERT INTO root_cas_new SELECT id, tenant, kind, key_label, certificate_der, active,
        crl_number, created_at FROM root_cas;
    DROP TABLE root_cas;
    ALTER TABLE root_cas_new RENAME TO root_cas;
    CREATE INDEX root_cas_tenant ON root_cas (tenant, kind);

    CREATE TABLE signers_new (
        id               TEXT PRIMARY KEY,
        tenant           TEXT NOT NULL,
        -- 'vical' (under 'dts'), 'wallet' (under 'holder') or 'document' (under 'iaca').
        kind             TEXT NOT NULL CHECK (kind IN ('vical', 'wallet', 'document')),
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
