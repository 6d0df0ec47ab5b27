//! Background jobs (imports): the job row, its source file and the rows it
//! refused. Like [`crate::work`], the SQL is written once with `$N`
//! parameters and instantiated per backend.
//!
//! A job's `done` moves in the transaction that writes each batch of its rows,
//! after [`Tx::lock_job`] took the job's row lock: two workers on one job take
//! turns batch by batch, and a worker that died leaves `done` where its last
//! commit put it.

use jiff::Timestamp;
use serde_json::Value;
use uuid::Uuid;

use crate::{Result, Store, Tx};

/// A job as stored (its file is kept apart, read by [`Store::job_source`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: Uuid,
    pub kind: String,
    pub form: String,
    pub fingerprint: String,
    pub options: Value,
    pub file_name: String,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    pub total: i64,
    /// Rows handled so far (written, refused, or left alone), in file order.
    pub done: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub failed: i64,
    /// What the job learnt on the way: the column mapping, the encoding.
    pub summary: Value,
    /// Why the whole job stopped, when it did.
    pub error: Option<String>,
    pub created_by: Uuid,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

/// One row a job refused.
#[derive(Debug, Clone, PartialEq)]
pub struct JobError {
    /// The row as the spreadsheet numbers it (the header is row 1).
    pub row: i64,
    pub column: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

macro_rules! job_queries {
    (db = $db:ty, row = $row:ty, time = $time:ty, to_db = $to_db:path, from_db = $from_db:path) => {
        use jiff::Timestamp;
        use serde_json::Value;
        use sqlx::types::Json;
        use sqlx::{Pool, QueryBuilder, Row, Transaction};
        use uuid::Uuid;

        use crate::Result;
        use crate::jobs::{Job, JobError};

        type Db = $db;
        type DbTx = Transaction<'static, Db>;

        const COLUMNS: &str = "id, kind, form, fingerprint, options, file_name, status, total, done, created, updated, unchanged, failed, summary, error, created_by, created_at, updated_at, finished_at";

        fn job_from_row(row: &$row) -> Result<Job> {
            Ok(Job {
                id: row.try_get("id")?,
                kind: row.try_get("kind")?,
                form: row.try_get("form")?,
                fingerprint: row.try_get("fingerprint")?,
                options: row.try_get::<Json<Value>, _>("options")?.0,
                file_name: row.try_get("file_name")?,
                status: row.try_get("status")?,
                total: row.try_get("total")?,
                done: row.try_get("done")?,
                created: row.try_get("created")?,
                updated: row.try_get("updated")?,
                unchanged: row.try_get("unchanged")?,
                failed: row.try_get("failed")?,
                summary: row.try_get::<Json<Value>, _>("summary")?.0,
                error: row.try_get("error")?,
                created_by: row.try_get("created_by")?,
                created_at: $from_db(row.try_get::<$time, _>("created_at")?)?,
                updated_at: $from_db(row.try_get::<$time, _>("updated_at")?)?,
                finished_at: row.try_get::<Option<$time>, _>("finished_at")?.map($from_db).transpose()?,
            })
        }

        pub(crate) async fn insert_job(tx: &mut DbTx, j: &Job, source: &[u8]) -> Result<()> {
            sqlx::query(
                "INSERT INTO jobs (id, kind, form, fingerprint, options, file_name, status, total, summary, created_by, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(j.id)
            .bind(&j.kind)
            .bind(&j.form)
            .bind(&j.fingerprint)
            .bind(Json(&j.options))
            .bind(&j.file_name)
            .bind(&j.status)
            .bind(j.total)
            .bind(Json(&j.summary))
            .bind(j.created_by)
            .bind($to_db(j.created_at))
            .bind($to_db(j.updated_at))
            .execute(&mut **tx)
            .await?;
            sqlx::query("INSERT INTO job_sources (job_id, source) VALUES ($1, $2)").bind(j.id).bind(source).execute(&mut **tx).await?;
            Ok(())
        }

        pub(crate) async fn job(pool: &Pool<Db>, id: Uuid) -> Result<Option<Job>> {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"))).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(job_from_row).transpose()
        }

        pub(crate) async fn jobs(pool: &Pool<Db>, created_by: Option<Uuid>, limit: i64) -> Result<Vec<Job>> {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM jobs WHERE ($1 IS NULL OR created_by = $1) ORDER BY created_at DESC, id DESC LIMIT $2")))
                .bind(created_by)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(job_from_row).collect()
        }

        pub(crate) async fn job_source(pool: &Pool<Db>, id: Uuid) -> Result<Option<Vec<u8>>> {
            Ok(sqlx::query_scalar("SELECT source FROM job_sources WHERE job_id = $1").bind(id).fetch_optional(pool).await?)
        }

        pub(crate) async fn open_job(pool: &Pool<Db>, fingerprint: &str) -> Result<Option<Job>> {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM jobs WHERE fingerprint = $1 AND status IN ('queued', 'running') ORDER BY created_at DESC LIMIT 1"
            )))
            .bind(fingerprint)
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(job_from_row).transpose()
        }

