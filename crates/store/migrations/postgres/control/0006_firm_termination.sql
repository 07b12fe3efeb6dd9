-- A terminated firm: read-only, kept for export until `shred_after`, when its `firm.shred`
-- job (queued with this row) destroys its keys, database and files. Reinstating the firm
-- deletes the row and the job.
CREATE TABLE firm_terminations (
    firm_id TEXT PRIMARY KEY REFERENCES firms(id),
    terminated_at BIGINT NOT NULL,
    shred_after BIGINT NOT NULL
);

-- What is kept of a shredded firm: no data and no keys, only which firm it was, when it
-- ended, and its audit log's final signed checkpoint. Written in the transaction that
-- destroys the firm's keys and removes its row from `firms`; the slug stays taken for good.
CREATE TABLE firm_tombstones (
    firm_id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    terminated_at BIGINT NOT NULL,
    shred_started_at BIGINT NOT NULL,
    -- Set once the firm's database and files are gone too; until then the shred re-runs.
    shredded_at BIGINT,
    -- Who shredded it, as the audit log names actors: `system` (the job) or `cli`.
    shredded_by TEXT NOT NULL,
    -- The operator's reason for shredding whatever legal hold the firm was under; NULL
    -- when the shred was not forced.
    force_reason TEXT,
    -- The final checkpoint of the firm's audit log, covering its last entry (the shred's own).
    checkpoint_seq BIGINT NOT NULL,
    checkpoint_at BIGINT NOT NULL,
    checkpoint_hash BYTEA NOT NULL,
    checkpoint_signature BYTEA NOT NULL,
    checkpoint_key_id TEXT NOT NULL,
    checkpoint_public_key BYTEA NOT NULL
);
