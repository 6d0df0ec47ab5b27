-- Delivery of the outbox: when each row is next tried, the lease of the
-- instance trying it, and every attempt with its outcome.
ALTER TABLE outbox ADD COLUMN next_attempt_at timestamptz, ADD COLUMN lease_until timestamptz;
UPDATE outbox SET next_attempt_at = created_at WHERE next_attempt_at IS NULL;
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';

CREATE TABLE delivery_attempts (
    delivery_id  uuid NOT NULL REFERENCES outbox(id),
    attempt      bigint NOT NULL,
    at           timestamptz NOT NULL,
    ok           boolean NOT NULL,
    detail       text NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
