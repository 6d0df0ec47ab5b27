//! The PostgreSQL backend: JSON documents in `jsonb`, expression indexes on
//! `(data->'field')`, row locks for updates, and everything in the
//! connection's current schema (tests give each run its own via
//! `options=-c search_path=…` in the URL).

use std::str::FromStr;
use std::sync::Arc;

use jiff::Timestamp;
use serde_json::{Map, Value, json};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, Postgres, QueryBuilder, Row, Transaction};
use time::OffsetDateTime;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use trellis_core::query::{Cmp, Lit, ListQuery, Target};
use trellis_core::record::Op;
use trellis_core::{HistoryEntry, Record};
use uuid::Uuid;

use crate::filter::{self, Dialect};
use crate::{FormSave, Result, StoreError, StoredForm, SweepState, Tx, User, classify, index, layout};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// Rows per multi-row INSERT (12 binds each, far below the 65,535 limit).
const CHUNK: usize = 500;

#[derive(Debug, Clone)]
pub struct PgStore {
    pub(crate) pool: PgPool,
    /// Write transactions open at once. Fewer than the pool's connections, so
    /// that the reads a transaction's caller makes beside it (users, definitions)
    /// always find a free connection instead of waiting for one that a
    /// waiting transaction holds.
    tx_slots: Arc<Semaphore>,
}

/// Connections in the pool, and how many of them write transactions may hold.
const POOL_SIZE: u32 = 16;
const TX_SLOTS: usize = 12;

/// An open PostgreSQL transaction with its slot.
pub struct PgTx {
    tx: Transaction<'static, Postgres>,
    _slot: OwnedSemaphorePermit,
}

impl PgTx {
    pub(crate) async fn commit(self) -> Result<()> {
        Ok(self.tx.commit().await?)
    }
}

impl std::ops::Deref for PgTx {
    type Target = Transaction<'static, Postgres>;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for PgTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

/// The channel on which a definition save is announced (payload: the form key).
pub const DEFINITIONS_CHANNEL: &str = "trellis_definitions";

/// Hears the definition saves of every instance sharing the database.
pub struct DefinitionListener(sqlx::postgres::PgListener);

/// What a [`DefinitionListener`] heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// The definition with this key changed.
    Changed(String),
    /// The connection was lost and re-made: anything may have changed meanwhile.
    Reconnected,
}

impl DefinitionListener {
    pub async fn next(&mut self) -> Result<Heard> {
        Ok(match self.0.try_recv().await? {
            Some(n) => Heard::Changed(n.payload().to_owned()),
            None => Heard::Reconnected,
        })
    }
}

pub(crate) fn to_db(t: Timestamp) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(t.as_nanosecond()).expect("jiff timestamps fit in time's range")
}

pub(crate) fn from_db(t: OffsetDateTime) -> Result<Timestamp> {
    Timestamp::from_nanosecond(t.unix_timestamp_nanos()).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn record_from_row(row: &PgRow) -> Result<Record> {
    Ok(Record {
        id: row.try_get("id")?,
        form: row.try_get("form")?,
        form_version: row.try_get("form_version")?,
        rev: row.try_get("rev")?,
        data: row.try_get::<Json<Map<String, Value>>, _>("data")?.0,
        segments: row.try_get::<Json<Map<String, Value>>, _>("segments")?.0,
        owner: row.try_get("owner")?,
        created_by: row.try_get("created_by")?,
        updated_by: row.try_get("updated_by")?,
        created_at: from_db(row.try_get("created_at")?)?,
        updated_at: from_db(row.try_get("updated_at")?)?,
        deleted_at: row.try_get::<Option<OffsetDateTime>, _>("deleted_at")?.map(from_db).transpose()?,
    })
}

fn user_from_row(row: &PgRow) -> Result<User> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: row.try_get("role")?,
        password_hash: row.try_get("password_hash")?,
        manager: row.try_get("manager_id")?,
        created_at: from_db(row.try_get("created_at")?)?,
    })
}

