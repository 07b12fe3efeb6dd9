-- The durable job queue: background work that must happen once per deployment, whatever
-- the number of servers, and survive a server's death. A job is claimed by taking its
-- lease; a server that dies mid-job lets the lease run out and another takes the job over.
-- Finished jobs are deleted; a recurring one is put back with its next run time instead.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    -- The firm the job works on; none for deployment-wide work.
    firm_id TEXT REFERENCES firms(id),
    -- JSON, whatever the kind needs; never case content.
    payload TEXT NOT NULL,
    run_at BIGINT NOT NULL,
    -- 'queued' (waiting, or running while a lease holds it) or 'dead' (failed
    -- max_attempts times: kept, visible, until someone retries it).
    state TEXT NOT NULL CHECK (state IN ('queued', 'dead')),
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    -- At most one job per key exists, queued or dead: enqueueing a second is a no-op.
    dedupe_key TEXT UNIQUE,
    -- Set for a recurring schedule: the milliseconds between runs.
    every_ms BIGINT,
    -- Runs completed, for a recurring schedule.
    runs BIGINT NOT NULL DEFAULT 0,
    leased_by TEXT,
    -- New at every claim: finishing, failing or renewing a job needs the token of the
    -- claim that holds it, so a server whose lease ran out can touch neither this run
    -- nor a later one.
    lease_token TEXT,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (state, run_at);
