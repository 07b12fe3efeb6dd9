-- The deployment: which master key this data was written under.
CREATE TABLE deployment (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    master_key_id TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE firms (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Each firm's key versions, only ever stored wrapped by the master key.
CREATE TABLE firm_keys (
    firm_id TEXT NOT NULL REFERENCES firms(id),
    version INTEGER NOT NULL,
    master_key_id TEXT NOT NULL,
    wrapped BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (firm_id, version)
);

-- One email address belongs to one user in one firm across the whole deployment.
CREATE TABLE directory (
    email TEXT PRIMARY KEY,
    firm_id TEXT NOT NULL REFERENCES firms(id),
    user_id TEXT NOT NULL UNIQUE
);
