-- Failed sign-ins per account and per source address, kept across restarts and shared by
-- every app server. The key is a SHA-256 of "account:<email>" or "ip:<address>", so typed
-- addresses of people who have no account are not kept.
CREATE TABLE sign_in_failures (
    key_hash BYTEA PRIMARY KEY,
    failures BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    last_failure BIGINT NOT NULL
);
