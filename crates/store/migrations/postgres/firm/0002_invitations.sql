-- A pending invitation. Only the SHA-256 of the emailed token is kept.
CREATE TABLE invitations (
    token_hash BYTEA PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX invitations_by_user ON invitations (user_id);
