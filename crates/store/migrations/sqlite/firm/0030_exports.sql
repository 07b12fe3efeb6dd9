-- Full exports of a matter (matter_id set, asked for by its lead) or of the whole firm
-- (matter_id NULL, by an administrator). The ZIP is built by a job into the blob store,
-- sealed under a data key of its own (data_key_sealed, under the firm key); it may be
-- downloaded once, within a day of being built, and is then removed. The passphrase of an
-- encrypted ZIP is kept sealed only until the build has used it.
CREATE TABLE exports (
    id TEXT PRIMARY KEY,
    matter_id TEXT REFERENCES matters(id),
    requested_by TEXT NOT NULL REFERENCES users(id),
    requested_at INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'ready', 'failed', 'downloaded', 'expired')),
    encrypted INTEGER NOT NULL CHECK (encrypted IN (0, 1)),
    passphrase_sealed BLOB,
    blob_id TEXT,
    data_key_sealed BLOB,
    size INTEGER,
    sha256 TEXT,
    built_at INTEGER,
    expires_at INTEGER,
    downloaded_at INTEGER,
    failure TEXT
);
CREATE INDEX exports_by_requester ON exports (requested_by, requested_at);
CREATE INDEX exports_by_expiry ON exports (status, expires_at);
