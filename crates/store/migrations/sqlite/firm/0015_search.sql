-- The blind search index: each term of a matter's title and description, a note's body or
-- a document's title, name and text, as a keyed hash under the firm's search key (itself
-- sealed under the firm key). Documents keep their extracted text sealed, for snippets.
CREATE TABLE search_keys (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    key_sealed BLOB NOT NULL
);

CREATE TABLE search_terms (
    term BLOB NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('matter', 'note', 'document')),
    source_id TEXT NOT NULL,
    matter_id TEXT NOT NULL REFERENCES matters(id),
    PRIMARY KEY (term, kind, source_id)
);
CREATE INDEX search_terms_by_source ON search_terms (kind, source_id);

ALTER TABLE document_versions ADD COLUMN text_sealed BLOB;