fn form_from_row(row: &PgRow) -> Result<StoredForm> {
    Ok(StoredForm {
        key: row.try_get("key")?,
        version: row.try_get("version")?,
        definition: row.try_get::<Json<Value>, _>("definition")?.0,
        updated_at: from_db(row.try_get("updated_at")?)?,
    })
}

pub(crate) struct Pg;

impl Dialect for Pg {
    type DB = Postgres;
    const EXPLAIN: &'static str = "EXPLAIN ";
    const COLUMNS: &'static str = "id uuid PRIMARY KEY, form_version bigint NOT NULL, rev bigint NOT NULL, data jsonb NOT NULL, segments jsonb NOT NULL DEFAULT '{}', \
        owner uuid, created_by uuid NOT NULL, updated_by uuid NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, deleted_at timestamptz";
    const INDEX_NULLS: &'static str = " NULLS FIRST";

    fn expr(t: &Target) -> String {
        match t {
            Target::Data(k) => format!("(data->'{k}')"),
            Target::Segment(k) => format!("(segments->'{k}')"),
            Target::Meta(m) => filter::meta_column(*m).to_owned(),
        }
    }

    fn bind(qb: &mut QueryBuilder<Postgres>, lit: &Lit) {
        match lit {
            Lit::Json(v) => qb.push_bind(Json(v.clone())),
            Lit::Id(id) => qb.push_bind(*id),
            Lit::Time(t) => qb.push_bind(to_db(*t)),
            Lit::Int(i) => qb.push_bind(*i),
        };
    }

    /// jsonb equality already compares the type. An order comparison is kept
    /// to the literal's type by bounds in jsonb's order (null < strings <
    /// numbers < booleans < arrays < objects), rather than by `jsonb_typeof`:
    /// the planner folds bounds on the indexed expression into one range and
    /// estimates it from the index's statistics, where it takes an equality on
    /// `jsonb_typeof` for 0.5 % of the rows and then sorts what it thinks is a
    /// handful instead of walking the index. Numbers in a record come from
    /// JSON as 64-bit floats, well inside ±1e400.
    fn same_type(t: &Target, lit: &Value, op: Cmp) -> Option<String> {
        if matches!(op, Cmp::Eq | Cmp::Neq) {
            return None;
        }
        let e = Self::expr(t);
        // Only the side the comparison leaves open: a second bound on the side it
        // closes was not merged by the index scan, which then started at the guard's bound.
        let above = matches!(op, Cmp::Gt | Cmp::Gte);
        let bound = |low: &str, high: &str| if above { format!("{e} {high}") } else { format!("{e} {low}") };
        Some(match lit {
            Value::String(_) => bound("> 'null'::jsonb", "< '-1e400'::jsonb"),
            Value::Number(_) => bound(">= '-1e400'::jsonb", "<= '1e400'::jsonb"),
            Value::Bool(_) => bound(">= 'false'::jsonb", "<= 'true'::jsonb"),
            Value::Array(_) => format!("jsonb_typeof({e}) = 'array'"),
            Value::Object(_) => format!("jsonb_typeof({e}) = 'object'"),
            Value::Null => format!("jsonb_typeof({e}) = 'null'"),
        })
    }

    fn contains_text(qb: &mut QueryBuilder<Postgres>, t: &Target, lit: &Lit) {
        // Only text contains text, as on SQLite: `#>>` would spell out numbers, `true` and arrays.
        qb.push(format!("(jsonb_typeof({e}) = 'string' AND strpos({e} #>> '{{}}', ", e = Self::expr(t)));
        match lit {
            Lit::Json(Value::String(s)) => qb.push_bind(s.clone()),
            other => qb.push_bind(format!("{other:?}")),
        };
        qb.push(") > 0)");
    }

    fn contains_element(qb: &mut QueryBuilder<Postgres>, t: &Target, lit: &Lit) {
        qb.push(format!("{} @> ", Self::expr(t)));
        let element = match lit {
            Lit::Json(v) => v.clone(),
            other => Value::String(format!("{other:?}")),
        };
        qb.push_bind(Json(json!([element])));
    }

