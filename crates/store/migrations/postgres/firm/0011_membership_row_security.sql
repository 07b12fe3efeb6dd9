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

-- True when the transaction's user leads the matter (and is not walled from it), or may
-- see every matter (administrators and auditors).
CREATE FUNCTION ringfence_manages_matter(matter TEXT) RETURNS BOOLEAN
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT current_setting('ringfence.sees_all_matters', true) = 'on'
        OR (EXISTS (SELECT 1 FROM matter_members m
                    WHERE m.matter_id = matter AND m.user_id = ringfence_user() AND m.role = 'lead')
            AND NOT EXISTS (SELECT 1 FROM matter_walls w WHERE w.matter_id = matter AND w.user_id = ringfence_user()))
$$;

-- True for a matter with no members yet: the one moment its creator may add itself as lead.
CREATE FUNCTION ringfence_unclaimed(matter TEXT) RETURNS BOOLEAN
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT NOT EXISTS (SELECT 1 FROM matter_members m WHERE m.matter_id = matter)
$$;

ALTER TABLE matter_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY matter_members_read ON matter_members FOR SELECT
    USING (user_id = ringfence_user() OR ringfence_sees_matter(matter_id) OR ringfence_manages_matter(matter_id));
CREATE POLICY matter_members_add ON matter_members FOR INSERT
    WITH CHECK (
        ringfence_manages_matter(matter_id)
        OR (ringfence_unclaimed(matter_id) AND user_id = ringfence_user() AND role = 'lead')
    );
-- Who may change a membership is checked on the row as it was; what it becomes (even the
-- lead stepping down) is the application's rule.
CREATE POLICY matter_members_change ON matter_members FOR UPDATE
    USING (ringfence_manages_matter(matter_id)) WITH CHECK (true);
CREATE POLICY matter_members_remove ON matter_members FOR DELETE USING (ringfence_manages_matter(matter_id));

-- A walled user never sees its wall: that would name the matter.
ALTER TABLE matter_walls ENABLE ROW LEVEL SECURITY;
CREATE POLICY matter_walls_fence ON matter_walls FOR ALL
    USING (ringfence_manages_matter(matter_id)) WITH CHECK (ringfence_manages_matter(matter_id));

ALTER TABLE matter_access_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY matter_access_history_read ON matter_access_history FOR SELECT
    USING (ringfence_manages_matter(matter_id));
-- A change is recorded by whoever made it, and only as made by them.
CREATE POLICY matter_access_history_add ON matter_access_history FOR INSERT
    WITH CHECK (changed_by = ringfence_user());
