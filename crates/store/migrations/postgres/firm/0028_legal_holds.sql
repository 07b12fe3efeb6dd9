-- Legal holds: a matter, or a client with every matter it has or will have, kept from
-- deletion, retention disposal, purge and the firm's shred. Placed and lifted by
-- administrators, each with a reason sealed under the firm key and bound to the hold. A
-- lifted hold is kept, with who lifted it, when and why.
CREATE TABLE legal_holds (
    id TEXT PRIMARY KEY,
    matter_id TEXT REFERENCES matters(id),
    client_id TEXT REFERENCES clients(id),
    reason_sealed BYTEA NOT NULL,
    placed_by TEXT NOT NULL REFERENCES users(id),
    placed_at BIGINT NOT NULL,
    lift_reason_sealed BYTEA,
    lifted_by TEXT REFERENCES users(id),
    lifted_at BIGINT,
    CHECK ((matter_id IS NULL) <> (client_id IS NULL)),
    CHECK ((lifted_at IS NULL) = (lifted_by IS NULL) AND (lifted_at IS NULL) = (lift_reason_sealed IS NULL))
);
-- At most one standing hold on a matter or a client.
CREATE UNIQUE INDEX legal_holds_standing_on_matter ON legal_holds (matter_id) WHERE lifted_at IS NULL AND matter_id IS NOT NULL;
CREATE UNIQUE INDEX legal_holds_standing_on_client ON legal_holds (client_id) WHERE lifted_at IS NULL AND client_id IS NOT NULL;
CREATE INDEX legal_holds_by_placed ON legal_holds (placed_at, id);

-- Administrators (and the deployment's own firm-wide work) see every hold; anyone else,
-- the holds on a matter it sees, on the client of one, or on a client it took in, so that
-- deleting any of these is refused for the hold and a matter shows it is held. Only
-- administrators place and lift them.
-- Not FORCEd, so the owner role re-seals the reasons when the firm key rotates.
ALTER TABLE legal_holds ENABLE ROW LEVEL SECURITY;
CREATE POLICY legal_holds_read ON legal_holds FOR SELECT
    USING (
        ringfence_is_admin()
        OR (matter_id IS NOT NULL AND ringfence_sees_matter(matter_id))
        OR (client_id IS NOT NULL AND EXISTS (SELECT 1 FROM matters m WHERE m.client_id = legal_holds.client_id
                                              AND ringfence_sees_matter(m.id)))
        OR (client_id IS NOT NULL AND EXISTS (SELECT 1 FROM clients c WHERE c.id = legal_holds.client_id
                                              AND c.created_by = ringfence_user()))
    );
CREATE POLICY legal_holds_place ON legal_holds FOR INSERT WITH CHECK (ringfence_is_admin());
CREATE POLICY legal_holds_lift ON legal_holds FOR UPDATE USING (ringfence_is_admin()) WITH CHECK (ringfence_is_admin());
-- Holds are lifted, never erased.
REVOKE DELETE, TRUNCATE ON legal_holds FROM {{runtime_role}};
