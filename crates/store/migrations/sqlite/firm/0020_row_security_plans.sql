-- PostgreSQL re-declares its row-security helpers here; SQLite has none.
SELECT 1;
