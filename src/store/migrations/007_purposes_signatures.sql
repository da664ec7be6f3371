-- 7: key purposes and the signature ledger (issue 10).

    -- What a key may sign, fixed when it is made (roots, signers) or first used (keys made
    -- with POST /v1/keys); NULL until then. The service checks it before every signature.
    ALTER TABLE keys ADD COLUMN purpose TEXT CHECK (purpose IN (
        'dts-root', 'holder-root', 'vical-signer', 'wallet-signer',
        'iaca', 'document-signer', 'generic-ca', 'generic-end-entity'));

    -- Keys of existing roots and signers take their owner's purpose.
    UPDATE keys SET purpose = 'dts-root'
        WHERE label IN (SELECT key_label FROM root_cas WHERE kind = 'dts');
    UPDATE keys SET purpose = 'holder-root'
        WHERE label IN (SELECT key_label FROM root_cas WHERE kind = 'holder');
    UPDATE keys SET purpose = 'vical-signer'
        WHERE label IN (SELECT key_label FROM signers WHERE kind = 'vical');
    UPDATE keys SET purpose = 'wallet-signer'
        WHERE label IN (SELECT key_label FROM signers WHERE kind = 'wallet');
    -- Keys already certified here as an IACA or a Document Signer are that.
    UPDATE keys SET purpose = 'iaca' WHERE purpose IS NULL AND public_key_der IN
        (SELECT subject_public_key FROM issued_certificates
          WHERE profile = 'iaca' AND tenant = keys.tenant);
    UPDATE keys SET purpose = 'document-signer' WHERE purpose IS NULL AND public_key_der IN
        (SELECT subject_public_key FROM issued_certificates
          WHERE profile = 'document-signer' AND tenant = keys.tenant);

    -- Every signature the token made, of any artefact, append-only: which key signed which
    -- digest, for which request. Written in the transaction that commits the artefact.
    CREATE TABLE signatures (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant      TEXT NOT NULL,
        key_label   TEXT NOT NULL,
        artefact    TEXT NOT NULL
                    CHECK (artefact IN ('certificate', 'csr', 'crl', 'cose', 'jws')),
        algorithm   TEXT NOT NULL,
        -- Lowercase hex of the digest sent to the token.
        digest      TEXT NOT NULL,
        request_id  TEXT,
        created_at  TEXT NOT NULL
    ) STRICT;
    CREATE INDEX signatures_key ON signatures (key_label, id);
    CREATE TRIGGER signatures_no_update BEFORE UPDATE ON signatures
        BEGIN SELECT RAISE(ABORT, 'the signature ledger is append-only'); END;
    CREATE TRIGGER signatures_no_delete BEFORE DELETE ON signatures
        BEGIN SELECT RAISE(ABORT, 'the signature ledger is append-only'); END;
