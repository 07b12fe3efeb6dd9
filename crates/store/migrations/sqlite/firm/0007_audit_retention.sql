-- How long the firm keeps its audit log: at least 12 months.
CREATE TABLE audit_retention (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    months INTEGER NOT NULL CHECK (months >= 12)
);

-- The retention purge is the one way entries leave the log. It states, inside its own
-- transaction, how far it may delete; the triggers refuse every other removal.
CREATE TABLE audit_purge (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    up_to_seq INTEGER NOT NULL
);

DROP TRIGGER audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN NOT EXISTS (SELECT 1 FROM audit_purge WHERE OLD.seq <= up_to_seq)
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

DROP TRIGGER audit_checkpoints_no_delete;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
WHEN NOT EXISTS (SELECT 1 FROM audit_purge WHERE OLD.seq < up_to_seq)
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
