//! The SQLite backend: one file, WAL, `synchronous=NORMAL`.
//!
//! Writes go through a pool of exactly one connection, so SQLite's single
//! writer is an explicit queue in our process rather than `SQLITE_BUSY`
//! retries; reads use a separate pool and, thanks to WAL, never wait for the
//! writer.

use std::str::FromStr;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Map, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{AssertSqlSafe, QueryBuilder, Row, Sqlite, Transaction};
use trellis_core::query::{Cmp, Lit, ListQuery, Target};
use trellis_core::record::Op;
use trellis_core::{HistoryEntry, Record};
use uuid::Uuid;

use crate::filter::{self, Dialect};
use crate::{FormSave, Result, StoreError, StoredForm, SweepState, Tx, User, classify, index, layout};

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

/// Rows per multi-row INSERT: 12 columns × 500 stays far below SQLite's 32,766 variables.
const CHUNK: usize = 500;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) writer: SqlitePool,
    pub(crate) reader: SqlitePool,
}

/// Times are stored as fixed-width UTC text so that text order is time order.
pub fn fmt_ts(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub(crate) fn parse_ts(s: &str) -> Result<Timestamp> {
    s.parse().map_err(|e| StoreError::Corrupt(format!("time '{s}': {e}")))
}

fn json_text(m: &Map<String, Value>) -> String {
    serde_json::to_string(m).expect("JSON maps serialize")
}

fn parse_obj(s: &str) -> Result<Map<String, Value>> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("JSON document: {e}")))
}

fn record_from_row(row: &SqliteRow) -> Result<Record> {
    Ok(Record {
        id: row.try_get("id")?,
        form: row.try_get("form")?,
        form_version: row.try_get("form_version")?,
        rev: row.try_get("rev")?,
        data: parse_obj(row.try_get("data")?)?,
        segments: parse_obj(row.try_get("segments")?)?,
        owner: row.try_get("owner")?,
        created_by: row.try_get("created_by")?,
        updated_by: row.try_get("updated_by")?,
        created_at: parse_ts(row.try_get("created_at")?)?,
        updated_at: parse_ts(row.try_get("updated_at")?)?,
        deleted_at: row.try_get::<Option<&str>, _>("deleted_at")?.map(parse_ts).transpose()?,
    })
}

fn user_from_row(row: &SqliteRow) -> Result<User> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: row.try_get("role")?,
        password_hash: row.try_get("password_hash")?,
        manager: row.try_get("manager_id")?,
        created_at: parse_ts(row.try_get("created_at")?)?,
    })
}

pub(crate) struct Lite;

/// The column and key of a field or segment.
fn json_path(t: &Target) -> (&'static str, &str) {
    match t {
        Target::Data(k) => ("data", k.as_str()),
        Target::Segment(k) => ("segments", k.as_str()),
        // Bookkeeping columns are not JSON; the core gives them no JSON operators.
        Target::Meta(m) => ("data", filter::meta_column(*m)),
    }
}

/// What `json_type` answers for values of `v`'s JSON type.
fn sqlite_types(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "'text'",
        Value::Number(_) => "'integer', 'real'",
        Value::Bool(_) => "'true', 'false'",
        Value::Array(_) => "'array'",
        Value::Object(_) => "'object'",
        Value::Null => "'null'",
    }
}

impl Dialect for Lite {
    type DB = Sqlite;
    // SQLite orders NULL first ascending on its own.
    const EXPLAIN: &'static str = "EXPLAIN QUERY PLAN ";
    const COLUMNS: &'static str = "id BLOB PRIMARY KEY, form_version INTEGER NOT NULL, rev INTEGER NOT NULL, data TEXT NOT NULL, segments TEXT NOT NULL DEFAULT '{}', \
        owner BLOB, created_by BLOB NOT NULL, updated_by BLOB NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT";
    const INDEX_NULLS: &'static str = "";

    fn expr(t: &Target) -> String {
        match t {
            Target::Data(k) => format!("json_extract(data, '$.{k}')"),
            Target::Segment(k) => format!("json_extract(segments, '$.{k}')"),
            Target::Meta(m) => filter::meta_column(*m).to_owned(),
        }
    }

