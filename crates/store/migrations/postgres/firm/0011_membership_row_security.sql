-- Row-level security on the membership tables too. The policies' helpers run as the
-- owner role (SECURITY DEFINER), which these tables do not FORCE, so a helper can read
-- memberships without recursing into their own policies; the runtime role, which owns
-- nothing, is fenced by every policy either way.

CREATE OR REPLACE FUNCTION ringfence_sees_matter(matter TEXT) RETURNS BOOLEAN
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT EXISTS (SELECT 1 FROM matter_members m WHERE m.matter_id = matter AND m.user_id = ringfence_user())
       AND NOT EXISTS (SELECT 1 FROM matter_walls w WHERE w.matter_id = matter AND w.user_id = ringfence_user())
$$;

CREATE OR REPLACE FUNCTION ringfence_reads_content(matter TEXT) RETURNS BOOLEAN
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT EXISTS (
        SELECT 1 FROM matter_members m
        WHERE m.matter_id = matter AND m.user_id = ringfence_user() AND m.role IN ('lead', 'member', 'viewer')
    ) AND NOT EXISTS (SELECT 1 FROM matter_walls w WHERE w.matter_id = matter AND w.user_id = ringfence_user())
$$;

-- True when the transaction's user is a firm administrator.
CREATE FUNCTION ringfence_is_admin() RETURNS BOOLEAN LANGUAGE sql STABLE AS $$
    SELECT current_setting('ringfence.manages_all_matters', true) = 'on'
$$;

-- True when the user is walled from the matter.
CREATE FUNCTION ringfence_walled(matter TEXT) RETURNS BOOLEAN
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT EXISTS (SELECT 1 FROM matter_walls w WHERE w.matter_id = matter AND w.user_id = ringfence_user())
$$;

-- True when the transaction's user leads the matter (and is not walled from it), or is a
-- firm administrator.
CREATE FUNCTION ringfence_manages_matter(matter TEXT) RETURNS BOOLEAN
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT ringfence_is_admin()
        OR (EXISTS (SELECT 1 FROM matter_members m
                    WHERE m.matter_id = matter AND m.user_id = ringfence_user() AND m.role = 'lead')
            AND NOT ringfence_walled(matter))
$$;

-- True for a matter with no members yet: the one moment its creator may add itself as lead.
CREATE FUNCTION ringfence_unclaimed(matter TEXT) RETURNS BOOLEAN
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT NOT EXISTS (SELECT 1 FROM matter_members m WHERE m.matter_id = matter)
$$;

ALTER TABLE matter_members ENABLE ROW LEVEL SECURITY;
-- Members see their matter's team; a walled user does not even see its own membership.
CREATE POLICY matter_members_read ON matter_members FOR SELECT
    USING (
        ringfence_sees_matter(matter_id) OR ringfence_manages_matter(matter_id)
        OR (user_id = ringfence_user() AND NOT ringfence_walled(matter_id))
    );
CREATE POLICY matter_members_add ON matter_members FOR INSERT
    WITH CHECK (
        ringfence_manages_matter(matter_id)
        OR (ringfence_unclaimed(matter_id) AND user_id = ringfence_user() AND role = 'lead')
    );
-- Who may change a membership is checked on the row as it was; what it becomes (even the
-- lead stepping down) is the application's rule, except that a membership never moves to
-- another matter or user (the trigger below).
CREATE POLICY matter_members_change ON matter_members FOR UPDATE
    USING (ringfence_manages_matter(matter_id)) WITH CHECK (true);
CREATE FUNCTION membership_stays_put() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.matter_id <> OLD.matter_id OR NEW.user_id <> OLD.user_id THEN
        RAISE EXCEPTION 'a membership cannot move to another matter or user';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER matter_members_stay_put BEFORE UPDATE ON matter_members
    FOR EACH ROW EXECUTE FUNCTION membership_stays_put();
CREATE POLICY matter_members_remove ON matter_members FOR DELETE USING (ringfence_manages_matter(matter_id));

-- Walls are placed and lifted by administrators; leads see them. A walled user never sees
-- its wall: that would name the matter.
ALTER TABLE matter_walls ENABLE ROW LEVEL SECURITY;
CREATE POLICY matter_walls_read ON matter_walls FOR SELECT USING (ringfence_manages_matter(matter_id));
CREATE POLICY matter_walls_place ON matter_walls FOR INSERT WITH CHECK (ringfence_is_admin());
CREATE POLICY matter_walls_lift ON matter_walls FOR DELETE USING (ringfence_is_admin());

ALTER TABLE matter_access_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY matter_access_history_read ON matter_access_history FOR SELECT
    USING (ringfence_manages_matter(matter_id));
-- A change is recorded, as made by its maker, by whoever may make it (the application
-- records before it changes), or by a matter's creator claiming it.
CREATE POLICY matter_access_history_add ON matter_access_history FOR INSERT
    WITH CHECK (
        changed_by = ringfence_user()
        AND (
            ringfence_manages_matter(matter_id)
            OR (ringfence_unclaimed(matter_id) AND user_id = ringfence_user() AND role = 'lead')
        )
    );