    fn bind_int(qb: &mut QueryBuilder<Postgres>, i: i64) {
        qb.push_bind(i);
    }

    fn order(expr: &str, desc: bool, nullable: bool) -> String {
        // A NULLS clause on a NOT NULL column would stop PostgreSQL from using
        // a plain index on it (e.g. newest-first by id), so it is only added where it matters.
        match (desc, nullable) {
            (true, true) => format!("{expr} DESC NULLS LAST"),
            (false, true) => format!("{expr} ASC NULLS FIRST"),
            (true, false) => format!("{expr} DESC"),
            (false, false) => format!("{expr} ASC"),
        }
    }

    fn push_lookup(qb: &mut QueryBuilder<Postgres>, filter: &trellis_core::query::Filter) {
        use trellis_core::query::Filter;
        match filter {
            Filter::In { target, values, negated: false } if values.iter().all(|v| matches!(v, Lit::Json(_))) => {
                let json: Vec<Json<Value>> = values.iter().filter_map(|v| if let Lit::Json(j) = v { Some(Json(j.clone())) } else { None }).collect();
                qb.push(format!("{} = ANY(", Self::expr(target)));
                qb.push_bind(json);
                qb.push(")");
            }
            other => crate::filter::push_filter::<Pg>(qb, other),
        }
    }

    fn records_by(table: &str, _index: &str) -> String {
        format!("{table} AS records")
    }
}

