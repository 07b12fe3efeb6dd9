-- An operator under a support grant reads the matters the grant names, and no others: the
-- application sets them per transaction as ringfence.support_matters (comma-separated ids)
-- only for a grant that is in force, and for no one else. The policies are for reading
-- alone, so row security refuses such a transaction any write to a matter, note or
-- document, whatever the application lets through. Walls screen users by id, so they do
-- not screen the operator: the administrator who approved the grant was told of any first.

CREATE FUNCTION ringfence_support_reads(matter TEXT) RETURNS BOOLEAN
LANGUAGE sql STABLE AS $$
    SELECT matter = ANY (string_to_array(NULLIF(current_setting('ringfence.support_matters', true), ''), ','))
$$;

CREATE POLICY matters_support ON matters FOR SELECT USING (ringfence_support_reads(id));
CREATE POLICY notes_support ON notes FOR SELECT USING (ringfence_support_reads(matter_id));
CREATE POLICY documents_support ON documents FOR SELECT USING (ringfence_support_reads(matter_id));
