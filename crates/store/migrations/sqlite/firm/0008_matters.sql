-- Clients. The identity number is personal information: sealed with the firm key.
CREATE TABLE clients (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('person', 'organisation')),
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    id_number_sealed BLOB,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id)
);

-- Matters. Title and description are case content: sealed, bound to (matters, id, field).
CREATE TABLE matters (
    id TEXT PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    title_sealed BLOB NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients(id),
    description_sealed BLOB,
    status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    opened_at INTEGER NOT NULL,
    closed_at INTEGER,
    deleted_at INTEGER,
    created_by TEXT NOT NULL REFERENCES users(id)
);

-- Per-year counters behind human matter numbers (ACME-2026-0042).
CREATE TABLE matter_numbers (
    year INTEGER PRIMARY KEY,
    last INTEGER NOT NULL
);

CREATE TABLE matter_members (
    matter_id TEXT NOT NULL REFERENCES matters(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    role TEXT NOT NULL CHECK (role IN ('lead', 'member', 'viewer', 'billing')),
    granted_by TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (matter_id, user_id)
);
CREATE INDEX matter_members_by_user ON matter_members (user_id);

-- Ethical walls: the user is screened from the matter whatever roles it holds.
CREATE TABLE matter_walls (
    matter_id TEXT NOT NULL REFERENCES matters(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    placed_by TEXT NOT NULL,
    placed_at INTEGER NOT NULL,
    PRIMARY KEY (matter_id, user_id)
);

-- Notes: privileged work product, statements, communications. Bodies sealed; every edit
-- keeps the previous body as a version.
CREATE TABLE notes (
    id TEXT PRIMARY KEY,
    matter_id TEXT NOT NULL REFERENCES matters(id),
    kind TEXT NOT NULL CHECK (kind IN ('note', 'strategy', 'statement', 'communication')),
    privileged INTEGER NOT NULL CHECK (privileged IN (0, 1)),
    body_sealed BLOB NOT NULL,
    version INTEGER NOT NULL,
    author_id TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER
);
CREATE INDEX notes_by_matter ON notes (matter_id);

CREATE TABLE note_versions (
    note_id TEXT NOT NULL REFERENCES notes(id),
    version INTEGER NOT NULL,
    body_sealed BLOB NOT NULL,
    edited_by TEXT NOT NULL,
    edited_at INTEGER NOT NULL,
    PRIMARY KEY (note_id, version)
);
