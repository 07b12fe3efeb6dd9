-- Soft deletion and the purge (see crates/store/src/firm/deletion.rs and
-- crates/store/src/purge.rs). How many days a deleted thing can be restored: 30 unless an
-- administrator sets more; never less.
CREATE TABLE deletion_policy (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    grace_days INTEGER NOT NULL CHECK (grace_days BETWEEN 30 AND 3650)
);

-- Single document versions and clients are deleted softly too.
ALTER TABLE document_versions ADD COLUMN deleted_at INTEGER;
ALTER TABLE clients ADD COLUMN deleted_at INTEGER;

-- A purge committed with its rows gone, whose blobs may not be destroyed yet, nor its line
-- written to the control store's purge ledger: the next purge run finishes it. Ids and
-- dates only.
CREATE TABLE purge_outbox (
    kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    blobs TEXT NOT NULL,
    deleted_at INTEGER NOT NULL,
    purged_at INTEGER NOT NULL,
    PRIMARY KEY (kind, object_id)
);

-- What still refers to each client, counted whoever may see it: a client with a matter
-- (deleted or not, until purged) or on the register of data subjects' requests is not
-- deleted. Counts only.
CREATE VIEW client_references AS
    SELECT c.id AS client_id,
           (SELECT COUNT(*) FROM matters m WHERE m.client_id = c.id) AS matters,
           (SELECT COUNT(*) FROM data_subject_requests r WHERE r.client_id = c.id) AS requests
    FROM clients c;
