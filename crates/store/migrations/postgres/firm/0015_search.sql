-- The blind search index: each term of a matter's title and description, a note's body or
-- a document's title, name and text, as a keyed hash under the firm's search key (itself
-- sealed under the firm key). Documents keep their extracted text sealed, for snippets.
CREATE TABLE search_keys (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    key_sealed BYTEA NOT NULL
);

CREATE TABLE search_terms (
    term BYTEA NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('matter', 'note', 'document')),
    source_id TEXT NOT NULL,
    matter_id TEXT NOT NULL REFERENCES matters(id),
    PRIMARY KEY (term, kind, source_id)
);
CREATE INDEX search_terms_by_source ON search_terms (kind, source_id);

-- Even the hashes show only where the user may look: a matter's own terms to those who
-- see the matter, its notes' and documents' terms to those who read its content.
ALTER TABLE search_terms ENABLE ROW LEVEL SECURITY;
ALTER TABLE search_terms FORCE ROW LEVEL SECURITY;
CREATE POLICY search_terms_fence ON search_terms FOR ALL
    USING ((kind = 'matter' AND ringfence_sees_matter(matter_id)) OR ringfence_reads_content(matter_id))
    WITH CHECK ((kind = 'matter' AND ringfence_sees_matter(matter_id)) OR ringfence_reads_content(matter_id));

ALTER TABLE document_versions ADD COLUMN text_sealed BYTEA;
