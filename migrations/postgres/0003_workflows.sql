-- Workflows, tasks, notifications and the delivery outbox (PostgreSQL).

ALTER TABLE users ADD COLUMN manager_id uuid REFERENCES users(id);

ALTER TABLE record_history DROP CONSTRAINT record_history_op_check,
    ADD CONSTRAINT record_history_op_check CHECK (op IN ('create', 'update', 'delete', 'restore', 'transition'));

-- Definitions beside forms (workflows, messages; triggers and dashboards
-- later), each kind with its own keys. Every version is kept.
CREATE TABLE definitions (
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    version     bigint NOT NULL,
    definition  jsonb NOT NULL,
    updated_at  timestamptz NOT NULL,
    updated_by  uuid NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE definition_versions (
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    version     bigint NOT NULL,
    definition  jsonb NOT NULL,
    created_at  timestamptz NOT NULL,
    created_by  uuid NOT NULL,
    PRIMARY KEY (kind, key, version)
);

-- One running (or ended) workflow on one record. A workflow runs at most
-- once at a time on a record; several workflows can run side by side.
CREATE TABLE workflow_instances (
    id          uuid PRIMARY KEY,
    workflow    TEXT NOT NULL,
    form        TEXT NOT NULL,
    record_id   uuid NOT NULL REFERENCES records(id),
    state       TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('active', 'finished', 'cancelled')),
    started_at  timestamptz NOT NULL,
    started_by  uuid NOT NULL,
    entered_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX workflow_instances_record ON workflow_instances (record_id);
CREATE UNIQUE INDEX workflow_instances_running ON workflow_instances (record_id, workflow) WHERE status = 'active';

-- A timer of the state an instance is in, with its fire time. The tick reads
-- only due rows through the partial index; leaving the state cancels them.
CREATE TABLE workflow_timers (
    id            uuid PRIMARY KEY,
    instance_id   uuid NOT NULL REFERENCES workflow_instances(id),
    state         TEXT NOT NULL,
    timer         bigint NOT NULL,
    fire_at       timestamptz NOT NULL,
    every_seconds bigint,
    fired         bigint NOT NULL DEFAULT 0,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'done', 'cancelled', 'failed')),
    last_error    TEXT
);
CREATE INDEX workflow_timers_due ON workflow_timers (fire_at) WHERE status = 'pending';
CREATE INDEX workflow_timers_instance ON workflow_timers (instance_id) WHERE status = 'pending';

-- Work for a person, or for every user of a role until one takes it.
CREATE TABLE tasks (
    id             uuid PRIMARY KEY,
    title          TEXT NOT NULL,
    description    TEXT,
    assignee       uuid REFERENCES users(id),
    assignee_role  TEXT,
    status         TEXT NOT NULL CHECK (status IN ('open', 'done', 'cancelled')),
    due_at         timestamptz,
    form           TEXT,
    record_form    TEXT,
    record_id      uuid,
    instance_id    uuid,
    outcome_id     uuid,
    created_at     timestamptz NOT NULL,
    created_by     uuid NOT NULL,
    updated_at     timestamptz NOT NULL,
    completed_at   timestamptz,
    completed_by   uuid
);
CREATE INDEX tasks_assignee ON tasks (assignee, status, due_at);
CREATE INDEX tasks_role ON tasks (assignee_role, status, due_at) WHERE assignee IS NULL;
CREATE INDEX tasks_record ON tasks (record_id);

CREATE TABLE task_comments (
    id       uuid PRIMARY KEY,
    task_id  uuid NOT NULL REFERENCES tasks(id),
    author   uuid NOT NULL,
    body     TEXT NOT NULL,
    at       timestamptz NOT NULL
);
CREATE INDEX task_comments_task ON task_comments (task_id, at);

-- A user's inbox.
CREATE TABLE notifications (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users(id),
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    record_form  TEXT,
    record_id    uuid,
    task_id      uuid,
    created_at   timestamptz NOT NULL,
    read_at      timestamptz
);
CREATE INDEX notifications_user ON notifications (user_id, created_at);

-- Emails and webhooks waiting to be delivered. `idempotency_key` is unique:
-- the same occurrence handed over twice is stored once.
CREATE TABLE outbox (
    id               uuid PRIMARY KEY,
    channel          TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
    target           TEXT NOT NULL,
    subject          TEXT,
    body             TEXT NOT NULL,
    format           TEXT,
    idempotency_key  TEXT NOT NULL UNIQUE,
    record_id        uuid,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts         bigint NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL,
    sent_at          timestamptz,
    last_error       TEXT
);
CREATE INDEX outbox_pending ON outbox (created_at) WHERE status = 'pending';

-- Whose turn it is, per round-robin (e.g. `role:staff`).
CREATE TABLE assign_turns (
    key        TEXT PRIMARY KEY,
    last_user  uuid
);