impl PgStore {
    pub async fn connect(url: &str) -> Result<PgStore> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new().max_connections(POOL_SIZE).connect_with(options).await?;
        MIGRATOR.run(&pool).await?;
        upgrade_layout(&pool).await?;
        Ok(PgStore { pool, tx_slots: Arc::new(Semaphore::new(TX_SLOTS)) })
    }

    pub async fn listen_definitions(&self) -> Result<DefinitionListener> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen(DEFINITIONS_CHANNEL).await?;
        Ok(DefinitionListener(listener))
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn begin(&self) -> Result<Tx> {
        let slot = self.tx_slots.clone().acquire_owned().await.map_err(|_| StoreError::Closed)?;
        Ok(Tx::Postgres(PgTx { tx: self.pool.begin().await?, _slot: slot }))
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn count_users(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&self.pool).await?)
    }

    pub async fn insert_user(&self, u: &User) -> Result<()> {
        sqlx::query("INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(u.id)
            .bind(&u.email)
            .bind(&u.name)
            .bind(&u.role)
            .bind(&u.password_hash)
            .bind(to_db(u.created_at))
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    pub async fn find_user(&self, email_or_id: &str) -> Result<Option<User>> {
        let row = match Uuid::parse_str(email_or_id) {
            Ok(id) => sqlx::query("SELECT * FROM users WHERE id = $1").bind(id).fetch_optional(&self.pool).await?,
            Err(_) => sqlx::query("SELECT * FROM users WHERE lower(email) = lower($1)").bind(email_or_id).fetch_optional(&self.pool).await?,
        };
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query("SELECT * FROM users ORDER BY email").fetch_all(&self.pool).await?;
        rows.iter().map(user_from_row).collect()
    }

    pub async fn insert_token(&self, id: Uuid, user: Uuid, hash: &str, at: Timestamp) -> Result<()> {
        sqlx::query("INSERT INTO api_tokens (id, user_id, token_hash, created_at) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(user)
            .bind(hash)
            .bind(to_db(at))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn user_for_token(&self, hash: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT u.* FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1 AND t.revoked_at IS NULL")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn revoke_token(&self, hash: &str, at: Timestamp) -> Result<bool> {
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL")
            .bind(to_db(at))
            .bind(hash)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn forms(&self) -> Result<Vec<StoredForm>> {
        let rows = sqlx::query("SELECT * FROM forms ORDER BY key").fetch_all(&self.pool).await?;
        rows.iter().map(form_from_row).collect()
    }

    pub async fn count_matching(&self, form: &str, filter: Option<&trellis_core::query::Filter>) -> Result<i64> {
        Ok(filter::count_query::<Pg>("", form, filter)?.build_query_scalar().fetch_one(&self.pool).await?)
    }

    pub async fn matching(&self, form: &str, filter: &trellis_core::query::Filter, index: Option<&str>) -> Result<Vec<Record>> {
        // Unprepared, so planned with its values each time: a cached generic plan, made
        // while the table had no statistics yet (a first import), scans the form instead of the key's index.
        let rows = filter::matching_query::<Pg>(None, form, filter, index)?.build().persistent(false).fetch_all(&self.pool).await?;
        rows.iter().map(record_from_row).collect()
    }

    /// Statistics of every form's table, in one statement.
    pub async fn analyze(&self) -> Result<()> {
        let tables: Vec<String> = sqlx::query_scalar(FORM_TABLES).fetch_all(&self.pool).await?;
        if !tables.is_empty() {
            sqlx::query(AssertSqlSafe(format!("ANALYZE {}", tables.join(", ")))).execute(&self.pool).await?;
        }
        Ok(())
    }

    pub async fn explain(&self, form: &str, what: crate::Explain<'_>) -> Result<Vec<String>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET LOCAL enable_seqscan = off").execute(&mut *tx).await?;
        let rows = filter::explain_query::<Pg>(form, &what)?.build().persistent(false).fetch_all(&mut *tx).await?;
        tx.rollback().await?;
        rows.iter().map(|r| Ok(r.try_get::<String, _>(0)?)).collect()
    }

    pub async fn sweep(&self, form: &str) -> Result<Option<SweepState>> {
        let row = sqlx::query("SELECT * FROM sweeps WHERE form = $1").bind(form).fetch_optional(&self.pool).await?;
        row.map(|row| {
            Ok(SweepState {
                form: row.try_get("form")?,
                started_at: from_db(row.try_get("started_at")?)?,
                after: row.try_get("after_id")?,
                scanned: row.try_get("scanned")?,
                changed: row.try_get("changed")?,
                failed: row.try_get("failed")?,
                finished_at: row.try_get::<Option<OffsetDateTime>, _>("finished_at")?.map(from_db).transpose()?,
            })
        })
        .transpose()
    }

    pub async fn form(&self, key: &str) -> Result<Option<StoredForm>> {
        let row = sqlx::query("SELECT * FROM forms WHERE key = $1").bind(key).fetch_optional(&self.pool).await?;
        row.as_ref().map(form_from_row).transpose()
    }

    pub async fn record(&self, form: &str, id: Uuid) -> Result<Option<Record>> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {} FROM {} WHERE id = $1", layout::columns(form)?, layout::table(form)?)))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    pub async fn list(&self, form: &str, q: &ListQuery) -> Result<Vec<Record>> {
        let rows = filter::list_query::<Pg>(form, q)?.build().fetch_all(&self.pool).await?;
        let mut records = rows.iter().map(record_from_row).collect::<Result<Vec<_>>>()?;
        if let Some(mut tail) = filter::null_tail(q).filter(|_| records.len() < q.limit as usize) {
            tail.limit = q.limit - records.len() as u32;
            let rows = filter::list_query::<Pg>(form, &tail)?.build().fetch_all(&self.pool).await?;
            records.extend(rows.iter().map(record_from_row).collect::<Result<Vec<_>>>()?);
        }
        Ok(records)
    }

    pub async fn history(&self, id: Uuid) -> Result<Vec<HistoryEntry>> {
        let rows = sqlx::query("SELECT h.*, COALESCE(u.email, 'public link: ' || COALESCE(pl.title, pl.form)) AS email FROM record_history h LEFT JOIN users u ON u.id = h.actor LEFT JOIN public_links pl ON pl.id = h.actor WHERE h.record_id = $1 ORDER BY h.rev")
            .bind(id)
            .fetch_all(&self.pool)
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
                    at: from_db(row.try_get("at")?)?,
                    changes: row.try_get::<Json<Map<String, Value>>, _>("changes")?.0,
                })
            })
            .collect()
    }
}

