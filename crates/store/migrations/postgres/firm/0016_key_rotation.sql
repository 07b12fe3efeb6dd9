-- Key rotation re-seals every sealed value of the firm, whoever's matter it is in. It runs
-- as the firm's owner role, which row-level security (FORCEd) would otherwise fence like
-- any user; these policies let that role, and only it, reach every row. The runtime role
-- that serves requests is not the owner and gains nothing.
CREATE POLICY matters_key_rotation ON matters FOR ALL TO {{owner_role}} USING (true) WITH CHECK (true);
CREATE POLICY notes_key_rotation ON notes FOR ALL TO {{owner_role}} USING (true) WITH CHECK (true);
CREATE POLICY note_versions_key_rotation ON note_versions FOR ALL TO {{owner_role}} USING (true) WITH CHECK (true);
CREATE POLICY documents_key_rotation ON documents FOR ALL TO {{owner_role}} USING (true) WITH CHECK (true);
CREATE POLICY document_versions_key_rotation ON document_versions FOR ALL TO {{owner_role}}
    USING (true) WITH CHECK (true);
