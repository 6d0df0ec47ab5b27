-- Delivery of the outbox: when each row is next tried, the lease of the
-- instance trying it, and every attempt with its outcome.
ALTER TABLE outbox ADD COLUMN next_attempt_at TEXT;
ALTER TABLE outbox ADD COLUMN lease_until TEXT;
UPDATE outbox SET next_attempt_at = created_at WHERE next_attempt_at IS NULL;
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';

CREATE TABLE delivery_attempts (
    delivery_id  BLOB NOT NULL REFERENCES outbox(id),
    attempt      INTEGER NOT NULL,
    at           TEXT NOT NULL,
    ok           INTEGER NOT NULL,
    detail       TEXT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
