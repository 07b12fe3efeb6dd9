-- Ethical walls on a client: the user is screened from every matter of the client, those
-- opened later included. A lifted wall is kept, with who lifted it and when, so access
-- history can still say who was screened on a date.
CREATE TABLE client_walls (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES clients(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    placed_by TEXT NOT NULL,
    placed_at BIGINT NOT NULL,
    lifted_by TEXT,
    lifted_at BIGINT
);
-- At most one standing wall per client and user.
CREATE UNIQUE INDEX client_walls_standing ON client_walls (client_id, user_id) WHERE lifted_at IS NULL;
CREATE INDEX client_walls_by_user ON client_walls (user_id, client_id);

-- When the client's first matter was opened. Until then the client's details belong to
-- whoever took it in; from then on, to those holding a role on one of its matters.
ALTER TABLE clients ADD COLUMN first_matter_at BIGINT;
UPDATE clients SET first_matter_at = (SELECT MIN(m.opened_at) FROM matters m WHERE m.client_id = clients.id);

-- A wall binds everyone: a wall on the matter or on its client screens the user, whatever
-- its firm role. The helpers run as the owner, whose own policy on matters sees every row.
CREATE OR REPLACE FUNCTION ringfence_walled(matter TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM matter_walls w WHERE w.matter_id = matter AND w.user_id = ringfence_user())
        OR EXISTS (SELECT 1 FROM client_walls cw JOIN matters m ON m.client_id = cw.client_id
                   WHERE m.id = matter AND cw.user_id = ringfence_user() AND cw.lifted_at IS NULL);
END
$$;

CREATE OR REPLACE FUNCTION ringfence_sees_matter(matter TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM matter_members m WHERE m.matter_id = matter AND m.user_id = ringfence_user())
       AND NOT ringfence_walled(matter);
END
$$;

CREATE OR REPLACE FUNCTION ringfence_reads_content(matter TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    RETURN EXISTS (
        SELECT 1 FROM matter_members m
        WHERE m.matter_id = matter AND m.user_id = ringfence_user() AND m.role IN ('lead', 'member', 'viewer')
    ) AND NOT ringfence_walled(matter);
END
$$;

-- Administrators manage every matter's team except one they are walled from.
CREATE OR REPLACE FUNCTION ringfence_manages_matter(matter TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    RETURN (ringfence_is_admin()
            OR EXISTS (SELECT 1 FROM matter_members m
                       WHERE m.matter_id = matter AND m.user_id = ringfence_user() AND m.role = 'lead'))
        AND NOT ringfence_walled(matter);
END
$$;

-- Administrators and audit officers review every matter they are not walled from.
CREATE FUNCTION ringfence_reviews_matter(matter TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    RETURN current_setting('ringfence.sees_all_matters', true) = 'on' AND NOT ringfence_walled(matter);
END
$$;

DROP POLICY matters_read ON matters;
DROP POLICY matters_change ON matters;
CREATE POLICY matters_read ON matters FOR SELECT
    USING (ringfence_sees_matter(id) OR ringfence_reviews_matter(id));
CREATE POLICY matters_change ON matters FOR UPDATE
    USING (ringfence_sees_matter(id) OR ringfence_reviews_matter(id));

-- Audit officers read the access history of the matters they review (administrators
-- already do, as managers).
DROP POLICY matter_access_history_read ON matter_access_history;
CREATE POLICY matter_access_history_read ON matter_access_history FOR SELECT
    USING (ringfence_manages_matter(matter_id) OR ringfence_reviews_matter(matter_id));

-- Client walls are placed and lifted by administrators. Those who review or manage one of
-- the client's matters see them (access history needs them), and a user sees its own, so
-- the access check can honour it.
ALTER TABLE client_walls ENABLE ROW LEVEL SECURITY;
CREATE POLICY client_walls_read ON client_walls FOR SELECT
    USING (
        ringfence_is_admin()
        OR current_setting('ringfence.sees_all_matters', true) = 'on'
        OR user_id = ringfence_user()
        OR EXISTS (SELECT 1 FROM matters m WHERE m.client_id = client_walls.client_id
                   AND ringfence_manages_matter(m.id))
    );
CREATE POLICY client_walls_place ON client_walls FOR INSERT WITH CHECK (ringfence_is_admin());
CREATE POLICY client_walls_lift ON client_walls FOR UPDATE USING (ringfence_is_admin()) WITH CHECK (ringfence_is_admin());
-- Walls are lifted, never erased.
REVOKE DELETE, TRUNCATE ON client_walls FROM {{runtime_role}};
