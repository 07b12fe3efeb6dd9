-- A firm restored from a backup as a copy beside its original (`backup restore --as`)
-- keeps the original's keys, and its sealed values, documents and audit chain stay bound
-- to the original's id: `sealed_as` names that id (NULL: the firm's own).
ALTER TABLE firms ADD COLUMN sealed_as TEXT;