    fn bind(qb: &mut QueryBuilder<Sqlite>, lit: &Lit) {
        match lit {
            Lit::Json(Value::String(s)) => qb.push_bind(s.clone()),
            Lit::Json(Value::Bool(b)) => qb.push_bind(i64::from(*b)),
            Lit::Json(Value::Number(n)) => match n.as_i64() {
                Some(i) => qb.push_bind(i),
                None => qb.push_bind(n.as_f64().unwrap_or(f64::NAN)),
            },
            Lit::Json(other) => qb.push_bind(other.to_string()),
            Lit::Id(id) => qb.push_bind(*id),
            Lit::Time(t) => qb.push_bind(fmt_ts(*t)),
            Lit::Int(i) => qb.push_bind(*i),
        };
    }

    fn same_type(t: &Target, lit: &Value, _op: Cmp) -> Option<String> {
        let (column, key) = json_path(t);
        Some(format!("json_type({column}, '$.{key}') IN ({})", sqlite_types(lit)))
    }

    fn contains_text(qb: &mut QueryBuilder<Sqlite>, t: &Target, lit: &Lit) {
        let (column, key) = json_path(t);
        // Only text contains text: instr would read a number or `true` (1) as its digits.
        qb.push(format!("(json_type({column}, '$.{key}') = 'text' AND instr({}, ", Self::expr(t)));
        Self::bind(qb, lit);
        qb.push(") > 0)");
    }

    fn contains_element(qb: &mut QueryBuilder<Sqlite>, t: &Target, lit: &Lit) {
        let (column, key) = json_path(t);
        // json_each also walks an object's values or yields a scalar itself; PostgreSQL's `@>` on an array does neither.
        let types = match lit {
            Lit::Json(v) => sqlite_types(v),
            _ => "'text'",
        };
        qb.push(format!(
            "(json_type(records.{column}, '$.{key}') = 'array' AND EXISTS (SELECT 1 FROM json_each(records.{column}, '$.{key}') WHERE json_each.type IN ({types}) AND json_each.value = "
        ));
        Self::bind(qb, lit);
        qb.push("))");
    }

    fn bind_int(qb: &mut QueryBuilder<Sqlite>, i: i64) {
        qb.push_bind(i);
    }

    fn order(expr: &str, desc: bool, _nullable: bool) -> String {
        format!("{expr} {}", if desc { "DESC" } else { "ASC" })
    }

    fn records_by(table: &str, index: &str) -> String {
        format!("{table} AS records INDEXED BY \"{index}\"")
    }
}