type InTx = Transaction<'static, Postgres>;

pub(crate) async fn save_form(tx: &mut InTx, f: &FormSave<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO forms (key, version, definition, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (key) DO UPDATE SET version = excluded.version, definition = excluded.definition,
             updated_at = excluded.updated_at, updated_by = excluded.updated_by",
    )
    .bind(f.key)
    .bind(f.version)
    .bind(Json(f.definition))
    .bind(to_db(f.at))
    .bind(f.by)
    .execute(&mut **tx)
    .await?;
    sqlx::query("INSERT INTO form_versions (form, version, definition, created_at, created_by) VALUES ($1, $2, $3, $4, $5)")
        .bind(f.key)
        .bind(f.version)
        .bind(Json(f.definition))
        .bind(to_db(f.at))
        .bind(f.by)
        .execute(&mut **tx)
        .await
        .map_err(classify)?;

    // Other instances drop their cached copy when this commits.
    sqlx::query("SELECT pg_notify($1, $2)").bind(DEFINITIONS_CHANNEL).bind(f.key).execute(&mut **tx).await?;

    for ddl in layout::table_ddl::<Pg>(f.key)? {
        sqlx::query(AssertSqlSafe(ddl)).execute(&mut **tx).await?;
    }
    let existing: Vec<String> = sqlx::query_scalar("SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1")
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
        sqlx::query(AssertSqlSafe(filter::index_ddl::<Pg>(f.key, spec)?)).execute(&mut **tx).await.map_err(classify)?;
    }
    Ok(())
}

/// The names of the forms' tables in the current schema.
const FORM_TABLES: &str = "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'records\\_\\_%' ORDER BY 1";

/// Whether `records` still holds the records themselves (the layout before per-form tables).
async fn shared_table(conn: &mut sqlx::PgConnection) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'records' AND column_name = 'data')",
    )
    .fetch_one(conn)
    .await?)
}

/// Brings the database to the current layout ([`layout`]), one step per
/// transaction, under an advisory lock so that instances starting together
/// take turns (and each step is checked again under the lock).
async fn upgrade_layout(pool: &PgPool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    let shared = shared_table(&mut conn).await?;
    let tables: Vec<String> = sqlx::query_scalar(FORM_TABLES).fetch_all(&mut *conn).await?;
    let forms: Vec<(String, Json<Value>)> = sqlx::query_as("SELECT key, definition FROM forms ORDER BY key").fetch_all(&mut *conn).await?;
    drop(conn);
    let forms: Vec<(String, Value)> = forms.into_iter().map(|(k, d)| (k, d.0)).collect();
    let steps = layout::plan(shared, &tables.into_iter().collect(), &forms);
    layout::run(&steps, |step| async move {
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('trellis storage upgrade'))").execute(&mut *tx).await?;
        match step {
            layout::Step::Move { form, indexes } => {
                let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1)")
                    .bind(layout::table(form)?)
                    .fetch_one(&mut *tx)
                    .await?;
                if !exists {
                    for ddl in layout::Step::move_ddl::<Pg>(form, indexes)? {
                        sqlx::query(AssertSqlSafe(ddl)).execute(&mut *tx).await?;
                    }
                }
            }
            layout::Step::Registry if shared_table(&mut tx).await? => {
                // The tables that refer to records (history, workflow instances, trigger schedules) keep
                // their foreign keys, re-made on the registry under the same names.
                let references: Vec<(String, String, String)> = sqlx::query_as(
                    "SELECT conrelid::regclass::text, conname::text, pg_get_constraintdef(oid) FROM pg_constraint WHERE confrelid = 'records'::regclass AND contype = 'f' ORDER BY 1, 2",
                )
                .fetch_all(&mut *tx)
                .await?;
                let mut ddl = vec![
                    "CREATE TABLE records_registry (id uuid PRIMARY KEY, form text NOT NULL REFERENCES forms(key))".to_owned(),
                    "INSERT INTO records_registry (id, form) SELECT id, form FROM records".to_owned(),
                    "DROP TABLE records CASCADE".to_owned(),
                    "ALTER TABLE records_registry RENAME TO records".to_owned(),
                    "ALTER INDEX records_registry_pkey RENAME TO records_pkey".to_owned(),
                    "ALTER TABLE records RENAME CONSTRAINT records_registry_form_fkey TO records_form_fkey".to_owned(),
                ];
                ddl.extend(references.iter().map(|(table, name, def)| format!("ALTER TABLE {table} ADD CONSTRAINT \"{name}\" {def}")));
                for statement in ddl {
                    sqlx::query(AssertSqlSafe(statement)).execute(&mut *tx).await?;
                }
            }
            layout::Step::Registry => {}
        }
        tx.commit().await?;
        Ok(())
    })
    .await
}

