-- A matter's entries by action: the activity on a user's matters skips the (many) views
-- and reads only the changes.
CREATE INDEX audit_log_by_matter_action ON audit_log (matter_id, action, seq);
