-- One row per form: the latest sweep that re-evaluated its rules over every
-- record. `after_id` is the last record done, so a sweep interrupted by a
-- crash resumes there instead of starting again.
CREATE TABLE sweeps (
    form         TEXT PRIMARY KEY REFERENCES forms(key),
    started_at   TEXT NOT NULL,
    after_id     BLOB,
    scanned      INTEGER NOT NULL,
    changed      INTEGER NOT NULL,
    failed       INTEGER NOT NULL,
    finished_at  TEXT
);
