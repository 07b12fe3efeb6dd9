-- PostgreSQL adds row-level security here as a second wall around matter data. SQLite has
-- no roles or row security: a firm's database file is its wall, and the access check the
-- application's one door.
SELECT 1;
