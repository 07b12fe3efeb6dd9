-- Legal holds: a matter, or a client with every matter it has or will have, kept from
-- deletion, retention disposal, purge and the firm's shred. Placed and lifted by
-- administrators, each with a reason sealed under the firm key and bound to the hold. A
-- lifted hold is kept, with who lifted it, when and why.
CREATE TABLE legal_holds (
    id TEXT PRIMARY KEY,
    matter_id TEXT REFERENCES matters(id),
    client_id TEXT REFERENCES clients(id),
    reason_sealed BLOB NOT NULL,
    placed_by TEXT NOT NULL REFERENCES users(id),
    placed_at INTEGER NOT NULL,
    lift_reason_sealed BLOB,
    lifted_by TEXT REFERENCES users(id),
    lifted_at INTEGER,
    CHECK ((matter_id IS NULL) <> (client_id IS NULL)),
    CHECK ((lifted_at IS NULL) = (lifted_by IS NULL) AND (lifted_at IS NULL) = (lift_reason_sealed IS NULL))
);
-- At most one standing hold on a matter or a client.
CREATE UNIQUE INDEX legal_holds_standing_on_matter ON legal_holds (matter_id) WHERE lifted_at IS NULL AND matter_id IS NOT NULL;
CREATE UNIQUE INDEX legal_holds_standing_on_client ON legal_holds (client_id) WHERE lifted_at IS NULL AND client_id IS NOT NULL;
CREATE INDEX legal_holds_by_placed ON legal_holds (placed_at, id);
