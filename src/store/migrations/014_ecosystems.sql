-- 14: the digital trust service (issue 13): ecosystems, their participants with the IACAs
-- they issue under, and each ecosystem's VICAL configuration.

    CREATE TABLE ecosystems (
        id          TEXT PRIMARY KEY,
        tenant      TEXT NOT NULL,
        name        TEXT NOT NULL,
        created_at  TEXT NOT NULL
    ) STRICT;
    CREATE INDEX ecosystems_tenant ON ecosystems (tenant);

    CREATE TABLE participants (
        id            TEXT PRIMARY KEY,
        tenant        TEXT NOT NULL,
        ecosystem_id  TEXT NOT NULL REFERENCES ecosystems(id),
        name          TEXT NOT NULL,
        is_issuer     INTEGER NOT NULL CHECK (is_issuer IN (0, 1)),
        is_verifier   INTEGER NOT NULL CHECK (is_verifier IN (0, 1)),
        created_at    TEXT NOT NULL
    ) STRICT;
    CREATE INDEX participants_ecosystem ON participants (ecosystem_id);

    -- A participant's mobile identifiers: IACA certificates (checked against ISO/IEC
    -- 18013-5 Table B.1 when added) with the docTypes it issues under each (JSON array).
    CREATE TABLE participant_iacas (
        participant_id   TEXT NOT NULL REFERENCES participants(id),
        position         INTEGER NOT NULL,
        certificate_der  BLOB NOT NULL,
        doc_types        TEXT NOT NULL,
        PRIMARY KEY (participant_id, position)
    ) STRICT;

    CREATE TABLE vical_configs (
        ecosystem_id    TEXT PRIMARY KEY REFERENCES ecosystems(id),
        tenant          TEXT NOT NULL,
        vical_provider  TEXT NOT NULL,
        auto_publish    INTEGER NOT NULL CHECK (auto_publish IN (0, 1)),
        frequency       TEXT NOT NULL CHECK (frequency IN ('Daily', 'Weekly')),
        updated_at      TEXT NOT NULL
    ) STRICT;
