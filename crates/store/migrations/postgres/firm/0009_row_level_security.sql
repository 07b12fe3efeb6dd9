-- The second wall: even a query that forgot the access check sees only the matters, and
-- the notes, of the user the transaction runs for (set per transaction by the application
-- as ringfence.user_id; firm administrators and auditors also see that matters exist, for
-- managing memberships and reviewing access, never their notes). FORCE applies it to the owner as well; the runtime role owns
-- nothing and has no BYPASSRLS.

CREATE FUNCTION ringfence_user() RETURNS TEXT LANGUAGE sql STABLE AS $$
    SELECT NULLIF(current_setting('ringfence.user_id', true), '')
$$;

CREATE FUNCTION ringfence_sees_matter(matter TEXT) RETURNS BOOLEAN LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM matter_members m WHERE m.matter_id = matter AND m.user_id = ringfence_user())
       AND NOT EXISTS (SELECT 1 FROM matter_walls w WHERE w.matter_id = matter AND w.user_id = ringfence_user())
$$;

CREATE FUNCTION ringfence_reads_content(matter TEXT) RETURNS BOOLEAN LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM matter_members m
        WHERE m.matter_id = matter AND m.user_id = ringfence_user() AND m.role IN ('lead', 'member', 'viewer')
    ) AND NOT EXISTS (SELECT 1 FROM matter_walls w WHERE w.matter_id = matter AND w.user_id = ringfence_user())
$$;

ALTER TABLE matters ENABLE ROW LEVEL SECURITY;
ALTER TABLE matters FORCE ROW LEVEL SECURITY;
CREATE POLICY matters_read ON matters FOR SELECT
    USING (ringfence_sees_matter(id) OR current_setting('ringfence.sees_all_matters', true) = 'on');
CREATE POLICY matters_change ON matters FOR UPDATE
    USING (ringfence_sees_matter(id) OR current_setting('ringfence.sees_all_matters', true) = 'on');
CREATE POLICY matters_open ON matters FOR INSERT WITH CHECK (created_by = ringfence_user());

ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE notes FORCE ROW LEVEL SECURITY;
CREATE POLICY notes_fence ON notes FOR ALL
    USING (ringfence_reads_content(matter_id)) WITH CHECK (ringfence_reads_content(matter_id));

ALTER TABLE note_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE note_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY note_versions_fence ON note_versions FOR ALL
    USING (EXISTS (SELECT 1 FROM notes n WHERE n.id = note_id))
    WITH CHECK (EXISTS (SELECT 1 FROM notes n WHERE n.id = note_id));
