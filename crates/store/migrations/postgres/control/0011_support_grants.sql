-- Support grants: an operator's access to one firm, asked for with a reason and a scope,
-- for at most four hours, approved (or refused) by one of the firm's administrators, and
-- ended by them at any time or by itself when `ends_at` passes. It opens reading only.
CREATE TABLE support_grants (
    id TEXT PRIMARY KEY,
    firm_id TEXT NOT NULL REFERENCES firms(id),
    operator_id TEXT NOT NULL REFERENCES operators(id),
    reason TEXT NOT NULL,
    -- 'settings': the firm's settings and users; 'matters': the matters listed in
    -- `matters` (comma-separated ids), their documents and notes.
    scope TEXT NOT NULL CHECK (scope IN ('settings', 'matters')),
    matters TEXT NOT NULL,
    minutes INTEGER NOT NULL CHECK (minutes BETWEEN 1 AND 240),
    requested_at BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('requested', 'approved', 'refused', 'ended')),
    -- Who approved or refused it (a firm user's id), and when.
    decided_by TEXT,
    decided_at BIGINT,
    ends_at BIGINT,
    -- Who ended it early: a firm user's id, or the operator's.
    ended_by TEXT,
    ended_at BIGINT,
    -- Emergency access, for a security or infrastructure incident: approved by a second
    -- operator (`decided_by`), not by the firm, which is told at once and sees it above its
    -- audit log until an administrator acknowledges it.
    emergency BIGINT NOT NULL DEFAULT 0,
    acknowledged_by TEXT,
    acknowledged_at BIGINT
);
CREATE INDEX support_grants_by_firm ON support_grants (firm_id, requested_at);

-- The browser sessions an operator works in a firm's pages with, each under one grant and
-- within the operator's own session: it ends with that session, or with the grant.
CREATE TABLE support_sessions (
    token_hash BYTEA PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES support_grants(id),
    operator_session BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
