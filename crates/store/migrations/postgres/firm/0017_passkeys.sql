-- Passkeys (WebAuthn credentials). The credential record (public key, signature counter)
-- is sealed: bound to its row, so a row written by anyone without the firm key is
-- refused rather than trusted as a way in.
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    credential_id BYTEA NOT NULL UNIQUE,
    name TEXT NOT NULL,
    passkey_sealed BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX passkeys_by_user ON passkeys (user_id);

-- A registration waiting for the authenticator's answer: single use, short-lived.
CREATE TABLE passkey_registrations (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- A sign-in challenge answered with a passkey keeps the WebAuthn challenge it sent.
ALTER TABLE login_challenges ADD COLUMN passkey_state TEXT;
