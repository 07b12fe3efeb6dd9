-- A pending invitation. Only the SHA-256 of the emailed token is kept.
CREATE TABLE invitations (
    token_hash BLOB PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX invitations_by_user ON invitations (user_id);
