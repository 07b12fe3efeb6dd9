-- The deployment's operators: the hosting provider's staff, apart from every firm's users.
-- An operator signs in with a password and an authenticator code (never an emailed one);
-- the authenticator's secret is sealed under a key derived from the master key.
CREATE TABLE operators (
    id TEXT PRIMARY KEY,
    -- Lowercased, as firm users' addresses are.
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    totp_secret_sealed BLOB NOT NULL,
    -- The last authenticator time step accepted: a code is never taken twice.
    totp_last_step INTEGER,
    created_at INTEGER NOT NULL
);

-- Operators' sessions, found by a hash of their token (the token itself is never kept).
CREATE TABLE operator_sessions (
    token_hash BLOB PRIMARY KEY,
    operator_id TEXT NOT NULL REFERENCES operators(id),
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX operator_sessions_by_operator ON operator_sessions (operator_id);

-- What operators did, hash-chained as a firm's audit log is (same fields and encoding).
CREATE TABLE operator_audit_log (
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
-- The chain's head: one row, taken by every append, so concurrent writers queue instead
-- of forking the chain.
CREATE TABLE operator_audit_head (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    seq INTEGER NOT NULL,
    hash BLOB NOT NULL
);
CREATE TRIGGER operator_audit_log_no_update BEFORE UPDATE ON operator_audit_log
BEGIN SELECT RAISE(ABORT, 'the operator audit log is append-only'); END;
CREATE TRIGGER operator_audit_log_no_delete BEFORE DELETE ON operator_audit_log
BEGIN SELECT RAISE(ABORT, 'the operator audit log is append-only'); END;

-- A suspended firm: nobody signs in and every session is refused; its data is untouched.
ALTER TABLE firms ADD COLUMN suspended_at INTEGER;
