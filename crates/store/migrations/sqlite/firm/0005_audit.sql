-- The append-only audit log. Each entry's hash covers the previous entry's hash and the
-- entry's canonical encoding, so an edit, removal, insertion or reordering breaks the chain.
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT,
    actor_email TEXT,
    action TEXT NOT NULL,
    resource_type TEXT,
    resource_id TEXT,
    matter_id TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'denied', 'failure')),
    ip TEXT,
    user_agent TEXT,
    request_id TEXT,
    hash BLOB NOT NULL
);
CREATE INDEX audit_log_by_actor ON audit_log (actor_id, seq);
CREATE INDEX audit_log_by_matter ON audit_log (matter_id, seq);
CREATE INDEX audit_log_by_action ON audit_log (action, seq);

-- Signed claims "entry seq has hash h": kept so a later edit is provable even if the
-- whole chain after it was recomputed.
CREATE TABLE audit_checkpoints (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    hash BLOB NOT NULL,
    signature BLOB NOT NULL,
    key_id TEXT NOT NULL
);

-- The firm's Ed25519 audit keys; the seed is sealed with the firm key.
CREATE TABLE audit_keys (
    id TEXT PRIMARY KEY,
    public_key BLOB NOT NULL,
    seed_sealed BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

-- The chain's head: one row, taken by every append, so concurrent writers queue instead
-- of forking the chain.
CREATE TABLE audit_head (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    seq INTEGER NOT NULL,
    hash BLOB NOT NULL,
    checkpoint_at INTEGER NOT NULL
);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
CREATE TRIGGER audit_keys_no_update BEFORE UPDATE ON audit_keys
BEGIN SELECT RAISE(ABORT, 'audit keys are append-only'); END;
CREATE TRIGGER audit_keys_no_delete BEFORE DELETE ON audit_keys
BEGIN SELECT RAISE(ABORT, 'audit keys are append-only'); END;
