-- 1: keys held in the token, one row per token key pair.
    CREATE TABLE keys (
        -- The daemon's key id. Also the CKA_LABEL of both token objects, which is how the
        -- key is found again (labels survive slot renumbering; handles do not).
        label          TEXT PRIMARY KEY,
        tenant         TEXT NOT NULL,
        -- The client-visible key id, unique within a tenant.
        name           TEXT NOT NULL,
        algorithm      TEXT NOT NULL,
        -- DER SubjectPublicKeyInfo, read back from the token at creation.
        public_key_der BLOB NOT NULL,
        -- 'generated' in the token, or 'imported' from a client-supplied key.
        origin         TEXT NOT NULL CHECK (origin IN ('generated', 'imported')),
        created_at     TEXT NOT NULL,
        UNIQUE (tenant, name)
    ) STRICT;
