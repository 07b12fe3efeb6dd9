-- Each matter's own data key, sealed under the firm key and bound to the matter: the
-- matter's content is sealed under it, so a firm key rotation re-wraps these rows alone,
-- and purging a matter destroys its key with it. migrated_at is when the matter's content
-- sealed before it had a key was re-sealed under it (NULL: the migration has yet to).
CREATE TABLE matter_keys (
    matter_id TEXT PRIMARY KEY REFERENCES matters(id),
    key_sealed BLOB NOT NULL,
    migrated_at INTEGER
);
CREATE INDEX matter_keys_unmigrated ON matter_keys (matter_id) WHERE migrated_at IS NULL;
