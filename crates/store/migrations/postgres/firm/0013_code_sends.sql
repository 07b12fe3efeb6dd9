-- How many codes a sign-in challenge has mailed: resending is capped.
ALTER TABLE login_challenges ADD COLUMN codes_sent BIGINT NOT NULL DEFAULT 0;
