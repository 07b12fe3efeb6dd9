-- How long the firm keeps its audit log: at least 12 months.
CREATE TABLE audit_retention (
    singleton BIGINT PRIMARY KEY CHECK (singleton = 1),
    months BIGINT NOT NULL CHECK (months >= 12)
);

-- The retention purge is the one way entries leave the log. It states, inside its own
-- transaction and as the firm's owner role (the runtime role cannot delete at all), how
-- far it may delete; the triggers refuse every other removal.
CREATE TABLE audit_purge (
    singleton BIGINT PRIMARY KEY CHECK (singleton = 1),
    up_to_seq BIGINT NOT NULL
);
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_purge FROM {{runtime_role}};

CREATE FUNCTION refuse_change_but_purge() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (
        SELECT 1 FROM audit_purge
        WHERE OLD.seq <= up_to_seq AND (TG_TABLE_NAME = 'audit_log' OR OLD.seq < up_to_seq)
    ) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$$;
DROP TRIGGER audit_log_append_only ON audit_log;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_change_but_purge();
DROP TRIGGER audit_checkpoints_append_only ON audit_checkpoints;
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION refuse_change_but_purge();
