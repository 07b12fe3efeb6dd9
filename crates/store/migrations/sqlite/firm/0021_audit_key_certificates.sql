-- Each new audit signing key certifies the earlier keys it can prove are the firm's (their
-- seeds open under the firm key and give their public keys). A key whose seed no longer
-- opens (its firm key version was retired) is trusted by verify only through such a
-- certificate from a trusted key; a key someone merely inserted has neither.
CREATE TABLE audit_key_certificates (
    key_id TEXT NOT NULL,
    certified_by TEXT NOT NULL,
    signature BLOB NOT NULL,
    PRIMARY KEY (key_id, certified_by)
);
CREATE TRIGGER audit_key_certificates_no_update BEFORE UPDATE ON audit_key_certificates
BEGIN SELECT RAISE(ABORT, 'audit key certificates are append-only'); END;
CREATE TRIGGER audit_key_certificates_no_delete BEFORE DELETE ON audit_key_certificates
BEGIN SELECT RAISE(ABORT, 'audit key certificates are append-only'); END;

-- The delete triggers no longer make an exception for a row of `audit_purge`: anyone who
-- could insert that row could switch them off. The retention purge instead drops and
-- re-creates these two triggers inside its own transaction (firm/audit.rs), which takes a
-- change of the schema, not of data.
DROP TRIGGER audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
DROP TRIGGER audit_checkpoints_no_delete;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
DROP TABLE audit_purge;
