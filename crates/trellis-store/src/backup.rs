//! Backups of a SQLite database: a consistent copy taken while a server
//! writes, and the checks a copy passes before it replaces a database.
//!
//! `VACUUM INTO` copies what one read transaction sees: every transaction
//! committed before it began and nothing of one in flight, while WAL lets the
//! server go on writing. The file it writes is a plain, compacted database
//! with no `-wal` beside it. The alternative, copying the file and its WAL
//! with `cp`, is only consistent with the server stopped; SQLite's online
//! backup API restarts its copy whenever a write lands, so under steady load
//! it may never finish.
//!
//! PostgreSQL has `pg_dump` and `pg_restore`, which do this better than we
//! could; `trellis backup` points there (docs/operations.md).

use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection, SqliteConnection};

use crate::{Result, StoreError};

/// What a SQLite file holds, as far as a restore cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// The highest migration applied to it.
    pub migration: i64,
    pub forms: i64,
    pub records: i64,
    pub users: i64,
}

/// Why a file cannot be restored.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("{0} is not a SQLite database: {1}")]
    NotSqlite(String, String),
    #[error("{0} is not a Trellis database (it has no migration history)")]
    NotTrellis(String),
    #[error("{path} was written by a newer Trellis (migration {found}; this one knows up to {known}); restore it with that version")]
    Newer { path: String, found: i64, known: i64 },
    #[error("{path} has migration {version}, which this Trellis does not know or knows differently")]
    Unknown { path: String, version: i64 },
    #[error("{path} has an unfinished migration {version}")]
    Dirty { path: String, version: i64 },
    #[error("{0} is damaged: {1}")]
    Damaged(String, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The file path of a `sqlite:` URL (`sqlite://FILE`, `sqlite:FILE`, options after `?` dropped).
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let file = rest.split('?').next().unwrap_or_default();
    (!file.is_empty() && file != ":memory:").then(|| file.into())
}

async fn open(path: &Path, read_only: bool) -> Result<SqliteConnection> {
    Ok(SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .read_only(read_only)
        .busy_timeout(std::time::Duration::from_secs(30))
        .connect()
        .await?)
}

/// Writes a consistent copy of the SQLite database at `url` to `dest`, which
/// must not exist (the caller writes to a fresh name and renames).
pub async fn sqlite_backup(url: &str, dest: &Path) -> Result<()> {
    let options = SqliteConnectOptions::from_str(url)?.create_if_missing(false);
    let mut conn = options.connect().await?;
    let dest = dest.to_str().ok_or_else(|| StoreError::Corrupt(format!("{} is not a UTF-8 path", dest.display())))?;
    sqlx::query("VACUUM INTO ?").bind(dest).execute(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

/// Checks that `path` is a sound Trellis database this version can run
/// (its migrations are a prefix of ours), and counts what it holds.
pub async fn sqlite_inspect(path: &Path) -> std::result::Result<Inspection, Refusal> {
    let shown = path.display().to_string();
    let mut conn = open(path, true).await.map_err(|e| Refusal::NotSqlite(shown.clone(), e.to_string()))?;
    // Reading the header is what tells a database from any other file.
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'").fetch_all(&mut conn).await.map_err(|e| Refusal::NotSqlite(shown.clone(), e.to_string()))?;
    if !tables.iter().any(|t| t == "_sqlx_migrations") {
        return Err(Refusal::NotTrellis(shown));
    }
    let check: String = sqlx::query_scalar("PRAGMA quick_check").fetch_one(&mut conn).await.map_err(StoreError::from)?;
    if check != "ok" {
        return Err(Refusal::Damaged(shown, check));
    }
    let applied: Vec<(i64, Vec<u8>, bool)> =
        sqlx::query_as("SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version").fetch_all(&mut conn).await.map_err(StoreError::from)?;
    let known = crate::sqlite::MIGRATOR.iter().filter(|m| m.migration_type.is_up_migration()).map(|m| (m.version, m.checksum.to_vec())).collect::<std::collections::BTreeMap<_, _>>();
    let latest = known.keys().next_back().copied().unwrap_or(0);
    let Some(&(found, _, _)) = applied.last() else { return Err(Refusal::NotTrellis(shown)) };
    if found > latest {
        return Err(Refusal::Newer { path: shown, found, known: latest });
    }
    for (version, checksum, success) in &applied {
        if known.get(version) != Some(checksum) {
            return Err(Refusal::Unknown { path: shown, version: *version });
        }
        if !success {
            return Err(Refusal::Dirty { path: shown, version: *version });
        }
    }
    let count = |table: &'static str| format!("SELECT count(*) FROM {table}");
    let mut n = [0i64; 3];
    for (slot, table) in n.iter_mut().zip(["forms", "records", "users"]) {
        *slot = sqlx::query_scalar(sqlx::AssertSqlSafe(count(table))).fetch_one(&mut conn).await.map_err(StoreError::from)?;
    }
    conn.close().await.map_err(StoreError::from)?;
    Ok(Inspection { migration: found, forms: n[0], records: n[1], users: n[2] })
}

/// Whether the file at `path` holds anything: a table, a row of any kind.
/// A missing or zero-length file is empty.
pub async fn sqlite_is_empty(path: &Path) -> Result<bool> {
    if std::fs::metadata(path).map_or(true, |m| m.len() == 0) {
        return Ok(true);
    }
    let mut conn = open(path, true).await?;
    let objects: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_master").fetch_one(&mut conn).await?;
    conn.close().await?;
    Ok(objects == 0)
}

/// Copies the database at `src` to the new file `dest` as a single file in
/// rollback-journal mode; the server switches it back to WAL when it opens it.
pub async fn sqlite_copy(src: &Path, dest: &Path) -> Result<()> {
    let mut conn = open(src, true).await?;
    let dest_str = dest.to_str().ok_or_else(|| StoreError::Corrupt(format!("{} is not a UTF-8 path", dest.display())))?;
    sqlx::query("VACUUM INTO ?").bind(dest_str).execute(&mut conn).await?;
    conn.close().await?;
    // VACUUM INTO keeps the source's journal mode in the header; a copy that says WAL
    // would look for a -wal file that is not there until it is opened read-write.
    let mut out = SqliteConnectOptions::new().filename(dest).journal_mode(SqliteJournalMode::Delete).connect().await?;
    sqlx::query("SELECT 1").execute(&mut out).await?;
    out.close().await?;
    Ok(())
}
