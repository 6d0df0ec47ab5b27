-- Trellis foundation schema, SQLite dialect.
-- Ids are UUIDs stored as 16-byte blobs (sqlx's encoding), so that byte order
-- is UUIDv7 time order. Times are RFC 3339 UTC text with microseconds, a fixed
-- width so that text order is time order. JSON documents are TEXT read with
-- json_extract; per-form expression indexes are created when a form is saved.

CREATE TABLE users (
    id            BLOB PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'staff')),
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

-- Bearer tokens: only the SHA-256 of a token is kept.
CREATE TABLE api_tokens (
    id          BLOB PRIMARY KEY,
    user_id     BLOB NOT NULL REFERENCES users(id),
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);

-- The form definition in force; every version is also kept in form_versions.
CREATE TABLE forms (
    key         TEXT PRIMARY KEY,
    version     INTEGER NOT NULL,
    definition  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    updated_by  BLOB NOT NULL
);

CREATE TABLE form_versions (
    form        TEXT NOT NULL REFERENCES forms(key),
    version     INTEGER NOT NULL,
    definition  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  BLOB NOT NULL,
    PRIMARY KEY (form, version)
);

CREATE TABLE records (
    id            BLOB PRIMARY KEY,
    form          TEXT NOT NULL REFERENCES forms(key),
    form_version  INTEGER NOT NULL,
    rev           INTEGER NOT NULL,
    data          TEXT NOT NULL,
    segments      TEXT NOT NULL DEFAULT '{}',
    owner         BLOB,
    created_by    BLOB NOT NULL,
    updated_by    BLOB NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    deleted_at    TEXT
);
CREATE INDEX records_form_id ON records (form, id);

-- One row per change. `changes` is {"field": {"from": …, "to": …}} for updates.
CREATE TABLE record_history (
    record_id  BLOB NOT NULL REFERENCES records(id),
    rev        INTEGER NOT NULL,
    op         TEXT NOT NULL CHECK (op IN ('create', 'update', 'delete', 'restore')),
    actor      BLOB NOT NULL,
    at         TEXT NOT NULL,
    changes    TEXT NOT NULL,
    PRIMARY KEY (record_id, rev)
) WITHOUT ROWID;