        pub(crate) async fn stale_jobs(pool: &Pool<Db>, before: Timestamp) -> Result<Vec<Uuid>> {
            Ok(sqlx::query_scalar("SELECT id FROM jobs WHERE status IN ('queued', 'running') AND updated_at < $1 ORDER BY created_at").bind($to_db(before)).fetch_all(pool).await?)
        }

        pub(crate) async fn lock_job(tx: &mut DbTx, id: Uuid) -> Result<Option<Job>> {
            // An UPDATE takes the row lock on PostgreSQL and the write lock on SQLite.
            sqlx::query("UPDATE jobs SET done = done WHERE id = $1").bind(id).execute(&mut **tx).await?;
            let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"))).bind(id).fetch_optional(&mut **tx).await?;
            row.as_ref().map(job_from_row).transpose()
        }

        pub(crate) async fn claim_job(tx: &mut DbTx, id: Uuid, seen: Timestamp, now: Timestamp) -> Result<bool> {
            let done = sqlx::query("UPDATE jobs SET updated_at = $3 WHERE id = $1 AND updated_at = $2 AND status IN ('queued', 'running')")
                .bind(id)
                .bind($to_db(seen))
                .bind($to_db(now))
                .execute(&mut **tx)
                .await?;
            Ok(done.rows_affected() == 1)
        }

        pub(crate) async fn save_job(tx: &mut DbTx, j: &Job) -> Result<()> {
            sqlx::query(
                "UPDATE jobs SET status = $2, total = $3, done = $4, created = $5, updated = $6, unchanged = $7, failed = $8, summary = $9, error = $10,
                     updated_at = $11, finished_at = $12 WHERE id = $1",
            )
            .bind(j.id)
            .bind(&j.status)
            .bind(j.total)
            .bind(j.done)
            .bind(j.created)
            .bind(j.updated)
            .bind(j.unchanged)
            .bind(j.failed)
            .bind(Json(&j.summary))
            .bind(&j.error)
            .bind($to_db(j.updated_at))
            .bind(j.finished_at.map($to_db))
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        pub(crate) async fn insert_job_errors(tx: &mut DbTx, job: Uuid, first_seq: i64, errors: &[JobError]) -> Result<()> {
            for (c, chunk) in errors.chunks(500).enumerate() {
                let mut qb = QueryBuilder::<Db>::new("INSERT INTO job_errors (job_id, seq, row_no, col, field, message) ");
                qb.push_values(chunk.iter().enumerate(), |mut b, (i, e)| {
                    b.push_bind(job).push_bind(first_seq + (c * 500 + i) as i64).push_bind(e.row).push_bind(e.column.clone()).push_bind(e.field.clone()).push_bind(e.message.clone());
                });
                qb.build().execute(&mut **tx).await?;
            }
            Ok(())
        }

        pub(crate) async fn job_errors(pool: &Pool<Db>, job: Uuid, offset: i64, limit: i64) -> Result<Vec<JobError>> {
            let rows = sqlx::query("SELECT row_no, col, field, message FROM job_errors WHERE job_id = $1 ORDER BY seq LIMIT $2 OFFSET $3").bind(job).bind(limit).bind(offset).fetch_all(pool).await?;
            rows.iter()
                .map(|r| Ok(JobError { row: r.try_get("row_no")?, column: r.try_get("col")?, field: r.try_get("field")?, message: r.try_get("message")? }))
                .collect()
        }

        pub(crate) async fn job_error_count(pool: &Pool<Db>, job: Uuid) -> Result<i64> {
            Ok(sqlx::query_scalar("SELECT count(*) FROM job_errors WHERE job_id = $1").bind(job).fetch_one(pool).await?)
        }

        pub(crate) async fn open_jobs_of(pool: &Pool<Db>, user: Uuid) -> Result<i64> {
            Ok(sqlx::query_scalar("SELECT count(*) FROM jobs WHERE created_by = $1 AND status IN ('queued', 'running')").bind(user).fetch_one(pool).await?)
        }

        pub(crate) async fn drop_job_source(tx: &mut DbTx, job: Uuid) -> Result<()> {
            sqlx::query("DELETE FROM job_sources WHERE job_id = $1").bind(job).execute(&mut **tx).await?;
            Ok(())
        }

        pub(crate) async fn count_job_errors(tx: &mut DbTx, job: Uuid) -> Result<i64> {
            Ok(sqlx::query_scalar("SELECT count(*) FROM job_errors WHERE job_id = $1").bind(job).fetch_one(&mut **tx).await?)
        }
    };
}

