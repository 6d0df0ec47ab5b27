-- Trellis foundation schema, PostgreSQL dialect.
-- JSON documents are jsonb; per-form expression indexes on (data->'field')
-- are created when a form is saved. Everything lives in the connection's
-- current schema, so tests (and tenants) can each use their own.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'manager', 'staff')),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

-- Bearer tokens: only the SHA-256 of a token is kept.
CREATE TABLE api_tokens (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users(id),
    token_hash  text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

-- The form definition in force; every version is also kept in form_versions.
CREATE TABLE forms (
    key         text PRIMARY KEY,
    version     bigint NOT NULL,
    definition  jsonb NOT NULL,
    updated_at  timestamptz NOT NULL,
    updated_by  uuid NOT NULL
);

CREATE TABLE form_versions (
    form        text NOT NULL REFERENCES forms(key),
    version     bigint NOT NULL,
    definition  jsonb NOT NULL,
    created_at  timestamptz NOT NULL,
    created_by  uuid NOT NULL,
    PRIMARY KEY (form, version)
);

CREATE TABLE records (
    id            uuid PRIMARY KEY,
    form          text NOT NULL REFERENCES forms(key),
    form_version  bigint NOT NULL,
    rev           bigint NOT NULL,
    data          jsonb NOT NULL,
    segments      jsonb NOT NULL DEFAULT '{}',
    owner         uuid,
    created_by    uuid NOT NULL,
    updated_by    uuid NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz
);
CREATE INDEX records_form_id ON records (form, id);

-- One row per change. `changes` is {"field": {"from": …, "to": …}} for updates.
CREATE TABLE record_history (
    record_id  uuid NOT NULL REFERENCES records(id),
    rev        bigint NOT NULL,
    op         text NOT NULL CHECK (op IN ('create', 'update', 'delete', 'restore')),
    actor      uuid NOT NULL,
    at         timestamptz NOT NULL,
    changes    jsonb NOT NULL,
    PRIMARY KEY (record_id, rev)
);
