-- 15: published VICALs (issue 13): the signed bytes exactly as served by the public routes,
-- append-only. vicalIssueID increases strictly per ecosystem (the primary key and the
-- inserting transaction's max + 1).

    CREATE TABLE vicals (
        ecosystem_id       TEXT NOT NULL REFERENCES ecosystems(id),
        vical_issue_id     INTEGER NOT NULL,
        tenant             TEXT NOT NULL,
        date               TEXT NOT NULL,
        next_update        TEXT NOT NULL,
        is_auto_published  INTEGER NOT NULL CHECK (is_auto_published IN (0, 1)),
        -- Lowercase hex SHA-256 of `bytes`: the public routes' ETag.
        digest             TEXT NOT NULL,
        bytes              BLOB NOT NULL,
        PRIMARY KEY (ecosystem_id, vical_issue_id)
    ) STRICT;
    CREATE TRIGGER vicals_no_update BEFORE UPDATE ON vicals
        BEGIN SELECT RAISE(ABORT, 'published VICALs are append-only'); END;