pub(crate) async fn existing_ids(tx: &mut InTx, form: &str, ids: &[Uuid]) -> Result<Vec<Uuid>> {
    Ok(sqlx::query_scalar(AssertSqlSafe(format!("SELECT id FROM {} WHERE deleted_at IS NULL AND id = ANY($1)", layout::table(form)?)))
        .bind(ids)
        .fetch_all(&mut **tx)
        .await?)
}

pub(crate) async fn list(tx: &mut InTx, form: &str, q: &ListQuery) -> Result<Vec<Record>> {
    let rows = filter::list_query::<Pg>(form, q)?.build().fetch_all(&mut **tx).await?;
    rows.iter().map(record_from_row).collect()
}

pub(crate) async fn record_for_update(tx: &mut InTx, form: &str, id: Uuid) -> Result<Option<Record>> {
    let row = sqlx::query(AssertSqlSafe(format!("SELECT {} FROM {} WHERE id = $1 FOR UPDATE", layout::columns(form)?, layout::table(form)?)))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(record_from_row).transpose()
}

pub(crate) async fn insert_records(tx: &mut InTx, records: &[Record]) -> Result<()> {
    for chunk in records.chunk_by(|a, b| a.form == b.form).flat_map(|same| same.chunks(CHUNK)) {
        let ids: Vec<Uuid> = chunk.iter().map(|r| r.id).collect();
        sqlx::query("INSERT INTO records (id, form) SELECT id, $2 FROM UNNEST($1::uuid[]) AS id")
            .bind(&ids)
            .bind(&chunk[0].form)
            .execute(&mut **tx)
            .await
            .map_err(classify)?;
        let mut qb = QueryBuilder::<Postgres>::new(format!("INSERT INTO {} ({}) ", layout::table(&chunk[0].form)?, layout::STORED));
        qb.push_values(chunk, |mut b, r| {
            b.push_bind(r.id)
                .push_bind(r.form_version)
                .push_bind(r.rev)
                .push_bind(Json(r.data.clone()))
                .push_bind(Json(r.segments.clone()))
                .push_bind(r.owner)
                .push_bind(r.created_by)
                .push_bind(r.updated_by)
                .push_bind(to_db(r.created_at))
                .push_bind(to_db(r.updated_at))
                .push_bind(r.deleted_at.map(to_db));
        });
        qb.build().execute(&mut **tx).await.map_err(classify)?;
    }
    Ok(())
}

