-- A user's display name (王芳): what every page shows where a person
-- appears. Optional; the email stands in when it is empty.
ALTER TABLE users ADD COLUMN name TEXT;

-- Saved list views (筛选、排序、列), per user; a shared one is offered to the
-- owner's team too (their manager, those who report to them, and those with
-- the same manager).
CREATE TABLE saved_views (
    id          BLOB PRIMARY KEY,
    user_id     BLOB NOT NULL REFERENCES users(id),
    form        TEXT NOT NULL,
    name        TEXT NOT NULL,
    config      TEXT NOT NULL,
    shared      INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX saved_views_name ON saved_views (user_id, form, name);
CREATE INDEX saved_views_form ON saved_views (form, shared);
