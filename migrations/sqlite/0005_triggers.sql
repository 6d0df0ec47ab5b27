-- Triggers: the next moment of each (trigger, record), read by the tick
-- through its index, and every occurrence, unique per (trigger, record,
-- moment) so that none is handled twice.
CREATE TABLE trigger_schedule (
    trigger_key TEXT NOT NULL,
    record_id  BLOB NOT NULL REFERENCES records(id),
    form       TEXT NOT NULL,
    fire_at    TEXT NOT NULL,
    PRIMARY KEY (trigger_key, record_id)
);
CREATE INDEX trigger_schedule_due ON trigger_schedule (fire_at);

CREATE TABLE occurrences (
    trigger_key TEXT NOT NULL,
    record_id  BLOB NOT NULL,
    at         TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('fired', 'skipped', 'missed', 'failed')),
    handled_at TEXT NOT NULL,
    PRIMARY KEY (trigger_key, record_id, at)
);
