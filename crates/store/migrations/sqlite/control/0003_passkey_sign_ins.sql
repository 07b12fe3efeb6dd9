-- Passwordless sign-ins in flight: the browser has not yet said who it is, so the firm is
-- not known and the WebAuthn challenge waits here. Single use, short-lived.
CREATE TABLE passkey_sign_ins (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
