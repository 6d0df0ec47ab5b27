-- One row per form: the latest sweep that re-evaluated its rules over every
-- record. `after_id` is the last record done, so a sweep interrupted by a
-- crash resumes there instead of starting again.
CREATE TABLE sweeps (
    form         TEXT PRIMARY KEY REFERENCES forms(key),
    started_at   TIMESTAMPTZ NOT NULL,
    after_id     UUID,
    scanned      BIGINT NOT NULL,
    changed      BIGINT NOT NULL,
    failed       BIGINT NOT NULL,
    finished_at  TIMESTAMPTZ
);
