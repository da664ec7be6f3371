-- 16: revocation and stored CRLs (issue 14).

    -- Every CA key the daemon holds and publishes a CRL for: a managed root (DTS, holder,
    -- IACA; `id` is the root's id) or a CA key of the X.509 service (a keys API key that
    -- signed a CA certificate here; `id` is fresh). `id` is the caId of `/crl/{caId}.crl`.
    -- The row goes with its key.
    CREATE TABLE crl_issuers (
        id               TEXT PRIMARY KEY,
        tenant           TEXT NOT NULL,
        key_label        TEXT NOT NULL UNIQUE REFERENCES keys(label) ON DELETE CASCADE,
        -- The CA certificate whose subject is the CRL's issuer and whose SKI its AKI.
        certificate_der  BLOB NOT NULL,
        -- The newest CRL: its number (RFC 5280 5.2.3, strictly increasing), window (Unix
        -- seconds) and DER. NULL until the first is signed (by the renewal timer's next pass).
        crl_number       INTEGER NOT NULL DEFAULT 0,
        this_update      INTEGER,
        next_update      INTEGER,
        crl_der          BLOB,
        created_at       TEXT NOT NULL
    ) STRICT;
    CREATE INDEX crl_issuers_next_update ON crl_issuers (next_update);

    -- Managed roots made before this migration publish from now on, continuing the numbers
    -- the holder CRL route used (root_cas.crl_number is not used any more).
    INSERT INTO crl_issuers (id, tenant, key_label, certificate_der, crl_number, created_at)
        SELECT id, tenant, key_label, certificate_der, crl_number, created_at
        FROM root_cas WHERE key_label IS NOT NULL;

    -- What was revoked: a signer (any family) or a certificate the X.509 service issued.
    -- `issuer_id` names the CRL that lists it, NULL when its issuer's key is not held here
    -- (a signer under an uploaded root: its CRL is published by the holder of that key).
    -- Rows are never updated: revoking twice answers the first revocation.
    CREATE TABLE revocations (
        subject_kind  TEXT NOT NULL CHECK (subject_kind IN ('signer', 'certificate')),
        subject_id    TEXT NOT NULL,
        tenant        TEXT NOT NULL,
        issuer_id     TEXT REFERENCES crl_issuers(id) ON DELETE CASCADE,
        -- Lowercase hex of the certificate serial's content octets; NULL for a signer that
        -- never had a certificate.
        serial        TEXT,
        -- RFC 5280 5.3.1 reason by its ASN.1 name; NULL when none was given.
        reason        TEXT,
        revoked_at    TEXT NOT NULL,
        PRIMARY KEY (subject_kind, subject_id)
    ) STRICT;
    CREATE INDEX revocations_issuer ON revocations (issuer_id, revoked_at);

    -- The CRL issuer of a certificate the X.509 service issued (NULL: self-signed, signed
    -- by a key not held here, or issued before this migration).
    ALTER TABLE issued_certificates ADD COLUMN crl_issuer_id TEXT;
