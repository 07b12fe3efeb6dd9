-- Soft deletion and the purge (see crates/store/src/firm/deletion.rs and
-- crates/store/src/purge.rs). How many days a deleted thing can be restored: 30 unless an
-- administrator sets more; never less.
CREATE TABLE deletion_policy (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    grace_days BIGINT NOT NULL CHECK (grace_days BETWEEN 30 AND 3650)
);

-- Single document versions and clients are deleted softly too.
ALTER TABLE document_versions ADD COLUMN deleted_at BIGINT;
ALTER TABLE clients ADD COLUMN deleted_at BIGINT;

-- A purge committed with its rows gone, whose blobs may not be destroyed yet, nor its line
-- written to the control store's purge ledger: the next purge run finishes it. Ids and
-- dates only; the purge runs as the owner role, and the runtime role has no part in it.
CREATE TABLE purge_outbox (
    kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    blobs TEXT NOT NULL,
    deleted_at BIGINT NOT NULL,
    purged_at BIGINT NOT NULL,
    PRIMARY KEY (kind, object_id)
);
ALTER TABLE purge_outbox ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON purge_outbox FROM {{runtime_role}};

-- The purge removes a purged thing's search terms, whoever's matter they were on: like key
-- rotation (0016), the owner role alone reaches every row.
CREATE POLICY search_terms_purge ON search_terms FOR ALL TO {{owner_role}} USING (true) WITH CHECK (true);

-- What still refers to each client, counted whoever may see it (the view runs as its
-- owner, whom row security shows every matter): a client with a matter (deleted or not,
-- until purged) or on the register of data subjects' requests is not deleted. Counts only.
CREATE VIEW client_references WITH (security_barrier) AS
    SELECT c.id AS client_id,
           (SELECT COUNT(*) FROM matters m WHERE m.client_id = c.id) AS matters,
           (SELECT COUNT(*) FROM data_subject_requests r WHERE r.client_id = c.id) AS requests
    FROM clients c;
