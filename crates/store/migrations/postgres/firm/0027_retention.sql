-- How long the firm keeps a closed matter (see ringfence_core::retention). No row: the
-- default, kept indefinitely with automatic deletion off.
CREATE TABLE retention_policy (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    window_days BIGINT,
    auto_delete BIGINT NOT NULL CHECK (auto_delete IN (0, 1)),
    notice_days BIGINT NOT NULL
);

-- When a matter's leads were told it will be deleted automatically. Disposal waits for the
-- notice to have run; a disposed (or restored) matter's notice is removed, so a restored
-- matter is noticed afresh.
CREATE TABLE retention_notices (
    matter_id TEXT PRIMARY KEY REFERENCES matters(id),
    noticed_at BIGINT NOT NULL
);