impl SqliteStore {
    pub async fn connect(url: &str) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("temp_store", "memory");
        // A larger writer cache and rarer WAL checkpoints were measured (docs/benchmarks.md):
        // they did not move batch throughput and cost ~40 MiB after load, so the defaults stay.
        let writer = SqlitePoolOptions::new().max_connections(1).min_connections(1).connect_with(options.clone()).await?;
        MIGRATOR.run(&writer).await?;
        upgrade_layout(&writer).await?;
        let reader = SqlitePoolOptions::new().max_connections(4).connect_with(options.read_only(true)).await?;
        Ok(SqliteStore { writer, reader })
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    pub async fn begin(&self) -> Result<Tx> {
        Ok(Tx::Sqlite(self.writer.begin().await?))
    }

    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    pub async fn count_users(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&self.reader).await?)
    }

    pub async fn insert_user(&self, u: &User) -> Result<()> {
        sqlx::query("INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(u.id)
            .bind(&u.email)
            .bind(&u.name)
            .bind(&u.role)
            .bind(&u.password_hash)
            .bind(fmt_ts(u.created_at))
            .execute(&self.writer)
            .await
            .map_err(classify)?;
        Ok(())
    }

    pub async fn find_user(&self, email_or_id: &str) -> Result<Option<User>> {
        let row = match Uuid::parse_str(email_or_id) {
            Ok(id) => sqlx::query("SELECT * FROM users WHERE id = ?").bind(id).fetch_optional(&self.reader).await?,
            Err(_) => sqlx::query("SELECT * FROM users WHERE email = ?").bind(email_or_id).fetch_optional(&self.reader).await?,
        };
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query("SELECT * FROM users ORDER BY email").fetch_all(&self.reader).await?;
        rows.iter().map(user_from_row).collect()
    }

    pub async fn insert_token(&self, id: Uuid, user: Uuid, hash: &str, at: Timestamp) -> Result<()> {
        sqlx::query("INSERT INTO api_tokens (id, user_id, token_hash, created_at) VALUES (?, ?, ?, ?)")
            .bind(id)
            .bind(user)
            .bind(hash)
            .bind(fmt_ts(at))
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn user_for_token(&self, hash: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT u.* FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? AND t.revoked_at IS NULL")
            .bind(hash)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn revoke_token(&self, hash: &str, at: Timestamp) -> Result<bool> {
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL")
            .bind(fmt_ts(at))
            .bind(hash)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn forms(&self) -> Result<Vec<StoredForm>> {
        let rows = sqlx::query("SELECT * FROM forms ORDER BY key").fetch_all(&self.reader).await?;
        rows.iter().map(form_from_row).collect()
    }

    pub async fn form(&self, key: &str) -> Result<Option<StoredForm>> {
        let row = sqlx::query("SELECT * FROM forms WHERE key = ?").bind(key).fetch_optional(&self.reader).await?;
        row.as_ref().map(form_from_row).transpose()
    }

    pub async fn record(&self, form: &str, id: Uuid) -> Result<Option<Record>> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {} FROM {} WHERE id = ?", layout::columns(form)?, layout::table(form)?)))
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    pub async fn list(&self, form: &str, q: &ListQuery) -> Result<Vec<Record>> {
        let rows = filter::list_query::<Lite>(form, q)?.build().fetch_all(&self.reader).await?;
        let mut records = rows.iter().map(record_from_row).collect::<Result<Vec<_>>>()?;
        if let Some(mut tail) = filter::null_tail(q).filter(|_| records.len() < q.limit as usize) {
            tail.limit = q.limit - records.len() as u32;
            let rows = filter::list_query::<Lite>(form, &tail)?.build().fetch_all(&self.reader).await?;
            records.extend(rows.iter().map(record_from_row).collect::<Result<Vec<_>>>()?);
        }
        Ok(records)
    }

    pub async fn count_matching(&self, form: &str, filter: Option<&trellis_core::query::Filter>) -> Result<i64> {
        Ok(filter::count_query::<Lite>("", form, filter)?.build_query_scalar().fetch_one(&self.reader).await?)
    }

    pub async fn matching(&self, form: &str, filter: &trellis_core::query::Filter, index: Option<&str>) -> Result<Vec<Record>> {
        let rows = filter::matching_query::<Lite>(None, form, filter, index)?.build().fetch_all(&self.reader).await?;
        rows.iter().map(record_from_row).collect()
    }

    /// SQLite's statistics (`sqlite_stat1`), from a sample of each index, so
    /// that refreshing them costs milliseconds however large the table.
    pub async fn analyze(&self) -> Result<()> {
        let mut conn = self.writer.acquire().await?;
        sqlx::query("PRAGMA analysis_limit = 1000").execute(&mut *conn).await?;
        sqlx::query("ANALYZE").execute(&mut *conn).await?;
        Ok(())
    }

    pub async fn explain(&self, form: &str, what: crate::Explain<'_>) -> Result<Vec<String>> {
        let rows = filter::explain_query::<Lite>(form, &what)?.build().fetch_all(&self.reader).await?;
        rows.iter().map(|r| Ok(r.try_get::<String, _>("detail")?)).collect()
    }

    pub async fn sweep(&self, form: &str) -> Result<Option<SweepState>> {
        let row = sqlx::query("SELECT * FROM sweeps WHERE form = ?").bind(form).fetch_optional(&self.reader).await?;
        row.map(|row| {
            Ok(SweepState {
                form: row.try_get("form")?,
                started_at: parse_ts(row.try_get("started_at")?)?,
                after: row.try_get("after_id")?,
                scanned: row.try_get("scanned")?,
                changed: row.try_get("changed")?,
                failed: row.try_get("failed")?,
                finished_at: row.try_get::<Option<&str>, _>("finished_at")?.map(parse_ts).transpose()?,
            })
        })
        .transpose()
    }

    pub async fn history(&self, id: Uuid) -> Result<Vec<HistoryEntry>> {
        let rows = sqlx::query("SELECT h.*, COALESCE(u.email, 'public link: ' || COALESCE(pl.title, pl.form)) AS email FROM record_history h LEFT JOIN users u ON u.id = h.actor LEFT JOIN public_links pl ON pl.id = h.actor WHERE h.record_id = ? ORDER BY h.rev")
            .bind(id)
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|row| {
                let op: String = row.try_get("op")?;
                Ok(HistoryEntry {
                    record_id: row.try_get("record_id")?,
                    rev: row.try_get("rev")?,
                    op: Op::parse(&op).ok_or_else(|| StoreError::Corrupt(format!("history op '{op}'")))?,
                    actor: row.try_get("actor")?,
                    actor_email: row.try_get("email")?,
                    at: parse_ts(row.try_get("at")?)?,
                    changes: parse_obj(row.try_get("changes")?)?,
                })
            })
            .collect()
    }
}

fn form_from_row(row: &SqliteRow) -> Result<StoredForm> {
    Ok(StoredForm {
        key: row.try_get("key")?,
        version: row.try_get("version")?,
        definition: serde_json::from_str(row.try_get("definition")?).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        updated_at: parse_ts(row.try_get("updated_at")?)?,
    })
}

type SqliteTx = Transaction<'static, Sqlite>;

pub(crate) async fn save_form(tx: &mut SqliteTx, f: &FormSave<'_>) -> Result<()> {
    let definition = f.definition.to_string();
    sqlx::query(
        "INSERT INTO forms (key, version, definition, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET version = excluded.version, definition = excluded.definition,
             updated_at = excluded.updated_at, updated_by = excluded.updated_by",
    )
    .bind(f.key)
    .bind(f.version)
    .bind(&definition)
    .bind(fmt_ts(f.at))
    .bind(f.by)
    .execute(&mut **tx)
    .await?;
    sqlx::query("INSERT INTO form_versions (form, version, definition, created_at, created_by) VALUES (?, ?, ?, ?, ?)")
        .bind(f.key)
        .bind(f.version)
        .bind(&definition)
        .bind(fmt_ts(f.at))
        .bind(f.by)
        .execute(&mut **tx)
        .await
        .map_err(classify)?;

    for ddl in layout::table_ddl::<Lite>(f.key)? {
        sqlx::query(AssertSqlSafe(ddl)).execute(&mut **tx).await?;
    }
    let existing: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?")
        .bind(layout::table(f.key)?)
        .fetch_all(&mut **tx)
        .await?;
    let prefixes = index::prefixes(f.key);
    for name in existing.iter().filter(|n| prefixes.iter().any(|p| n.starts_with(p.as_str()))) {
        if !f.indexes.iter().any(|s| &s.name == name) {
            sqlx::query(AssertSqlSafe(format!("DROP INDEX \"{name}\""))).execute(&mut **tx).await?;
        }
    }
    for spec in f.indexes.iter().filter(|s| !existing.contains(&s.name)) {
        sqlx::query(AssertSqlSafe(filter::index_ddl::<Lite>(f.key, spec)?)).execute(&mut **tx).await.map_err(classify)?;
    }
    Ok(())
}

/// Whether `records` still holds the records themselves (the layout before per-form tables).
async fn shared_table(conn: &mut sqlx::SqliteConnection) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pragma_table_info('records') WHERE name = 'data'").fetch_one(conn).await?;
    Ok(n > 0)
}

async fn table_exists(conn: &mut sqlx::SqliteConnection, name: &str) -> Result<bool> {
    Ok(sqlx::query_scalar::<_, i64>("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?").bind(name).fetch_one(conn).await? > 0)
}

/// Brings the database to the current layout ([`layout`]), one step per transaction.
async fn upgrade_layout(writer: &SqlitePool) -> Result<()> {
    let mut conn = writer.acquire().await?;
    let shared = shared_table(&mut conn).await?;
    let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'records\\_\\_%' ESCAPE '\\'").fetch_all(&mut *conn).await?;
    let forms: Vec<(String, String)> = sqlx::query_as("SELECT key, definition FROM forms ORDER BY key").fetch_all(&mut *conn).await?;
    drop(conn);
    let forms: Vec<(String, Value)> = forms.into_iter().filter_map(|(k, d)| serde_json::from_str(&d).ok().map(|d| (k, d))).collect();
    let steps = layout::plan(shared, &tables.into_iter().collect(), &forms);
    layout::run(&steps, |step| async move {
        let mut conn = writer.acquire().await?;
        match step {
            layout::Step::Move { form, indexes } => {
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                if !table_exists(&mut tx, &layout::table(form)?).await? {
                    for ddl in layout::Step::move_ddl::<Lite>(form, indexes)? {
                        sqlx::query(AssertSqlSafe(ddl)).execute(&mut *tx).await?;
                    }
                }
                tx.commit().await?;
            }
            layout::Step::Registry => {
                // The documented way to replace a table others refer to: with foreign keys off
                // (they cannot be switched inside a transaction), build the new one, drop the old,
                // rename, then check every reference before committing.
                sqlx::query("PRAGMA foreign_keys = OFF").execute(&mut *conn).await?;
                let done = to_registry(&mut conn).await;
                sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                done?;
            }
        }
        Ok(())
    })
    .await
}

async fn to_registry(conn: &mut sqlx::SqliteConnection) -> Result<()> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    if shared_table(&mut tx).await? {
        for ddl in [
            format!("CREATE TABLE records_registry ({REGISTRY}) WITHOUT ROWID"),
            "INSERT INTO records_registry (id, form) SELECT id, form FROM records".to_owned(),
            "DROP TABLE records".to_owned(),
            "ALTER TABLE records_registry RENAME TO records".to_owned(),
        ] {
            sqlx::query(AssertSqlSafe(ddl)).execute(&mut *tx).await?;
        }
        let broken: Vec<SqliteRow> = sqlx::query("PRAGMA foreign_key_check").fetch_all(&mut *tx).await?;
        if !broken.is_empty() {
            return Err(StoreError::Corrupt(format!("{} rows refer to records that are not there; the storage upgrade was rolled back", broken.len())));
        }
    }
    tx.commit().await?;
    Ok(())
}

