-- 13: every mdoc (MSO) a document signer signed, append-only: which signer, which docType,
-- the MSO's digest and validity, for which request. Written in the transaction that answers
-- the sign request, beside the signature ledger row of the same signature.

    CREATE TABLE issued_mdocs (
        id                  INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant              TEXT NOT NULL,
        document_signer_id  TEXT NOT NULL,
        doc_type            TEXT NOT NULL,
        -- Lowercase hex SHA-256 of the MobileSecurityObjectBytes signed.
        mso_digest          TEXT NOT NULL,
        valid_from          TEXT NOT NULL,
        valid_until         TEXT NOT NULL,
        -- 'built' (POST .../sign) or 'client' (POST .../sign-mso: the client built the MSO).
        source              TEXT NOT NULL CHECK (source IN ('built', 'client')),
        request_id          TEXT,
        created_at          TEXT NOT NULL
    ) STRICT;
    CREATE INDEX issued_mdocs_signer ON issued_mdocs (tenant, document_signer_id, id);
    CREATE TRIGGER issued_mdocs_no_update BEFORE UPDATE ON issued_mdocs
        BEGIN SELECT RAISE(ABORT, 'the mdoc ledger is append-only'); END;
    CREATE TRIGGER issued_mdocs_no_delete BEFORE DELETE ON issued_mdocs
        BEGIN SELECT RAISE(ABORT, 'the mdoc ledger is append-only'); END;
