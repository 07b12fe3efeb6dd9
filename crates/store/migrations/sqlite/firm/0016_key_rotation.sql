-- Key rotation needs no schema change on SQLite (there is no row-level security to open).
SELECT 1;