/// The registry's columns: every record's id and form, what history, workflow
/// instances and trigger schedules refer to. Rows are small, so the id is the table's key.
const REGISTRY: &str = "id BLOB PRIMARY KEY, form TEXT NOT NULL REFERENCES forms(key)";

pub(crate) async fn existing_ids(tx: &mut SqliteTx, form: &str, ids: &[Uuid]) -> Result<Vec<Uuid>> {
    let mut found = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Sqlite>::new(format!("SELECT id FROM {} WHERE deleted_at IS NULL AND id IN (", layout::table(form)?));
        let mut list = qb.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        qb.push(")");
        let rows = qb.build().fetch_all(&mut **tx).await?;
        for row in rows {
            found.push(row.try_get("id")?);
        }
    }
    Ok(found)
}

pub(crate) async fn list(tx: &mut SqliteTx, form: &str, q: &ListQuery) -> Result<Vec<Record>> {
    let rows = filter::list_query::<Lite>(form, q)?.build().fetch_all(&mut **tx).await?;
    rows.iter().map(record_from_row).collect()
}

pub(crate) async fn record_for_update(tx: &mut SqliteTx, form: &str, id: Uuid) -> Result<Option<Record>> {
    // The single writer connection already serializes writers: no lock needed.
    let row = sqlx::query(AssertSqlSafe(format!("SELECT {} FROM {} WHERE id = ?", layout::columns(form)?, layout::table(form)?)))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(record_from_row).transpose()
}

