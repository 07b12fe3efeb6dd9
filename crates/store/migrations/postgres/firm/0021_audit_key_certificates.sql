-- Each new audit signing key certifies the earlier keys it can prove are the firm's (their
-- seeds open under the firm key and give their public keys). A key whose seed no longer
-- opens (its firm key version was retired) is trusted by verify only through such a
-- certificate from a trusted key; a key someone merely inserted has neither.
CREATE TABLE audit_key_certificates (
    key_id TEXT NOT NULL,
    certified_by TEXT NOT NULL,
    signature BYTEA NOT NULL,
    PRIMARY KEY (key_id, certified_by)
);
CREATE TRIGGER audit_key_certificates_append_only BEFORE UPDATE OR DELETE ON audit_key_certificates
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_key_certificates_no_truncate BEFORE TRUNCATE ON audit_key_certificates
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_keys_no_truncate BEFORE TRUNCATE ON audit_keys
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_key_certificates FROM {{runtime_role}};

-- The purge exception in refuse_change_but_purge() (0007) stays: it reads `audit_purge`,
-- which the runtime role may not write, and the runtime role may not delete from the log
-- in the first place. Only the owner role can insert that row, and the owner owns these
-- tables and could switch their triggers off anyway: the row gives no one a new power.
