CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    -- personal information: sealed with the firm key, bound to (users, id, name)
    name_sealed BYTEA,
    status TEXT NOT NULL CHECK (status IN ('invited', 'active', 'disabled')),
    password_hash TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users(id),
    role TEXT NOT NULL CHECK (role IN ('admin', 'attorney', 'paralegal', 'secretary', 'billing', 'auditor')),
    PRIMARY KEY (user_id, role)
);