pub(crate) async fn update_record(tx: &mut InTx, r: &Record, expected_rev: i64) -> Result<bool> {
    let done = sqlx::query(AssertSqlSafe(format!(
        "UPDATE {} SET form_version = $1, rev = $2, data = $3, segments = $4, owner = $5, updated_by = $6, updated_at = $7, deleted_at = $8
         WHERE id = $9 AND rev = $10",
        layout::table(&r.form)?
    )))
    .bind(r.form_version)
    .bind(r.rev)
    .bind(Json(&r.data))
    .bind(Json(&r.segments))
    .bind(r.owner)
    .bind(r.updated_by)
    .bind(to_db(r.updated_at))
    .bind(r.deleted_at.map(to_db))
    .bind(r.id)
    .bind(expected_rev)
    .execute(&mut **tx)
    .await
    .map_err(classify)?;
    Ok(done.rows_affected() == 1)
}

/// One statement for many records' derived values (the sweep): data,
/// segments and rev, each guarded by its expected revision. Returns the ids
/// written. `r.id = ANY(ids)` gives the planner the primary key to seek by;
/// joined to the UNNEST alone it scanned the table.
pub(crate) async fn update_derived(tx: &mut InTx, records: &[(Record, i64)]) -> Result<Vec<Uuid>> {
    let mut written = Vec::with_capacity(records.len());
    for chunk in records.chunk_by(|(a, _), (b, _)| a.form == b.form).flat_map(|same| same.chunks(CHUNK)) {
        let ids: Vec<Uuid> = chunk.iter().map(|(r, _)| r.id).collect();
        let data: Vec<String> = chunk.iter().map(|(r, _)| Value::Object(r.data.clone()).to_string()).collect();
        let segments: Vec<String> = chunk.iter().map(|(r, _)| Value::Object(r.segments.clone()).to_string()).collect();
        let revs: Vec<i64> = chunk.iter().map(|(r, _)| r.rev).collect();
        let expected: Vec<i64> = chunk.iter().map(|(_, e)| *e).collect();
        let by: Vec<Uuid> = chunk.iter().map(|(r, _)| r.updated_by).collect();
        let at: Vec<OffsetDateTime> = chunk.iter().map(|(r, _)| to_db(r.updated_at)).collect();
        let done: Vec<Uuid> = sqlx::query_scalar(AssertSqlSafe(format!(
            "UPDATE {} AS r SET data = v.data::jsonb, segments = v.segments::jsonb, rev = v.rev, updated_by = v.by, updated_at = v.at
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::uuid[], $7::timestamptz[]) AS v(id, data, segments, rev, expected, by, at)
             WHERE r.id = ANY($1::uuid[]) AND r.id = v.id AND r.rev = v.expected RETURNING r.id",
            layout::table(&chunk[0].0.form)?
        )))
        .bind(&ids)
        .bind(&data)
        .bind(&segments)
        .bind(&revs)
        .bind(&expected)
        .bind(&by)
        .bind(&at)
        .fetch_all(&mut **tx)
        .await
        .map_err(classify)?;
        written.extend(done);
    }
    Ok(written)
}

pub(crate) async fn insert_history(tx: &mut InTx, entries: &[HistoryEntry]) -> Result<()> {
    for chunk in entries.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Postgres>::new("INSERT INTO record_history (record_id, rev, op, actor, at, changes) ");
        qb.push_values(chunk, |mut b, h| {
            b.push_bind(h.record_id)
                .push_bind(h.rev)
                .push_bind(h.op.as_str())
                .push_bind(h.actor)
                .push_bind(to_db(h.at))
                .push_bind(Json(h.changes.clone()));
        });
        qb.build().execute(&mut **tx).await?;
    }
    Ok(())
}

pub(crate) async fn save_sweep(tx: &mut InTx, s: &SweepState) -> Result<()> {
    sqlx::query(
        "INSERT INTO sweeps (form, started_at, after_id, scanned, changed, failed, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (form) DO UPDATE SET started_at = excluded.started_at, after_id = excluded.after_id, scanned = excluded.scanned,
             changed = excluded.changed, failed = excluded.failed, finished_at = excluded.finished_at",
    )
    .bind(&s.form)
    .bind(to_db(s.started_at))
    .bind(s.after)
    .bind(s.scanned)
    .bind(s.changed)
    .bind(s.failed)
    .bind(s.finished_at.map(to_db))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
