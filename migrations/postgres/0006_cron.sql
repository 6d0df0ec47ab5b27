-- Cron triggers: one next run per trigger (a cron acts on a form, not on one
-- record), read by the tick through its index. A run's occurrences go to
-- `occurrences`: one per record it picked, and one with the nil record for
-- the run itself (its digests), so a run is never handled twice.
CREATE TABLE cron_schedule (
    trigger_key TEXT PRIMARY KEY,
    form       TEXT NOT NULL,
    fire_at    timestamptz NOT NULL
);
CREATE INDEX cron_schedule_due ON cron_schedule (fire_at);
-- A run's digest reads the records it picked: by trigger and moment.
CREATE INDEX occurrences_run ON occurrences (trigger_key, at, record_id);
