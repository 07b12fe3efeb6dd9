-- PostgreSQL's row security learns of support grants here; SQLite has none.
SELECT 1;
