-- The append-only audit log. Each entry's hash covers the previous entry's hash and the
-- entry's canonical encoding, so an edit, removal, insertion or reordering breaks the chain.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
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
    hash BYTEA NOT NULL
);
CREATE INDEX audit_log_by_actor ON audit_log (actor_id, seq);
CREATE INDEX audit_log_by_matter ON audit_log (matter_id, seq);
CREATE INDEX audit_log_by_action ON audit_log (action, seq);

-- Signed claims "entry seq has hash h": kept so a later edit is provable even if the
-- whole chain after it was recomputed.
CREATE TABLE audit_checkpoints (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    signature BYTEA NOT NULL,
    key_id TEXT NOT NULL
);

-- The firm's Ed25519 audit keys; the seed is sealed with the firm key.
CREATE TABLE audit_keys (
    id TEXT PRIMARY KEY,
    public_key BYTEA NOT NULL,
    seed_sealed BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

-- The chain's head: one row, taken by every append, so concurrent writers queue instead
-- of forking the chain.
CREATE TABLE audit_head (
    singleton BIGINT PRIMARY KEY CHECK (singleton = 1),
    seq BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    checkpoint_at BIGINT NOT NULL
);

CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_keys_append_only BEFORE UPDATE OR DELETE ON audit_keys
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- The runtime role may only add to and read the log.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_checkpoints, audit_keys FROM {{runtime_role}};
