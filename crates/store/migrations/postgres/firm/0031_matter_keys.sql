-- Each matter's own data key, sealed under the firm key and bound to the matter: the
-- matter's content is sealed under it, so a firm key rotation re-wraps these rows alone,
-- and purging a matter destroys its key with it. migrated_at is when the matter's content
-- sealed before it had a key was re-sealed under it (NULL: the migration has yet to).
CREATE TABLE matter_keys (
    matter_id TEXT PRIMARY KEY REFERENCES matters(id),
    key_sealed BYTEA NOT NULL,
    migrated_at BIGINT
);
CREATE INDEX matter_keys_unmigrated ON matter_keys (matter_id) WHERE migrated_at IS NULL;

-- A key is visible to whoever sees its matter, and made by whoever writes its content
-- first. Only the owner role (the migration, key rotation, the purge) changes or deletes one.
ALTER TABLE matter_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE matter_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY matter_keys_read ON matter_keys FOR SELECT
    USING (EXISTS (SELECT 1 FROM matters m WHERE m.id = matter_id));
CREATE POLICY matter_keys_made ON matter_keys FOR INSERT
    WITH CHECK (EXISTS (SELECT 1 FROM matters m WHERE m.id = matter_id));
CREATE POLICY matter_keys_owner ON matter_keys FOR ALL TO {{owner_role}} USING (true) WITH CHECK (true);
REVOKE UPDATE, DELETE, TRUNCATE ON matter_keys FROM {{runtime_role}};
