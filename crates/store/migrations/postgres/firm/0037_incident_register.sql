-- The register of incidents: when a breach was discovered and confirmed (the notification
-- clock runs from confirmation), what happened and to whom (sealed under the firm key, as
-- one record bound to the incident), when it was closed; the steps taken to contain and
-- remedy it, and who was notified when.
ALTER TABLE incidents ADD COLUMN discovered_at BIGINT;
ALTER TABLE incidents ADD COLUMN confirmed_at BIGINT;
ALTER TABLE incidents ADD COLUMN closed_at BIGINT;
ALTER TABLE incidents ADD COLUMN details_sealed BYTEA;

CREATE TABLE incident_steps (
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    kind TEXT NOT NULL CHECK (kind IN ('containment', 'remedial')),
    taken_at BIGINT NOT NULL,
    text_sealed BYTEA NOT NULL,
    recorded_by TEXT NOT NULL REFERENCES users(id),
    recorded_at BIGINT NOT NULL
);
CREATE INDEX incident_steps_by_incident ON incident_steps (incident_id, taken_at);

CREATE TABLE incident_notifications (
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    recipient TEXT NOT NULL CHECK (recipient IN ('regulator', 'data_subjects', 'supervisory_authority', 'other')),
    notified_at BIGINT NOT NULL,
    detail_sealed BYTEA NOT NULL,
    recorded_by TEXT NOT NULL REFERENCES users(id),
    recorded_at BIGINT NOT NULL
);
CREATE INDEX incident_notifications_by_incident ON incident_notifications (incident_id, notified_at);