pub(crate) async fn insert_records(tx: &mut SqliteTx, records: &[Record]) -> Result<()> {
    for chunk in records.chunk_by(|a, b| a.form == b.form).flat_map(|same| same.chunks(CHUNK)) {
        let mut qb = QueryBuilder::<Sqlite>::new("INSERT INTO records (id, form) ");
        qb.push_values(chunk, |mut b, r| {
            b.push_bind(r.id).push_bind(r.form.clone());
        });
        qb.build().execute(&mut **tx).await.map_err(classify)?;
        let mut qb = QueryBuilder::<Sqlite>::new(format!("INSERT INTO {} ({}) ", layout::table(&chunk[0].form)?, layout::STORED));
        qb.push_values(chunk, |mut b, r| {
            b.push_bind(r.id)
                .push_bind(r.form_version)
                .push_bind(r.rev)
                .push_bind(json_text(&r.data))
                .push_bind(json_text(&r.segments))
                .push_bind(r.owner)
                .push_bind(r.created_by)
                .push_bind(r.updated_by)
                .push_bind(fmt_ts(r.created_at))
                .push_bind(fmt_ts(r.updated_at))
                .push_bind(r.deleted_at.map(fmt_ts));
        });
        qb.build().execute(&mut **tx).await.map_err(classify)?;
    }
    Ok(())
}

