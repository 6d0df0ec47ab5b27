-- Long work run in the background: imports. The file is kept with the job,
-- so a job cut off by a crash resumes from `done` (stored in the transaction
-- that commits each batch of rows) and no row is lost or written twice.
CREATE TABLE jobs (
    id           BLOB PRIMARY KEY,
    kind         TEXT NOT NULL,
    form         TEXT NOT NULL,
    -- SHA-256 of the form, the options and the file: the same import run again resumes this job.
    fingerprint  TEXT NOT NULL,
    options      TEXT NOT NULL,
    file_name    TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    total        BIGINT NOT NULL DEFAULT 0,
    done         BIGINT NOT NULL DEFAULT 0,
    created      BIGINT NOT NULL DEFAULT 0,
    updated      BIGINT NOT NULL DEFAULT 0,
    unchanged    BIGINT NOT NULL DEFAULT 0,
    failed       BIGINT NOT NULL DEFAULT 0,
    summary      TEXT NOT NULL DEFAULT '{}',
    error        TEXT,
    created_by   BLOB NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    finished_at  TEXT
);
-- One unfinished job per fingerprint: two identical uploads at once make one job.
CREATE UNIQUE INDEX jobs_open_fingerprint ON jobs (fingerprint) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_open ON jobs (status, updated_at) WHERE status IN ('queued', 'running');

-- A job's file, apart from the job row: the row is rewritten by every
-- batch, and a row holding a 10 MiB file would be rewritten with it.
CREATE TABLE job_sources (
    job_id   BLOB PRIMARY KEY,
    source   BLOB NOT NULL
);

-- The rows a job refused, and why.
CREATE TABLE job_errors (
    job_id   BLOB NOT NULL,
    seq      BIGINT NOT NULL,
    row_no   BIGINT NOT NULL,
    col      TEXT,
    field    TEXT,
    message  TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
