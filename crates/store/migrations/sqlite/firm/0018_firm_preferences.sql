-- The firm's preferences; for now the time zone its people read times in.
CREATE TABLE firm_preferences (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    time_zone TEXT NOT NULL
);
