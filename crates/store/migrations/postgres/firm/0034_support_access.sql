-- An operator under a support grant reads the matters the grant names, and no others: the
-- application sets them per transaction as ringfence.support_matters (comma-separated ids)
-- only for a grant that is in force. Walls screen users by id, so they do not screen the
-- operator: the administrator who approved the grant was told of any wall first.

CREATE FUNCTION ringfence_support_reads(matter TEXT) RETURNS BOOLEAN
LANGUAGE sql STABLE AS $$
    SELECT matter = ANY (string_to_array(NULLIF(current_setting('ringfence.support_matters', true), ''), ','))
$$;

CREATE OR REPLACE FUNCTION ringfence_sees_matter(matter TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    RETURN (EXISTS (SELECT 1 FROM matter_members m WHERE m.matter_id = matter AND m.user_id = ringfence_user())
            AND NOT ringfence_walled(matter))
        OR ringfence_support_reads(matter);
END
$$;

CREATE OR REPLACE FUNCTION ringfence_reads_content(matter TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    RETURN (EXISTS (
        SELECT 1 FROM matter_members m
        WHERE m.matter_id = matter AND m.user_id = ringfence_user() AND m.role IN ('lead', 'member', 'viewer')
    ) AND NOT ringfence_walled(matter))
        OR ringfence_support_reads(matter);
END
$$;
