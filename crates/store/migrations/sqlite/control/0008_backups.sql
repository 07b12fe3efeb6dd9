-- What each backup came to, for the pages and `ringfence backup list` to show and for a
-- failure never to go unseen. The backups themselves (sealed) are on the backup target,
-- which is all a restore needs. `firm_id` is NULL for the control store's own backup; no
-- reference to `firms`: a shredded firm's lines go with its backups.
CREATE TABLE backups (
    id TEXT PRIMARY KEY,
    firm_id TEXT,
    taken_at INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('made', 'verified', 'failed', 'rotated')),
    -- The bytes the backup stands for (its store and every document it names), and the
    -- bytes it added to the target (its store and the documents no earlier backup had).
    covered_bytes INTEGER NOT NULL,
    added_bytes INTEGER NOT NULL,
    verified_at INTEGER,
    -- Why the backup or its verification failed (no firm data: ids, counts, errors).
    problem TEXT
);
CREATE INDEX backups_by_firm ON backups (firm_id, taken_at);

-- A firm being restored in place: closed to requests until `finished_at`. The latest
-- restore's start also tells a server holding the firm's store open that it must reopen it.
CREATE TABLE firm_restores (
    firm_id TEXT PRIMARY KEY,
    backup_id TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER
);
