-- How far each external sink (syslog, JSON-lines file) has received the log, so shipping
-- resumes after a restart without losing or repeating entries.
CREATE TABLE audit_shipping (
    sink TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
