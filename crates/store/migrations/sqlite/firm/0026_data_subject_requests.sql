-- The register of data subjects' requests (POPIA ss 23-25, GDPR arts 15-17). A subject is
-- a client of the firm (client_id), or someone else the firm may hold information on (a
-- client's contact person, say), described by name and email address as given, sealed
-- under the firm key like every free text here. The outcome's reason is sealed too.
CREATE TABLE data_subject_requests (
    id TEXT PRIMARY KEY,
    client_id TEXT REFERENCES clients(id),
    subject_name_sealed BLOB,
    subject_email_sealed BLOB,
    kind TEXT NOT NULL CHECK (kind IN ('access', 'correction', 'erasure', 'objection')),
    -- Days on the firm's clock, YYYY-MM-DD.
    received_on TEXT NOT NULL,
    due_on TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'completed', 'refused')),
    outcome_sealed BLOB,
    registered_by TEXT NOT NULL REFERENCES users(id),
    registered_at BIGINT NOT NULL,
    handled_by TEXT REFERENCES users(id),
    closed_at BIGINT,
    CHECK ((client_id IS NULL) = (subject_name_sealed IS NOT NULL)),
    CHECK ((status = 'open') = (closed_at IS NULL))
);
CREATE INDEX data_subject_requests_by_due ON data_subject_requests (due_on, id);
CREATE INDEX data_subject_requests_by_client ON data_subject_requests (client_id);

-- How many days after receipt the firm answers; 30 until an administrator sets otherwise.
CREATE TABLE data_subject_policy (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    response_days BIGINT NOT NULL CHECK (response_days BETWEEN 1 AND 90)
);

-- How many matters each client has, whoever may see them: a request's handler must be
-- able to see every one of them (see the PostgreSQL migration, where row security would
-- otherwise hide those a wall screens the handler from).
CREATE VIEW client_matter_totals AS
    SELECT client_id, COUNT(*) AS matters FROM matters GROUP BY client_id;
