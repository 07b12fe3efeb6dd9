-- Documents on a matter. The bytes live in the blob store, sealed under a key of their own
-- (data_key_sealed, itself sealed under the firm key); titles, file names and hashes are
-- sealed here too. Each upload is a version; older versions are kept.
CREATE TABLE documents (
    id TEXT PRIMARY KEY,
    matter_id TEXT NOT NULL REFERENCES matters(id),
    title_sealed BYTEA NOT NULL,
    privileged BIGINT NOT NULL CHECK (privileged IN (0, 1)),
    current_version BIGINT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX documents_by_matter ON documents (matter_id);

CREATE TABLE document_versions (
    id TEXT PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES documents(id),
    version BIGINT NOT NULL,
    name_sealed BYTEA NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL CHECK (size >= 0),
    sha256_sealed BYTEA NOT NULL,
    data_key_sealed BYTEA NOT NULL,
    scan TEXT NOT NULL CHECK (scan IN ('unscanned', 'pending', 'clean', 'infected')),
    uploaded_by TEXT NOT NULL REFERENCES users(id),
    uploaded_at BIGINT NOT NULL,
    UNIQUE (document_id, version)
);

-- The same wall as notes: only those who may read the matter's content see its documents.
ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE documents FORCE ROW LEVEL SECURITY;
CREATE POLICY documents_fence ON documents FOR ALL
    USING (ringfence_reads_content(matter_id)) WITH CHECK (ringfence_reads_content(matter_id));

ALTER TABLE document_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE document_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY document_versions_fence ON document_versions FOR ALL
    USING (EXISTS (SELECT 1 FROM documents d WHERE d.id = document_id))
    WITH CHECK (EXISTS (SELECT 1 FROM documents d WHERE d.id = document_id));
