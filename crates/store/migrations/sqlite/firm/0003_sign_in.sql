-- TOTP: the secret is sealed with the firm key; the last accepted time step refuses replays.
ALTER TABLE users ADD COLUMN totp_secret_sealed BLOB;
ALTER TABLE users ADD COLUMN totp_confirmed_at INTEGER;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;

-- A sign-in whose password was accepted and whose second factor is pending.
CREATE TABLE login_challenges (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    -- wrong codes so far; counted before each code is checked
    attempts INTEGER NOT NULL DEFAULT 0,
    -- keyed hash of the emailed code; a new code replaces the old one
    code_hash BLOB,
    code_expires_at INTEGER,
    completed_at INTEGER
);
CREATE INDEX login_challenges_by_user ON login_challenges (user_id);

-- Server-side sessions. Only the SHA-256 of the bearer token is kept.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    source_ip TEXT,
    user_agent TEXT,
    revoked_at INTEGER
);
CREATE INDEX sessions_by_user ON sessions (user_id);
