-- Full exports of a matter (matter_id set, asked for by its lead) or of the whole firm
-- (matter_id NULL, by an administrator). The ZIP is built by a job into the blob store,
-- sealed under a data key of its own (data_key_sealed, under the firm key); it may be
-- downloaded once, within a day of being built, and is then removed. The passphrase of an
-- encrypted ZIP is kept sealed only until the build has used it.
CREATE TABLE exports (
    id TEXT PRIMARY KEY,
    matter_id TEXT REFERENCES matters(id),
    requested_by TEXT NOT NULL REFERENCES users(id),
    requested_at BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'ready', 'failed', 'downloaded', 'expired')),
    encrypted BIGINT NOT NULL CHECK (encrypted IN (0, 1)),
    passphrase_sealed BYTEA,
    blob_id TEXT,
    data_key_sealed BYTEA,
    size BIGINT,
    sha256 TEXT,
    built_at BIGINT,
    expires_at BIGINT,
    downloaded_at BIGINT,
    failure TEXT
);
CREATE INDEX exports_by_requester ON exports (requested_by, requested_at);
CREATE INDEX exports_by_expiry ON exports (status, expires_at);

-- Each export is its requester's alone: others' are not even listed (a 404). The build,
-- the download's bookkeeping and the expiry run as the owner role, which the policy does
-- not bind (not FORCEd).
ALTER TABLE exports ENABLE ROW LEVEL SECURITY;
CREATE POLICY exports_own ON exports FOR ALL
    USING (requested_by = ringfence_user()) WITH CHECK (requested_by = ringfence_user());
REVOKE DELETE, TRUNCATE ON exports FROM {{runtime_role}};
