-- 10: signed checkpoints of the audit chain (issue 11): each says "the chain had `events`
-- rows and its newest row's hash was `head`", signed by the token's audit checkpoint key.
-- The newest one's position is also kept in the token, so `hsm-pki audit verify` detects
-- the newest events deleted, an event edited and the chain recomputed, and a replaced file.

    CREATE TABLE audit_checkpoints (
        seq        INTEGER PRIMARY KEY,
        at         TEXT NOT NULL,
        events     INTEGER NOT NULL,
        head       BLOB NOT NULL,
        signature  BLOB NOT NULL
    ) STRICT;
    CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
        BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
    CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
        BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
