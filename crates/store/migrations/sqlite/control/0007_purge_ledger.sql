-- Every purge for good of a soft-deleted thing of a firm, ids and dates only (no content):
-- which firm, what kind of thing, its id, the blobs (document version ids) it took with
-- it, when it was deleted and when it was purged. A firm store restored from a backup
-- older than a purge has the purge re-applied from here (`Storage::replay_purges`). No
-- reference to `firms`: a shredded firm's row goes, and its lines say nothing.
CREATE TABLE purge_ledger (
    firm_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('matter', 'document', 'document_version', 'note', 'client')),
    object_id TEXT NOT NULL,
    -- Space-separated ids of the blobs destroyed with it.
    blobs TEXT NOT NULL,
    deleted_at INTEGER NOT NULL,
    purged_at INTEGER NOT NULL,
    PRIMARY KEY (firm_id, kind, object_id)
);
CREATE INDEX purge_ledger_by_firm ON purge_ledger (firm_id, purged_at);
