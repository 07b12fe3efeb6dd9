-- The deployment: which master key this data was written under.
CREATE TABLE deployment (
    singleton BIGINT PRIMARY KEY CHECK (singleton = 1),
    master_key_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE firms (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Each firm's key versions, only ever stored wrapped by the master key.
CREATE TABLE firm_keys (
    firm_id TEXT NOT NULL REFERENCES firms(id),
    version BIGINT NOT NULL,
    master_key_id TEXT NOT NULL,
    wrapped BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (firm_id, version)
);

-- One email address belongs to one user in one firm across the whole deployment.
CREATE TABLE directory (
    email TEXT PRIMARY KEY,
    firm_id TEXT NOT NULL REFERENCES firms(id),
    user_id TEXT NOT NULL UNIQUE
);
