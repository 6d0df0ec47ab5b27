-- Workflows, tasks, notifications and the delivery outbox (SQLite).

-- A user may have a manager (the team a manager leads; 'owner's manager' in tasks and escalations).
ALTER TABLE users ADD COLUMN manager_id BLOB REFERENCES users(id);

-- Workflow transitions are history entries too: widen the op check. SQLite
-- cannot alter a CHECK, so the table is rebuilt.
CREATE TABLE record_history_new (
    record_id  BLOB NOT NULL REFERENCES records(id),
    rev        INTEGER NOT NULL,
    op         TEXT NOT NULL CHECK (op IN ('create', 'update', 'delete', 'restore', 'transition')),
    actor      BLOB NOT NULL,
    at         TEXT NOT NULL,
    changes    TEXT NOT NULL,
    PRIMARY KEY (record_id, rev)
) WITHOUT ROWID;
INSERT INTO record_history_new SELECT record_id, rev, op, actor, at, changes FROM record_history;
DROP TABLE record_history;
ALTER TABLE record_history_new RENAME TO record_history;

-- Definitions beside forms (workflows, messages; triggers and dashboards
-- later), each kind with its own keys. Every version is kept.
CREATE TABLE definitions (
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    version     INTEGER NOT NULL,
    definition  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    updated_by  BLOB NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE definition_versions (
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    version     INTEGER NOT NULL,
    definition  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  BLOB NOT NULL,
    PRIMARY KEY (kind, key, version)
);

-- One running (or ended) workflow on one record. A workflow runs at most
-- once at a time on a record; several workflows can run side by side.
CREATE TABLE workflow_instances (
    id          BLOB PRIMARY KEY,
    workflow    TEXT NOT NULL,
    form        TEXT NOT NULL,
    record_id   BLOB NOT NULL REFERENCES records(id),
    state       TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('active', 'finished', 'cancelled')),
    started_at  TEXT NOT NULL,
    started_by  BLOB NOT NULL,
    entered_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX workflow_instances_record ON workflow_instances (record_id);
CREATE UNIQUE INDEX workflow_instances_running ON workflow_instances (record_id, workflow) WHERE status = 'active';

-- A timer of the state an instance is in, with its fire time. The tick reads
-- only due rows through the partial index; leaving the state cancels them.
CREATE TABLE workflow_timers (
    id            BLOB PRIMARY KEY,
    instance_id   BLOB NOT NULL REFERENCES workflow_instances(id),
    state         TEXT NOT NULL,
    timer         INTEGER NOT NULL,
    fire_at       TEXT NOT NULL,
    every_seconds INTEGER,
    fired         INTEGER NOT NULL DEFAULT 0,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'done', 'cancelled', 'failed')),
    last_error    TEXT
);
CREATE INDEX workflow_timers_due ON workflow_timers (fire_at) WHERE status = 'pending';
CREATE INDEX workflow_timers_instance ON workflow_timers (instance_id) WHERE status = 'pending';

-- Work for a person, or for every user of a role until one takes it.
CREATE TABLE tasks (
    id             BLOB PRIMARY KEY,
    title          TEXT NOT NULL,
    description    TEXT,
    assignee       BLOB REFERENCES users(id),
    assignee_role  TEXT,
    status         TEXT NOT NULL CHECK (status IN ('open', 'done', 'cancelled')),
    due_at         TEXT,
    form           TEXT,
    record_form    TEXT,
    record_id      BLOB,
    instance_id    BLOB,
    outcome_id     BLOB,
    created_at     TEXT NOT NULL,
    created_by     BLOB NOT NULL,
    updated_at     TEXT NOT NULL,
    completed_at   TEXT,
    completed_by   BLOB
);
CREATE INDEX tasks_assignee ON tasks (assignee, status, due_at);
CREATE INDEX tasks_role ON tasks (assignee_role, status, due_at) WHERE assignee IS NULL;
CREATE INDEX tasks_record ON tasks (record_id);

CREATE TABLE task_comments (
    id       BLOB PRIMARY KEY,
    task_id  BLOB NOT NULL REFERENCES tasks(id),
    author   BLOB NOT NULL,
    body     TEXT NOT NULL,
    at       TEXT NOT NULL
);
CREATE INDEX task_comments_task ON task_comments (task_id, at);

-- A user's inbox.
CREATE TABLE notifications (
    id           BLOB PRIMARY KEY,
    user_id      BLOB NOT NULL REFERENCES users(id),
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    record_form  TEXT,
    record_id    BLOB,
    task_id      BLOB,
    created_at   TEXT NOT NULL,
    read_at      TEXT
);
CREATE INDEX notifications_user ON notifications (user_id, created_at);

-- Emails and webhooks waiting to be delivered. `idempotency_key` is unique:
-- the same occurrence handed over twice is stored once.
CREATE TABLE outbox (
    id               BLOB PRIMARY KEY,
    channel          TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
    target           TEXT NOT NULL,
    subject          TEXT,
    body             TEXT NOT NULL,
    format           TEXT,
    idempotency_key  TEXT NOT NULL UNIQUE,
    record_id        BLOB,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    sent_at          TEXT,
    last_error       TEXT
);
CREATE INDEX outbox_pending ON outbox (created_at) WHERE status = 'pending';

-- Whose turn it is, per round-robin (e.g. `role:staff`).
CREATE TABLE assign_turns (
    key        TEXT PRIMARY KEY,
    last_user  BLOB
);
