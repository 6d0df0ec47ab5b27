-- A user's display name (王芳): what every page shows where a person
-- appears. Optional; the email stands in when it is empty.
ALTER TABLE users ADD COLUMN name TEXT;

-- Saved list views (筛选、排序、列), per user; a shared one is offered to the
-- owner's team too (their manager, those who report to them, and those with
-- the same manager).
CREATE TABLE saved_views (
    id          UUID PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users(id),
    form        TEXT NOT NULL,
    name        TEXT NOT NULL,
    config      JSONB NOT NULL,
    shared      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX saved_views_name ON saved_views (user_id, form, name);
CREATE INDEX saved_views_form ON saved_views (form, shared);
