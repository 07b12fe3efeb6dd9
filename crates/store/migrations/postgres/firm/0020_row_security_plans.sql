-- The row-security helpers as PL/pgSQL: a SQL function that cannot be inlined (these are
-- SECURITY DEFINER) has its queries planned again in every statement that calls it, while
-- PL/pgSQL keeps their plans for the session. Same rules, same answers.

CREATE OR REPLACE FUNCTION ringfence_sees_matter(matter TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM matter_members m WHERE m.matter_id = matter AND m.user_id = ringfence_user())
       AND NOT EXISTS (SELECT 1 FROM matter_walls w WHERE w.matter_id = matter AND w.user_id = ringfence_user());
END
$$;

CREATE OR REPLACE FUNCTION ringfence_reads_content(matter TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    RETURN EXISTS (
        SELECT 1 FROM matter_members m
        WHERE m.matter_id = matter AND m.user_id = ringfence_user() AND m.role IN ('lead', 'member', 'viewer')
    ) AND NOT EXISTS (SELECT 1 FROM matter_walls w WHERE w.matter_id = matter AND w.user_id = ringfence_user());
END
$$;

CREATE OR REPLACE FUNCTION ringfence_walled(matter TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM matter_walls w WHERE w.matter_id = matter AND w.user_id = ringfence_user());
END
$$;

CREATE OR REPLACE FUNCTION ringfence_manages_matter(matter TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    RETURN ringfence_is_admin()
        OR (EXISTS (SELECT 1 FROM matter_members m
                    WHERE m.matter_id = matter AND m.user_id = ringfence_user() AND m.role = 'lead')
            AND NOT ringfence_walled(matter));
END
$$;

CREATE OR REPLACE FUNCTION ringfence_unclaimed(matter TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    RETURN NOT EXISTS (SELECT 1 FROM matter_members m WHERE m.matter_id = matter);
END
$$;
