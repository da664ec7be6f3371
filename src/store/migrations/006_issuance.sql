-- 6: the issuance ledger and the certificate store (issue 5).

    -- Every certificate the X.509 service issued, append-only: what was signed, for whom,
    -- under which profile. Rows are never updated or deleted (deleting a stored certificate
    -- removes it from the store, not from the ledger).
    CREATE TABLE issued_certificates (
        id                  INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant              TEXT NOT NULL,
        -- Lowercase hex of the serial's content octets.
        serial              TEXT NOT NULL,
        -- RFC 4514 strings, for people; the DER below is authoritative.
        issuer              TEXT NOT NULL,
        subject             TEXT NOT NULL,
        not_before          TEXT NOT NULL,
        not_after           TEXT NOT NULL,
        profile             TEXT NOT NULL
                            CHECK (profile IN ('iaca', 'document-signer', 'generic')),
        fingerprint_sha256  TEXT NOT NULL UNIQUE,
        -- DER SubjectPublicKeyInfo: finds the certificate of an issuer key (generic
        -- CA-signed certificates name only the issuer's key).
        subject_public_key  BLOB NOT NULL,
        der                 BLOB NOT NULL,
        created_at          TEXT NOT NULL
    ) STRICT;
    CREATE INDEX issued_certificates_spki
        ON issued_certificates (tenant, subject_public_key, id);
    CREATE TRIGGER issued_certificates_no_update BEFORE UPDATE ON issued_certificates
        BEGIN SELECT RAISE(ABORT, 'the issuance ledger is append-only'); END;
    CREATE TRIGGER issued_certificates_no_delete BEFORE DELETE ON issued_certificates
        BEGIN SELECT RAISE(ABORT, 'the issuance ledger is append-only'); END;

    -- The X.509 store: certificates under `{tenant}.{store_id}.{cert_id}`.
    CREATE TABLE stored_certificates (
        tenant       TEXT NOT NULL,
        store_id     TEXT NOT NULL,
        cert_id      TEXT NOT NULL,
        -- 'vical-entry' for an IACA issued with vicalEntryComplementaryMetadata.
        kind         TEXT NOT NULL CHECK (kind IN ('base', 'vical-entry')),
        -- JSON text of the VICAL entry metadata; NULL for 'base'.
        metadata     TEXT,
        issuance_id  INTEGER NOT NULL REFERENCES issued_certificates (id),
        der          BLOB NOT NULL,
        created_at   TEXT NOT NULL,
        PRIMARY KEY (tenant, store_id, cert_id)
    ) STRICT;
