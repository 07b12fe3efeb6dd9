-- A link that sets a new password for a user who lost theirs: asked for by the user (then
-- completed only with a second factor the account holds) or sent by an administrator.
-- Only the SHA-256 of the mailed token is kept.
CREATE TABLE password_resets (
    token_hash BYTEA PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    -- the administrator who sent it; NULL when the user asked for it
    sent_by TEXT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    -- when it was used, or ended by a newer link or a change to the account
    ended_at BIGINT,
    -- wrong second factors so far; counted before each is checked
    attempts BIGINT NOT NULL DEFAULT 0,
    -- the passkey check offered for it, if one was asked for
    passkey_state TEXT
);
-- One link open per user at a time: a new one ends the one before.
CREATE UNIQUE INDEX password_resets_one_open ON password_resets (user_id) WHERE ended_at IS NULL;
