-- Documents on a matter. The bytes live in the blob store, sealed under a key of their own
-- (data_key_sealed, itself sealed under the firm key); titles, file names and hashes are
-- sealed here too. Each upload is a version; older versions are kept.
CREATE TABLE documents (
    id TEXT PRIMARY KEY,
    matter_id TEXT NOT NULL REFERENCES matters(id),
    title_sealed BLOB NOT NULL,
    privileged INTEGER NOT NULL CHECK (privileged IN (0, 1)),
    current_version INTEGER NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER
);
CREATE INDEX documents_by_matter ON documents (matter_id);

CREATE TABLE document_versions (
    id TEXT PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES documents(id),
    version INTEGER NOT NULL,
    name_sealed BLOB NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL CHECK (size >= 0),
    sha256_sealed BLOB NOT NULL,
    data_key_sealed BLOB NOT NULL,
    scan TEXT NOT NULL CHECK (scan IN ('unscanned', 'pending', 'clean', 'infected')),
    uploaded_by TEXT NOT NULL REFERENCES users(id),
    uploaded_at INTEGER NOT NULL,
    UNIQUE (document_id, version)
);
