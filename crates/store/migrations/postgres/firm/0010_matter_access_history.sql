-- Dated history of who could reach each matter: every role granted or revoked and every
-- wall placed or removed, with who did it. Answers "who could read matter X on date T".
CREATE TABLE matter_access_history (
    matter_id TEXT NOT NULL REFERENCES matters(id),
    -- time-ordered (UUID v7): orders changes made in the same millisecond
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    change TEXT NOT NULL CHECK (change IN ('role', 'removed', 'walled', 'unwalled')),
    role TEXT CHECK (role IN ('lead', 'member', 'viewer', 'billing')),
    changed_by TEXT NOT NULL,
    changed_at BIGINT NOT NULL
);
CREATE INDEX matter_access_history_by_matter ON matter_access_history (matter_id, changed_at);

-- History is only ever added to.
REVOKE UPDATE, DELETE, TRUNCATE ON matter_access_history FROM {{runtime_role}};

