-- The firm's sign-in policy; without a row the defaults apply (email and TOTP allowed;
-- admins and auditors need TOTP once enrolled).
CREATE TABLE sign_in_policy (
    singleton BIGINT PRIMARY KEY CHECK (singleton = 1),
    -- comma-separated second factors: email, totp
    allowed_factors TEXT NOT NULL,
    -- comma-separated firm roles that must use a stronger factor than email
    strong_factor_roles TEXT NOT NULL
);
