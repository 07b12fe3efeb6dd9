-- Decoys: records planted to look like the firm's own (a user, a client with a matter, its
-- notes and documents, a session token) that nobody has reason to touch. Which records they
-- are is sealed under the firm key, bound to the decoy's id, so a copy of the database does
-- not tell them from real ones; a token's SHA-256 is kept to know it when it is presented.
CREATE TABLE decoys (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('user', 'matter', 'credential')),
    -- the ids of the records the decoy is, comma-separated; empty for a credential
    targets_sealed BLOB NOT NULL,
    -- what the planter wrote of it ("left in the shared drive's README")
    label_sealed BLOB NOT NULL,
    -- what was planted, in words, as its planter was shown it
    summary_sealed BLOB NOT NULL,
    credential_hash BLOB UNIQUE,
    planted_by TEXT NOT NULL REFERENCES users(id),
    planted_at INTEGER NOT NULL,
    CHECK ((kind = 'credential') = (credential_hash IS NOT NULL))
);

-- How far the watcher has read the firm's log. A store with a log before the watcher starts
-- at its head: what happened before is not news. A new store (and the empty store a backup
-- is restored into, which then takes the backup's row) starts with none: from the first.
CREATE TABLE security_watch (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    position INTEGER NOT NULL
);
INSERT INTO security_watch (singleton, position) SELECT 1, MAX(seq) FROM audit_log HAVING COUNT(*) > 0;

-- Incidents: a suspected or confirmed breach, from its discovery to its close. One an alert
-- opened has no opener.
CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    opened_at INTEGER NOT NULL,
    opened_by TEXT REFERENCES users(id),
    summary_sealed BLOB NOT NULL,
    status TEXT NOT NULL DEFAULT 'suspected'
        CHECK (status IN ('suspected', 'confirmed', 'contained', 'closed', 'dismissed'))
);
CREATE INDEX incidents_by_opened ON incidents (opened_at, id);

-- Alerts the watcher raised: what tripped it (the entry that did, its actor and address),
-- what was touched in words (sealed: it names decoys), the incident it opened or joined,
-- when the watcher told of it (NULL until it did), and when it was mailed (NULL for one
-- told with an earlier mail of its incident).
CREATE TABLE security_alerts (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    raised_at INTEGER NOT NULL,
    audit_seq INTEGER NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT,
    actor_email TEXT,
    ip TEXT,
    detail_sealed BLOB NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    told_at INTEGER,
    mailed_at INTEGER
);
CREATE INDEX security_alerts_by_incident ON security_alerts (incident_id, raised_at);
CREATE INDEX security_alerts_untold ON security_alerts (raised_at) WHERE told_at IS NULL;
CREATE INDEX security_alerts_by_kind ON security_alerts (kind, actor_kind, raised_at);

-- The firm's thresholds for alerts on access out of the ordinary; none stored, the
-- defaults hold. Working hours (days 1 = Monday to 7, minutes after local midnight) are
-- the firm's to set; without them, no hour is out of the ordinary.
CREATE TABLE alert_settings (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    downloads INTEGER NOT NULL,
    downloads_minutes INTEGER NOT NULL,
    denials INTEGER NOT NULL,
    denials_minutes INTEGER NOT NULL,
    failing_accounts INTEGER NOT NULL,
    failing_minutes INTEGER NOT NULL,
    new_admin_source INTEGER NOT NULL,
    working_days TEXT,
    working_from INTEGER,
    working_until INTEGER,
    CHECK ((working_days IS NULL) = (working_from IS NULL) AND (working_from IS NULL) = (working_until IS NULL))
);

-- What the watcher counts towards its thresholds (a download, a refusal, a failed sign-in),
-- kept only as long as the longest window needs it.
CREATE TABLE watch_tallies (
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX watch_tallies_by_subject ON watch_tallies (rule, subject, at);

-- Where each user signed in from (a SHA-256 of address and browser), to tell a new device
-- or address of an administrator's.
CREATE TABLE known_sources (
    user_id TEXT NOT NULL REFERENCES users(id),
    source TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (user_id, source)
);
