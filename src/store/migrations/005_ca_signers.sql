-- 5: root CAs (DTS and holder) and the signers under them (VICAL, wallet attestation).
    -- One table for both root families and one for both signer families: the rules are the
    -- same, only the limits, roles and profiles differ (those live in `service::ca`).
    CREATE TABLE root_cas (
        id               TEXT PRIMARY KEY,
        tenant           TEXT NOT NULL,
        -- 'dts' (/v1/ecosystems/certificates/ca) or 'holder' (/v1/holder/certificates/ca).
        kind             TEXT NOT NULL CHECK (kind IN ('dts', 'holder')),
        -- The managed root's token key; NULL for an uploaded (unmanaged) root. The key row
        -- cannot be deleted while this references it.
        key_label        TEXT UNIQUE REFERENCES keys(label),
        certificate_der  BLOB NOT NULL,
        active           INTEGER NOT NULL CHECK (active IN (0, 1)),
        -- Last cRLNumber issued (RFC 5280 5.2.3: monotonically increasing).
        crl_number       INTEGER NOT NULL DEFAULT 0,
        created_at       TEXT NOT NULL
    ) STRICT;
    CREATE INDEX root_cas_tenant ON root_cas (tenant, kind);

    CREATE TABLE signers (
        id               TEXT PRIMARY KEY,
        tenant           TEXT NOT NULL,
        -- 'vical' (under a 'dts' root) or 'wallet' (under a 'holder' root).
        kind             TEXT NOT NULL CHECK (kind IN ('vical', 'wallet')),
        -- A root cannot be deleted while signers reference it (the service cascades or 409s).
        ca_id            TEXT NOT NULL REFERENCES root_cas(id),
        key_label        TEXT NOT NULL UNIQUE REFERENCES keys(label),
        csr_der          BLOB NOT NULL,
        -- NULL until the certificate is uploaded; immutable once set.
        certificate_der  BLOB,
        active           INTEGER NOT NULL CHECK (active IN (0, 1)),
        created_at       TEXT NOT NULL,
        CHECK (active = 0 OR certificate_der IS NOT NULL)
    ) STRICT;
    CREATE INDEX signers_tenant ON signers (tenant, kind);
    CREATE INDEX signers_ca ON signers (ca_id);
