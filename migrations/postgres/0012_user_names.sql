-- A user's display name (王芳): what every page shows where a person
-- appears. Optional; the email stands in when it is empty.
ALTER TABLE users ADD COLUMN name TEXT;
