-- The register of data subjects' requests (POPIA ss 23-25, GDPR arts 15-17). A subject is
-- a client of the firm (client_id), or someone else the firm may hold information on (a
-- client's contact person, say), described by name and email address as given, sealed
-- under the firm key like every free text here. The outcome's reason is sealed too.
CREATE TABLE data_subject_requests (
    id TEXT PRIMARY KEY,
    client_id TEXT REFERENCES clients(id),
    subject_name_sealed BYTEA,
    subject_email_sealed BYTEA,
    kind TEXT NOT NULL CHECK (kind IN ('access', 'correction', 'erasure', 'objection')),
    -- Days on the firm's clock, YYYY-MM-DD.
    received_on TEXT NOT NULL,
    due_on TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'completed', 'refused')),
    outcome_sealed BYTEA,
    registered_by TEXT NOT NULL REFERENCES users(id),
    registered_at BIGINT NOT NULL,
    handled_by TEXT REFERENCES users(id),
    closed_at BIGINT,
    CHECK ((client_id IS NULL) = (subject_name_sealed IS NOT NULL)),
    CHECK ((status = 'open') = (closed_at IS NULL))
);
CREATE INDEX data_subject_requests_by_due ON data_subject_requests (due_on, id);
CREATE INDEX data_subject_requests_by_client ON data_subject_requests (client_id);

-- The second wall: only administrators, who handle the requests, see the register. Not
-- FORCEd, so the owner role re-seals its fields when the firm key rotates.
ALTER TABLE data_subject_requests ENABLE ROW LEVEL SECURITY;
CREATE POLICY data_subject_requests_handlers ON data_subject_requests FOR ALL
    USING (ringfence_is_admin()) WITH CHECK (ringfence_is_admin());
-- The register is evidence of how the firm answered: requests are closed, never removed.
REVOKE DELETE, TRUNCATE ON data_subject_requests FROM {{runtime_role}};

-- How many days after receipt the firm answers; 30 until an administrator sets otherwise.
CREATE TABLE data_subject_policy (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    response_days BIGINT NOT NULL CHECK (response_days BETWEEN 1 AND 90)
);

-- How many matters each client has, whoever may see them. Row security on matters hides
-- from an administrator the matters a wall screens it from; this view runs as its owner,
-- whom row security shows every matter (0016), so a request's handler learns that a
-- matter of the client is hidden from it and leaves the request to another. Counts only,
-- and to administrators only.
CREATE VIEW client_matter_totals WITH (security_barrier) AS
    SELECT client_id, COUNT(*) AS matters FROM matters WHERE ringfence_is_admin() GROUP BY client_id;
