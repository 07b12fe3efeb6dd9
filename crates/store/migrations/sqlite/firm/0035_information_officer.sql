-- The firm's Information Officer: one of its people, named by an administrator, who is told
-- (beside the administrators) of what happens to the firm from outside it: emergency access
-- by the hosting provider's operators, suspension, termination.
CREATE TABLE information_officer (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    user_id TEXT NOT NULL REFERENCES users(id)
);