pub(crate) mod on_sqlite {
    fn to_db(t: jiff::Timestamp) -> String {
        crate::sqlite::fmt_ts(t)
    }
    fn from_db(s: String) -> crate::Result<jiff::Timestamp> {
        crate::sqlite::parse_ts(&s)
    }
    job_queries!(db = sqlx::Sqlite, row = sqlx::sqlite::SqliteRow, time = String, to_db = to_db, from_db = from_db);
}

pub(crate) mod on_postgres {
    fn from_db(t: time::OffsetDateTime) -> crate::Result<jiff::Timestamp> {
        crate::postgres::from_db(t)
    }
    job_queries!(db = sqlx::Postgres, row = sqlx::postgres::PgRow, time = time::OffsetDateTime, to_db = crate::postgres::to_db, from_db = from_db);
}

macro_rules! read {
    ($self:expr, $m:ident ( $($arg:expr),* )) => {
        match $self {
            Store::Sqlite(s) => on_sqlite::$m(&s.reader, $($arg),*).await,
            Store::Postgres(s) => on_postgres::$m(&s.pool, $($arg),*).await,
        }
    };
}

macro_rules! in_tx {
    ($self:expr, $m:ident ( $($arg:expr),* )) => {
        match $self {
            Tx::Sqlite(tx) => on_sqlite::$m(tx, $($arg),*).await,
            Tx::Postgres(tx) => on_postgres::$m(tx, $($arg),*).await,
        }
    };
}

impl Store {
    pub async fn job(&self, id: Uuid) -> Result<Option<Job>> {
        read!(self, job(id))
    }

    /// The newest jobs, of one user or of everyone.
    pub async fn jobs(&self, created_by: Option<Uuid>, limit: i64) -> Result<Vec<Job>> {
        read!(self, jobs(created_by, limit))
    }

    pub async fn job_source(&self, id: Uuid) -> Result<Option<Vec<u8>>> {
        read!(self, job_source(id))
    }

    /// The unfinished job with this fingerprint: the same import started again.
    pub async fn open_job(&self, fingerprint: &str) -> Result<Option<Job>> {
        read!(self, open_job(fingerprint))
    }

    /// Unfinished jobs nobody has moved since `before`: their worker died.
    pub async fn stale_jobs(&self, before: Timestamp) -> Result<Vec<Uuid>> {
        read!(self, stale_jobs(before))
    }

    /// The refused rows `offset..offset + limit` of a job, in file order.
    pub async fn job_errors(&self, job: Uuid, offset: i64, limit: i64) -> Result<Vec<JobError>> {
        read!(self, job_errors(job, offset, limit))
    }

    /// How many refused rows a job keeps.
    pub async fn job_error_count(&self, job: Uuid) -> Result<i64> {
        read!(self, job_error_count(job))
    }

    /// A user's unfinished jobs.
    pub async fn open_jobs_of(&self, user: Uuid) -> Result<i64> {
        read!(self, open_jobs_of(user))
    }
}

impl Tx {
    pub async fn insert_job(&mut self, j: &Job, source: &[u8]) -> Result<()> {
        in_tx!(self, insert_job(j, source))
    }

    /// Takes the job's row lock and reads it.
    pub async fn lock_job(&mut self, id: Uuid) -> Result<Option<Job>> {
        in_tx!(self, lock_job(id))
    }

    /// Takes over an unfinished job last moved at `seen`; false when another worker moved it since.
    pub async fn claim_job(&mut self, id: Uuid, seen: Timestamp, now: Timestamp) -> Result<bool> {
        in_tx!(self, claim_job(id, seen, now))
    }

    pub async fn save_job(&mut self, j: &Job) -> Result<()> {
        in_tx!(self, save_job(j))
    }

    /// Stores refused rows, numbered on from `first_seq`.
    pub async fn insert_job_errors(&mut self, job: Uuid, first_seq: i64, errors: &[JobError]) -> Result<()> {
        in_tx!(self, insert_job_errors(job, first_seq, errors))
    }

    /// Forgets a finished job's file (it is kept only to resume an unfinished one).
    pub async fn drop_job_source(&mut self, job: Uuid) -> Result<()> {
        in_tx!(self, drop_job_source(job))
    }

    pub async fn count_job_errors(&mut self, job: Uuid) -> Result<i64> {
        in_tx!(self, count_job_errors(job))
    }
}
