-- Ethical walls on a client: the user is screened from every matter of the client, those
-- opened later included. A lifted wall is kept, with who lifted it and when, so access
-- history can still say who was screened on a date.
CREATE TABLE client_walls (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES clients(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    placed_by TEXT NOT NULL,
    placed_at INTEGER NOT NULL,
    lifted_by TEXT,
    lifted_at INTEGER
);
-- At most one standing wall per client and user.
CREATE UNIQUE INDEX client_walls_standing ON client_walls (client_id, user_id) WHERE lifted_at IS NULL;
CREATE INDEX client_walls_by_user ON client_walls (user_id, client_id);

-- When the client's first matter was opened. Until then the client's details belong to
-- whoever took it in; from then on, to those holding a role on one of its matters.
ALTER TABLE clients ADD COLUMN first_matter_at INTEGER;
UPDATE clients SET first_matter_at = (SELECT MIN(m.opened_at) FROM matters m WHERE m.client_id = clients.id);