pub(crate) async fn update_record(tx: &mut SqliteTx, r: &Record, expected_rev: i64) -> Result<bool> {
    let done = sqlx::query(AssertSqlSafe(format!(
        "UPDATE {} SET form_version = ?, rev = ?, data = ?, segments = ?, owner = ?, updated_by = ?, updated_at = ?, deleted_at = ?
         WHERE id = ? AND rev = ?",
        layout::table(&r.form)?
    )))
    .bind(r.form_version)
    .bind(r.rev)
    .bind(json_text(&r.data))
    .bind(json_text(&r.segments))
    .bind(r.owner)
    .bind(r.updated_by)
    .bind(fmt_ts(r.updated_at))
    .bind(r.deleted_at.map(fmt_ts))
    .bind(r.id)
    .bind(expected_rev)
    .execute(&mut **tx)
    .await
    .map_err(classify)?;
    Ok(done.rows_affected() == 1)
}

/// Many records' derived values (the sweep); on SQLite a statement is a
/// function call, so one per record costs little. Returns the ids written.
pub(crate) async fn update_derived(tx: &mut SqliteTx, records: &[(Record, i64)]) -> Result<Vec<Uuid>> {
    let mut written = Vec::with_capacity(records.len());
    for (r, expected) in records {
        if update_record(tx, r, *expected).await? {
            written.push(r.id);
        }
    }
    Ok(written)
}

pub(crate) async fn insert_history(tx: &mut SqliteTx, entries: &[HistoryEntry]) -> Result<()> {
    for chunk in entries.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Sqlite>::new("INSERT INTO record_history (record_id, rev, op, actor, at, changes) ");
        qb.push_values(chunk, |mut b, h| {
            b.push_bind(h.record_id)
                .push_bind(h.rev)
                .push_bind(h.op.as_str())
                .push_bind(h.actor)
                .push_bind(fmt_ts(h.at))
                .push_bind(json_text(&h.changes));
        });
        qb.build().execute(&mut **tx).await?;
    }
    Ok(())
}

pub(crate) async fn save_sweep(tx: &mut SqliteTx, s: &SweepState) -> Result<()> {
    sqlx::query(
        "INSERT INTO sweeps (form, started_at, after_id, scanned, changed, failed, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (form) DO UPDATE SET started_at = excluded.started_at, after_id = excluded.after_id, scanned = excluded.scanned,
             changed = excluded.changed, failed = excluded.failed, finished_at = excluded.finished_at",
    )
    .bind(&s.form)
    .bind(fmt_ts(s.started_at))
    .bind(s.after)
    .bind(s.scanned)
    .bind(s.changed)
    .bind(s.failed)
    .bind(s.finished_at.map(fmt_ts))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_fixed_width() {
        let t: jiff::Timestamp = "2026-11-23T10:00:00Z".parse().unwrap();
        assert_eq!(super::fmt_ts(t), "2026-11-23T10:00:00.000000Z");
        let t: jiff::Timestamp = "2026-11-23T10:00:00.5Z".parse().unwrap();
        assert_eq!(super::fmt_ts(t), "2026-11-23T10:00:00.500000Z");
    }
}
