//! Definitions beside forms, workflow instances and timers, tasks,
//! notifications, the delivery outbox and round-robin turns.
//!
//! These tables are plain rows with no per-form SQL, so their queries are
//! written once, with `$N` parameters both SQLite and PostgreSQL read, and
//! [`work_queries!`] instantiates them per backend. Only what truly differs is
//! passed in: how a time is bound and read (fixed-width text on SQLite,
//! `timestamptz` on PostgreSQL), the row lock PostgreSQL takes (`FOR UPDATE
//! SKIP LOCKED`, so several instances never claim the same timer) and the
//! notification PostgreSQL sends when a definition changes.

use jiff::Timestamp;
use serde_json::Value;
use uuid::Uuid;

/// A workflow, message, trigger or dashboard definition as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDefinition {
    pub kind: String,
    pub key: String,
    pub version: i64,
    pub definition: Value,
    pub updated_at: Timestamp,
}

/// One workflow running (or ended) on one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub id: Uuid,
    pub workflow: String,
    pub form: String,
    pub record_id: Uuid,
    pub state: String,
    /// `active`, `finished` (a final state was reached) or `cancelled`.
    pub status: String,
    pub started_at: Timestamp,
    pub started_by: Uuid,
    pub entered_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A timer of the state an instance is in.
#[derive(Debug, Clone, PartialEq)]
pub struct Timer {
    pub id: Uuid,
    pub instance_id: Uuid,
    pub state: String,
    /// Its position among the state's timers.
    pub timer: i64,
    pub fire_at: Timestamp,
    pub every_seconds: Option<i64>,
    /// How many times it has fired.
    pub fired: i64,
    /// `pending`, `done`, `cancelled` or `failed`.
    pub status: String,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub assignee: Option<Uuid>,
    /// Set when the task waits for anyone of a role.
    pub assignee_role: Option<String>,
    /// `open`, `done` or `cancelled`.
    pub status: String,
    pub due_at: Option<Timestamp>,
    /// The form to fill when completing it.
    pub form: Option<String>,
    pub record_form: Option<String>,
    pub record_id: Option<Uuid>,
    pub instance_id: Option<Uuid>,
    /// The record the completion form created.
    pub outcome_id: Option<Uuid>,
    pub created_at: Timestamp,
    pub created_by: Uuid,
    pub updated_at: Timestamp,
    pub completed_at: Option<Timestamp>,
    pub completed_by: Option<Uuid>,
}

/// Which tasks to list. `for_user` is (user, role): the user's own tasks and
/// those waiting for their role.
#[derive(Debug, Clone, Default)]
pub struct TaskQuery {
    pub for_user: Option<(Uuid, String)>,
    pub status: Option<String>,
    pub due_before: Option<Timestamp>,
    pub due_after: Option<Timestamp>,
    pub record_id: Option<Uuid>,
    pub limit: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub id: Uuid,
    pub task_id: Uuid,
    pub author: Uuid,
    pub author_email: Option<String>,
    pub body: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Notification {
    pub id: Uuid,
    #[serde(skip)]
    pub user_id: Uuid,
    pub title: String,
    pub body: String,
    pub record_form: Option<String>,
    pub record_id: Option<Uuid>,
    pub task_id: Option<Uuid>,
    pub created_at: Timestamp,
    pub read_at: Option<Timestamp>,
}

/// An email or webhook handed to the outbox.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Delivery {
    pub id: Uuid,
    /// `email` or `webhook`.
    pub channel: String,
    /// An email address or a URL.
    pub target: String,
    pub subject: Option<String>,
    pub body: String,
    pub format: Option<String>,
    /// Unique: the same occurrence is handed over once.
    pub idempotency_key: String,
    pub record_id: Option<Uuid>,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub created_at: Timestamp,
    /// When it is (next) tried.
    pub next_attempt_at: Option<Timestamp>,
    pub sent_at: Option<Timestamp>,
    pub last_error: Option<String>,
    /// Every attempt, oldest first (filled in when listed).
    pub attempt_log: Vec<Attempt>,
}

/// One try at sending a delivery.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Attempt {
    #[serde(skip)]
    pub delivery_id: Uuid,
    pub attempt: i64,
    pub at: Timestamp,
    pub ok: bool,
    /// What the other side answered, or why it failed.
    pub detail: String,
}

/// A (trigger, record) whose next moment is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduled {
    pub trigger: String,
    pub record_id: Uuid,
    pub form: String,
    pub fire_at: Timestamp,
}

/// What became of one moment of a trigger for a record.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Occurrence {
    pub trigger: String,
    pub record_id: Uuid,
    /// The moment (the occurrence's identity with trigger and record).
    pub at: Timestamp,
    /// `fired`, `skipped` (the condition did not hold), `missed` (found later
    /// than `max_lateness`) or `failed` (the condition or an action failed; the reason is logged).
    pub status: String,
    pub handled_at: Timestamp,
}

/// An installed pack as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPack {
    pub name: String,
    pub version: String,
    pub manifest: Value,
    /// What the pack shipped at this version: `{"kind/key": definition}`.
    pub definitions: Value,
    pub installed_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Progress of one record migration step over one form.
#[derive(Debug, Clone, PartialEq)]
pub struct PackMigration {
    pub pack: String,
    /// `1.0.0-1.1.0`.
    pub step: String,
    pub form: String,
    pub after: Option<Uuid>,
    pub migrated: i64,
    pub finished_at: Option<Timestamp>,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditEntry {
    pub id: Uuid,
    pub at: Timestamp,
    pub actor_id: Option<Uuid>,
    pub actor_email: Option<String>,
    /// `login`, `login_failed`, `login_locked`, `token_revoked`, `user_added`, `form_saved`, `definition_saved`, `pack_installed`, `pack_uninstalled`, `public_link_created`, `public_link_revoked`, `public_submitted`.
    pub action: String,
    /// What it was done to: `form/customer`, `trigger/birthday`, a user's email, a pack's name.
    pub target: Option<String>,
    pub detail: Value,
}

/// A saved list view (see the `saved_views` table).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SavedView {
    pub id: Uuid,
    /// Whose it is.
    pub user_id: Uuid,
    pub form: String,
    pub name: String,
    /// What the list keeps: columns, conditions, sort (the browser's shape).
    pub config: Value,
    /// Offered to the owner's team too.
    pub shared: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A public form link (see the `public_links` table).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PublicLink {
    pub id: Uuid,
    pub form: String,
    /// `create` or `update`.
    pub mode: String,
    /// The only fields a submission may fill.
    pub fields: Vec<String>,
    pub title: Option<String>,
    pub expires_at: Option<Timestamp>,
    /// Whose permissions the link acts within; records it creates are theirs.
    pub created_by: Uuid,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// A bearer token as its owner and admins see it (never its value or hash).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenInfo {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

macro_rules! work_queries {
    (db = $db:ty, row = $row:ty, time = $time:ty, to_db = $to_db:path, from_db = $from_db:path, lock = $lock:expr, notify = $notify:expr) => {
        use jiff::Timestamp;
        use serde_json::Value;
        use sqlx::types::Json;
        use sqlx::{Pool, QueryBuilder, Row, Transaction};
        use uuid::Uuid;

        use crate::work::*;
        use crate::Result;

        type Db = $db;
        type DbTx = Transaction<'static, Db>;

        fn ts(row: &$row, col: &str) -> Result<Timestamp> {
            $from_db(row.try_get::<$time, _>(col)?)
        }

        fn ts_opt(row: &$row, col: &str) -> Result<Option<Timestamp>> {
            row.try_get::<Option<$time>, _>(col)?.map($from_db).transpose()
        }

        fn definition_from_row(row: &$row) -> Result<StoredDefinition> {
            Ok(StoredDefinition {
                kind: row.try_get("kind")?,
                key: row.try_get("key")?,
                version: row.try_get("version")?,
                definition: row.try_get::<Json<Value>, _>("definition")?.0,
                updated_at: ts(row, "updated_at")?,
            })
        }

        pub(crate) async fn definitions(pool: &Pool<Db>, kind: &str) -> Result<Vec<StoredDefinition>> {
            let rows = sqlx::query("SELECT * FROM definitions WHERE kind = $1 ORDER BY key").bind(kind).fetch_all(pool).await?;
            rows.iter().map(definition_from_row).collect()
        }

        pub(crate) async fn definition(pool: &Pool<Db>, kind: &str, key: &str) -> Result<Option<StoredDefinition>> {
            let row = sqlx::query("SELECT * FROM definitions WHERE kind = $1 AND key = $2").bind(kind).bind(key).fetch_optional(pool).await?;
            row.as_ref().map(definition_from_row).transpose()
        }

        pub(crate) async fn save_definition(tx: &mut DbTx, kind: &str, key: &str, version: i64, definition: &Value, at: Timestamp, by: Uuid) -> Result<()> {
            sqlx::query(
                "INSERT INTO definitions (kind, key, version, definition, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (kind, key) DO UPDATE SET version = excluded.version, definition = excluded.definition,
                     updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            )
            .bind(kind)
            .bind(key)
            .bind(version)
            .bind(Json(definition))
            .bind($to_db(at))
            .bind(by)
            .execute(&mut **tx)
            .await?;
            sqlx::query("INSERT INTO definition_versions (kind, key, version, definition, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(kind)
                .bind(key)
                .bind(version)
                .bind(Json(definition))
                .bind($to_db(at))
                .bind(by)
                .execute(&mut **tx)
                .await
                .map_err(crate::classify)?;
            if $notify {
                sqlx::query("SELECT pg_notify($1, $2)").bind(crate::postgres::DEFINITIONS_CHANNEL).bind(format!("{kind}:{key}")).execute(&mut **tx).await?;
            }
            Ok(())
        }

        pub(crate) async fn set_user_name(pool: &Pool<Db>, user: Uuid, name: Option<&str>) -> Result<()> {
            sqlx::query("UPDATE users SET name = $1 WHERE id = $2").bind(name).bind(user).execute(pool).await?;
            Ok(())
        }

        pub(crate) async fn set_manager(pool: &Pool<Db>, user: Uuid, manager: Option<Uuid>) -> Result<()> {
            sqlx::query("UPDATE users SET manager_id = $1 WHERE id = $2").bind(manager).bind(user).execute(pool).await?;
            Ok(())
        }

        pub(crate) async fn users_with_role(pool: &Pool<Db>, role: &str) -> Result<Vec<Uuid>> {
            Ok(sqlx::query_scalar("SELECT id FROM users WHERE role = $1 ORDER BY id").bind(role).fetch_all(pool).await?)
        }

        /// The user after the last one given a turn under `key` (wrapping), recorded as the new last.
        /// The turn's row is locked (created first if new), so concurrent assignments take turns too.
        pub(crate) async fn next_turn(tx: &mut DbTx, key: &str, role: &str) -> Result<Option<Uuid>> {
            sqlx::query("INSERT INTO assign_turns (key, last_user) VALUES ($1, NULL) ON CONFLICT (key) DO NOTHING").bind(key).execute(&mut **tx).await?;
            let lock = if $lock.is_empty() { "" } else { " FOR UPDATE" };
            let last: Option<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT last_user FROM assign_turns WHERE key = $1{lock}")))
                .bind(key)
                .fetch_one(&mut **tx)
                .await?;
            let users: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM users WHERE role = $1 ORDER BY id").bind(role).fetch_all(&mut **tx).await?;
            let Some(first) = users.first().copied() else { return Ok(None) };
            let next = last.and_then(|l| users.iter().copied().find(|u| *u > l)).unwrap_or(first);
            sqlx::query("UPDATE assign_turns SET last_user = $1 WHERE key = $2").bind(next).bind(key).execute(&mut **tx).await?;
            Ok(Some(next))
        }

        fn instance_from_row(row: &$row) -> Result<Instance> {
            Ok(Instance {
                id: row.try_get("id")?,
                workflow: row.try_get("workflow")?,
                form: row.try_get("form")?,
                record_id: row.try_get("record_id")?,
                state: row.try_get("state")?,
                status: row.try_get("status")?,
                started_at: ts(row, "started_at")?,
                started_by: row.try_get("started_by")?,
                entered_at: ts(row, "entered_at")?,
                updated_at: ts(row, "updated_at")?,
            })
        }

        pub(crate) async fn insert_instance(tx: &mut DbTx, i: &Instance) -> Result<()> {
            sqlx::query(
                "INSERT INTO workflow_instances (id, workflow, form, record_id, state, status, started_at, started_by, entered_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(i.id)
            .bind(&i.workflow)
            .bind(&i.form)
            .bind(i.record_id)
            .bind(&i.state)
            .bind(&i.status)
            .bind($to_db(i.started_at))
            .bind(i.started_by)
            .bind($to_db(i.entered_at))
            .bind($to_db(i.updated_at))
            .execute(&mut **tx)
            .await
            .map_err(crate::classify)?;
            Ok(())
        }

        pub(crate) async fn update_instance(tx: &mut DbTx, i: &Instance) -> Result<()> {
            sqlx::query("UPDATE workflow_instances SET state = $1, status = $2, entered_at = $3, updated_at = $4 WHERE id = $5")
                .bind(&i.state)
                .bind(&i.status)
                .bind($to_db(i.entered_at))
                .bind($to_db(i.updated_at))
                .bind(i.id)
                .execute(&mut **tx)
                .await?;
            Ok(())
        }

        pub(crate) async fn instances_of_in(tx: &mut DbTx, record: Uuid) -> Result<Vec<Instance>> {
            let rows = sqlx::query("SELECT * FROM workflow_instances WHERE record_id = $1 ORDER BY id").bind(record).fetch_all(&mut **tx).await?;
            rows.iter().map(instance_from_row).collect()
        }

        pub(crate) async fn active_instances(pool: &Pool<Db>, workflow: &str, records: &[Uuid]) -> Result<Vec<Instance>> {
            if records.is_empty() {
                return Ok(Vec::new());
            }
            let marks: Vec<String> = (0..records.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!("SELECT * FROM workflow_instances WHERE workflow = $1 AND status = 'active' AND record_id IN ({})", marks.join(", "));
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(workflow);
            for r in records {
                q = q.bind(*r);
            }
            let rows = q.fetch_all(pool).await?;
            rows.iter().map(instance_from_row).collect()
        }

        pub(crate) async fn instances_of(pool: &Pool<Db>, record: Uuid) -> Result<Vec<Instance>> {
            let rows = sqlx::query("SELECT * FROM workflow_instances WHERE record_id = $1 ORDER BY id").bind(record).fetch_all(pool).await?;
            rows.iter().map(instance_from_row).collect()
        }

        pub(crate) async fn instance(pool: &Pool<Db>, id: Uuid) -> Result<Option<Instance>> {
            let row = sqlx::query("SELECT * FROM workflow_instances WHERE id = $1").bind(id).fetch_optional(pool).await?;
            row.as_ref().map(instance_from_row).transpose()
        }

        pub(crate) async fn instance_for_update(tx: &mut DbTx, id: Uuid) -> Result<Option<Instance>> {
            let lock = if $lock.is_empty() { "" } else { " FOR UPDATE" };
            let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM workflow_instances WHERE id = $1{lock}"))).bind(id).fetch_optional(&mut **tx).await?;
            row.as_ref().map(instance_from_row).transpose()
        }

        fn timer_from_row(row: &$row) -> Result<Timer> {
            Ok(Timer {
                id: row.try_get("id")?,
                instance_id: row.try_get("instance_id")?,
                state: row.try_get("state")?,
                timer: row.try_get("timer")?,
                fire_at: ts(row, "fire_at")?,
                every_seconds: row.try_get("every_seconds")?,
                fired: row.try_get("fired")?,
                status: row.try_get("status")?,
                last_error: row.try_get("last_error")?,
            })
        }

        pub(crate) async fn insert_timers(tx: &mut DbTx, timers: &[Timer]) -> Result<()> {
            for t in timers {
                sqlx::query(
                    "INSERT INTO workflow_timers (id, instance_id, state, timer, fire_at, every_seconds, fired, status, last_error)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(t.id)
                .bind(t.instance_id)
                .bind(&t.state)
                .bind(t.timer)
                .bind($to_db(t.fire_at))
                .bind(t.every_seconds)
                .bind(t.fired)
                .bind(&t.status)
                .bind(&t.last_error)
                .execute(&mut **tx)
                .await?;
            }
            Ok(())
        }

        pub(crate) async fn cancel_timers(tx: &mut DbTx, instance: Uuid) -> Result<u64> {
            let done = sqlx::query("UPDATE workflow_timers SET status = 'cancelled' WHERE instance_id = $1 AND status = 'pending'").bind(instance).execute(&mut **tx).await?;
            Ok(done.rows_affected())
        }

        /// Pending timers due at `now`, earliest first, with the record each belongs to
        /// (read without locks: the firing locks record, instance, timer, in the write path's order).
        pub(crate) async fn due_timers(pool: &Pool<Db>, now: Timestamp, limit: i64) -> Result<Vec<(Timer, String, Uuid)>> {
            let rows = sqlx::query(
                "SELECT t.*, i.form AS i_form, i.record_id AS i_record FROM workflow_timers t JOIN workflow_instances i ON i.id = t.instance_id
                 WHERE t.status = 'pending' AND t.fire_at <= $1 ORDER BY t.fire_at, t.id LIMIT $2",
            )
            .bind($to_db(now))
            .bind(limit)
            .fetch_all(pool)
            .await?;
            rows.iter().map(|row| Ok((timer_from_row(row)?, row.try_get("i_form")?, row.try_get("i_record")?))).collect()
        }

        /// Locks a timer that is still pending; `None` when another instance
        /// holds it or it was fired or cancelled meanwhile.
        pub(crate) async fn lock_pending_timer(tx: &mut DbTx, id: Uuid) -> Result<Option<Timer>> {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM workflow_timers WHERE id = $1 AND status = 'pending'{}", $lock)))
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?;
            row.as_ref().map(timer_from_row).transpose()
        }

        /// Ends a record's running workflows (it was deleted) and cancels their timers.
        pub(crate) async fn cancel_instances(tx: &mut DbTx, record: Uuid, at: Timestamp) -> Result<u64> {
            sqlx::query(
                "UPDATE workflow_timers SET status = 'cancelled' WHERE status = 'pending'
                 AND instance_id IN (SELECT id FROM workflow_instances WHERE record_id = $1 AND status = 'active')",
            )
            .bind(record)
            .execute(&mut **tx)
            .await?;
            let done = sqlx::query("UPDATE workflow_instances SET status = 'cancelled', updated_at = $1 WHERE record_id = $2 AND status = 'active'")
                .bind($to_db(at))
                .bind(record)
                .execute(&mut **tx)
                .await?;
            Ok(done.rows_affected())
        }

        /// Running instances of a workflow per state.
        pub(crate) async fn active_states(pool: &Pool<Db>, workflow: &str) -> Result<Vec<(String, i64)>> {
            let rows = sqlx::query("SELECT state, count(*) AS n FROM workflow_instances WHERE workflow = $1 AND status = 'active' GROUP BY state ORDER BY state")
                .bind(workflow)
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| Ok((r.try_get("state")?, r.try_get("n")?))).collect()
        }

        /// Instances of a workflow by the state they are in, ended ones included (a won deal stays won), not cancelled ones.
        pub(crate) async fn instance_states(pool: &Pool<Db>, workflow: &str) -> Result<Vec<(String, i64)>> {
            let rows = sqlx::query("SELECT state, count(*) AS n FROM workflow_instances WHERE workflow = $1 AND status <> 'cancelled' GROUP BY state ORDER BY state")
                .bind(workflow)
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| Ok((r.try_get("state")?, r.try_get("n")?))).collect()
        }

        /// Writes a timer's new state, only if it is still as `seen` left it (pending,
        /// fired `seen.fired` times); false when someone else moved it first.
        pub(crate) async fn update_timer(tx: &mut DbTx, t: &Timer, seen: &Timer) -> Result<bool> {
            let done = sqlx::query(
                "UPDATE workflow_timers SET fire_at = $1, fired = $2, status = $3, last_error = $4 WHERE id = $5 AND status = $6 AND fired = $7",
            )
            .bind($to_db(t.fire_at))
            .bind(t.fired)
            .bind(&t.status)
            .bind(&t.last_error)
            .bind(t.id)
            .bind(&seen.status)
            .bind(seen.fired)
            .execute(&mut **tx)
            .await?;
            Ok(done.rows_affected() == 1)
        }

        pub(crate) async fn pending_timers(pool: &Pool<Db>, instance: Uuid) -> Result<Vec<Timer>> {
            let rows = sqlx::query("SELECT * FROM workflow_timers WHERE instance_id = $1 AND status = 'pending' ORDER BY fire_at").bind(instance).fetch_all(pool).await?;
            rows.iter().map(timer_from_row).collect()
        }

        fn task_from_row(row: &$row) -> Result<Task> {
            Ok(Task {
                id: row.try_get("id")?,
                title: row.try_get("title")?,
                description: row.try_get("description")?,
                assignee: row.try_get("assignee")?,
                assignee_role: row.try_get("assignee_role")?,
                status: row.try_get("status")?,
                due_at: ts_opt(row, "due_at")?,
                form: row.try_get("form")?,
                record_form: row.try_get("record_form")?,
                record_id: row.try_get("record_id")?,
                instance_id: row.try_get("instance_id")?,
                outcome_id: row.try_get("outcome_id")?,
                created_at: ts(row, "created_at")?,
                created_by: row.try_get("created_by")?,
                updated_at: ts(row, "updated_at")?,
                completed_at: ts_opt(row, "completed_at")?,
                completed_by: row.try_get("completed_by")?,
            })
        }

        pub(crate) async fn insert_task(tx: &mut DbTx, t: &Task) -> Result<()> {
            sqlx::query(
                "INSERT INTO tasks (id, title, description, assignee, assignee_role, status, due_at, form, record_form, record_id, instance_id,
                     outcome_id, created_at, created_by, updated_at, completed_at, completed_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            )
            .bind(t.id)
            .bind(&t.title)
            .bind(&t.description)
            .bind(t.assignee)
            .bind(&t.assignee_role)
            .bind(&t.status)
            .bind(t.due_at.map($to_db))
            .bind(&t.form)
            .bind(&t.record_form)
            .bind(t.record_id)
            .bind(t.instance_id)
            .bind(t.outcome_id)
            .bind($to_db(t.created_at))
            .bind(t.created_by)
            .bind($to_db(t.updated_at))
            .bind(t.completed_at.map($to_db))
            .bind(t.completed_by)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        pub(crate) async fn update_task(tx: &mut DbTx, t: &Task) -> Result<()> {
            sqlx::query(
                "UPDATE tasks SET assignee = $1, assignee_role = $2, status = $3, due_at = $4, outcome_id = $5, updated_at = $6,
                     completed_at = $7, completed_by = $8 WHERE id = $9",
            )
            .bind(t.assignee)
            .bind(&t.assignee_role)
            .bind(&t.status)
            .bind(t.due_at.map($to_db))
            .bind(t.outcome_id)
            .bind($to_db(t.updated_at))
            .bind(t.completed_at.map($to_db))
            .bind(t.completed_by)
            .bind(t.id)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        pub(crate) async fn task_for_update(tx: &mut DbTx, id: Uuid) -> Result<Option<Task>> {
            let lock = if $lock.is_empty() { "" } else { " FOR UPDATE" };
            let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM tasks WHERE id = $1{lock}"))).bind(id).fetch_optional(&mut **tx).await?;
            row.as_ref().map(task_from_row).transpose()
        }

        pub(crate) async fn task(pool: &Pool<Db>, id: Uuid) -> Result<Option<Task>> {
            let row = sqlx::query("SELECT * FROM tasks WHERE id = $1").bind(id).fetch_optional(pool).await?;
            row.as_ref().map(task_from_row).transpose()
        }

        pub(crate) async fn tasks(pool: &Pool<Db>, q: &TaskQuery) -> Result<Vec<Task>> {
            let mut qb = QueryBuilder::<Db>::new("SELECT * FROM tasks WHERE 1 = 1");
            if let Some((user, role)) = &q.for_user {
                qb.push(" AND (assignee = ").push_bind(*user).push(" OR (assignee IS NULL AND assignee_role = ").push_bind(role.clone()).push("))");
            }
            if let Some(s) = &q.status {
                qb.push(" AND status = ").push_bind(s.clone());
            }
            if let Some(t) = q.due_before {
                qb.push(" AND due_at < ").push_bind($to_db(t));
            }
            if let Some(t) = q.due_after {
                qb.push(" AND due_at >= ").push_bind($to_db(t));
            }
            if let Some(r) = q.record_id {
                qb.push(" AND record_id = ").push_bind(r);
            }
            qb.push(" ORDER BY due_at IS NULL, due_at, id LIMIT ").push_bind(q.limit);
            let rows = qb.build().fetch_all(pool).await?;
            rows.iter().map(task_from_row).collect()
        }

        pub(crate) async fn insert_comment(tx: &mut DbTx, c: &Comment) -> Result<()> {
            sqlx::query("INSERT INTO task_comments (id, task_id, author, body, at) VALUES ($1, $2, $3, $4, $5)")
                .bind(c.id)
                .bind(c.task_id)
                .bind(c.author)
                .bind(&c.body)
                .bind($to_db(c.at))
                .execute(&mut **tx)
                .await?;
            Ok(())
        }

        pub(crate) async fn comments(pool: &Pool<Db>, task: Uuid) -> Result<Vec<Comment>> {
            let rows = sqlx::query("SELECT c.*, u.email FROM task_comments c LEFT JOIN users u ON u.id = c.author WHERE c.task_id = $1 ORDER BY c.at, c.id")
                .bind(task)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| {
                    Ok(Comment {
                        id: row.try_get("id")?,
                        task_id: row.try_get("task_id")?,
                        author: row.try_get("author")?,
                        author_email: row.try_get("email")?,
                        body: row.try_get("body")?,
                        at: ts(row, "at")?,
                    })
                })
                .collect()
        }

        pub(crate) async fn insert_notifications(tx: &mut DbTx, list: &[Notification]) -> Result<()> {
            for n in list {
                sqlx::query(
                    "INSERT INTO notifications (id, user_id, title, body, record_form, record_id, task_id, created_at, read_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(n.id)
                .bind(n.user_id)
                .bind(&n.title)
                .bind(&n.body)
                .bind(&n.record_form)
                .bind(n.record_id)
                .bind(n.task_id)
                .bind($to_db(n.created_at))
                .bind(n.read_at.map($to_db))
                .execute(&mut **tx)
                .await?;
            }
            Ok(())
        }

        pub(crate) async fn notifications(pool: &Pool<Db>, user: Uuid, unread_only: bool, limit: i64) -> Result<Vec<Notification>> {
            let unread = if unread_only { " AND read_at IS NULL" } else { "" };
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM notifications WHERE user_id = $1{unread} ORDER BY created_at DESC, id DESC LIMIT $2")))
                .bind(user)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| {
                    Ok(Notification {
                        id: row.try_get("id")?,
                        user_id: row.try_get("user_id")?,
                        title: row.try_get("title")?,
                        body: row.try_get("body")?,
                        record_form: row.try_get("record_form")?,
                        record_id: row.try_get("record_id")?,
                        task_id: row.try_get("task_id")?,
                        created_at: ts(row, "created_at")?,
                        read_at: ts_opt(row, "read_at")?,
                    })
                })
                .collect()
        }

        pub(crate) async fn unread_count(pool: &Pool<Db>, user: Uuid) -> Result<i64> {
            Ok(sqlx::query_scalar("SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL").bind(user).fetch_one(pool).await?)
        }

        /// Marks a user's notification read; false when it is not theirs.
        pub(crate) async fn mark_read(pool: &Pool<Db>, user: Uuid, id: Uuid, at: Timestamp) -> Result<bool> {
            let done = sqlx::query("UPDATE notifications SET read_at = COALESCE(read_at, $1) WHERE id = $2 AND user_id = $3")
                .bind($to_db(at))
                .bind(id)
                .bind(user)
                .execute(pool)
                .await?;
            Ok(done.rows_affected() == 1)
        }

        pub(crate) async fn mark_all_read(pool: &Pool<Db>, user: Uuid, at: Timestamp) -> Result<u64> {
            let done = sqlx::query("UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL")
                .bind($to_db(at))
                .bind(user)
                .execute(pool)
                .await?;
            Ok(done.rows_affected())
        }

        /// Hands deliveries to the outbox; one whose idempotency key is already there is skipped.
        /// Returns how many were new.
        pub(crate) async fn enqueue(tx: &mut DbTx, list: &[Delivery]) -> Result<u64> {
            let mut added = 0;
            for d in list {
                let done = sqlx::query(
                    "INSERT INTO outbox (id, channel, target, subject, body, format, idempotency_key, record_id, status, attempts, created_at, sent_at, last_error, next_attempt_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $11) ON CONFLICT (idempotency_key) DO NOTHING",
                )
                .bind(d.id)
                .bind(&d.channel)
                .bind(&d.target)
                .bind(&d.subject)
                .bind(&d.body)
                .bind(&d.format)
                .bind(&d.idempotency_key)
                .bind(d.record_id)
                .bind(&d.status)
                .bind(d.attempts)
                .bind($to_db(d.created_at))
                .bind(d.sent_at.map($to_db))
                .bind(&d.last_error)
                .execute(&mut **tx)
                .await?;
                added += done.rows_affected();
            }
            Ok(added)
        }

        fn delivery_from_row(row: &$row) -> Result<Delivery> {
            Ok(Delivery {
                id: row.try_get("id")?,
                channel: row.try_get("channel")?,
                target: row.try_get("target")?,
                subject: row.try_get("subject")?,
                body: row.try_get("body")?,
                format: row.try_get("format")?,
                idempotency_key: row.try_get("idempotency_key")?,
                record_id: row.try_get("record_id")?,
                status: row.try_get("status")?,
                attempts: row.try_get("attempts")?,
                created_at: ts(row, "created_at")?,
                next_attempt_at: ts_opt(row, "next_attempt_at")?,
                sent_at: ts_opt(row, "sent_at")?,
                last_error: row.try_get("last_error")?,
                attempt_log: Vec::new(),
            })
        }

        pub(crate) async fn deliveries(pool: &Pool<Db>, record: Option<Uuid>, limit: i64) -> Result<Vec<Delivery>> {
            let mut qb = QueryBuilder::<Db>::new("SELECT * FROM outbox");
            if let Some(r) = record {
                qb.push(" WHERE record_id = ").push_bind(r);
            }
            qb.push(" ORDER BY created_at DESC, id DESC LIMIT ").push_bind(limit);
            let rows = qb.build().fetch_all(pool).await?;
            rows.iter().map(delivery_from_row).collect()
        }

        /// Every attempt of these deliveries, oldest first.
        pub(crate) async fn attempts_of(pool: &Pool<Db>, ids: &[Uuid]) -> Result<Vec<Attempt>> {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let mut qb = QueryBuilder::<Db>::new("SELECT * FROM delivery_attempts WHERE delivery_id IN (");
            let mut list = qb.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            qb.push(") ORDER BY delivery_id, attempt");
            let rows = qb.build().fetch_all(pool).await?;
            rows.iter()
                .map(|row| Ok(Attempt { delivery_id: row.try_get("delivery_id")?, attempt: row.try_get("attempt")?, at: ts(row, "at")?, ok: row.try_get("ok")?, detail: row.try_get("detail")? }))
                .collect()
        }

        /// Leases up to `limit` pending deliveries due at `now` until `lease_until`
        /// (skipping those another instance holds or leased and has not let go).
        /// A process that dies mid-send lets its lease run out, and the delivery is taken over.
        pub(crate) async fn claim_deliveries(pool: &Pool<Db>, now: Timestamp, lease_until: Timestamp, limit: i64) -> Result<Vec<Delivery>> {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE outbox SET lease_until = $1 WHERE id IN (
                     SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until <= $2)
                     ORDER BY next_attempt_at, id LIMIT $3{})
                 RETURNING *",
                $lock
            )))
            .bind($to_db(lease_until))
            .bind($to_db(now))
            .bind(limit)
            .fetch_all(pool)
            .await?;
            let mut out: Vec<Delivery> = rows.iter().map(delivery_from_row).collect::<Result<_>>()?;
            out.sort_by_key(|d| (d.next_attempt_at, d.id));
            Ok(out)
        }

        /// Records an attempt and the delivery's new state: `sent`, `failed` (no
        /// more attempts: the dead letter), or `pending` until `next`; the lease ends.
        pub(crate) async fn finish_attempt(pool: &Pool<Db>, a: &Attempt, status: &str, next: Option<Timestamp>) -> Result<()> {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE outbox SET attempts = $1, status = $2, next_attempt_at = COALESCE($3, next_attempt_at), lease_until = NULL,
                     sent_at = CASE WHEN $4 THEN $5 ELSE sent_at END, last_error = CASE WHEN $4 THEN NULL ELSE $6 END WHERE id = $7",
            )
            .bind(a.attempt)
            .bind(status)
            .bind(next.map($to_db))
            .bind(a.ok)
            .bind($to_db(a.at))
            .bind(&a.detail)
            .bind(a.delivery_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO delivery_attempts (delivery_id, attempt, at, ok, detail) VALUES ($1, $2, $3, $4, $5)")
                .bind(a.delivery_id)
                .bind(a.attempt)
                .bind($to_db(a.at))
                .bind(a.ok)
                .bind(&a.detail)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        }

        /// Stores (or, with `None`, forgets) the next moment of a trigger for a record.
        pub(crate) async fn set_schedule(tx: &mut DbTx, trigger: &str, record: Uuid, form: &str, fire_at: Option<Timestamp>) -> Result<()> {
            match fire_at {
                Some(t) => {
                    sqlx::query(
                        "INSERT INTO trigger_schedule (trigger_key, record_id, form, fire_at) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (trigger_key, record_id) DO UPDATE SET fire_at = excluded.fire_at",
                    )
                    .bind(trigger)
                    .bind(record)
                    .bind(form)
                    .bind($to_db(t))
                    .execute(&mut **tx)
                    .await?;
                }
                None => {
                    sqlx::query("DELETE FROM trigger_schedule WHERE trigger_key = $1 AND record_id = $2").bind(trigger).bind(record).execute(&mut **tx).await?;
                }
            }
            Ok(())
        }

        fn audit_from_row(row: &$row) -> Result<AuditEntry> {
            Ok(AuditEntry {
                id: row.try_get("id")?,
                at: ts(row, "at")?,
                actor_id: row.try_get("actor_id")?,
                actor_email: row.try_get("actor_email")?,
                action: row.try_get("action")?,
                target: row.try_get("target")?,
                detail: row.try_get::<Json<Value>, _>("detail")?.0,
            })
        }

        const AUDIT_INSERT: &str = "INSERT INTO audit_log (id, at, actor_id, actor_email, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)";

        pub(crate) async fn insert_audit(tx: &mut DbTx, e: &AuditEntry) -> Result<()> {
            sqlx::query(AUDIT_INSERT).bind(e.id).bind($to_db(e.at)).bind(e.actor_id).bind(e.actor_email.clone()).bind(e.action.clone()).bind(e.target.clone()).bind(Json(&e.detail)).execute(&mut **tx).await?;
            Ok(())
        }

        pub(crate) async fn insert_audit_now(pool: &Pool<Db>, e: &AuditEntry) -> Result<()> {
            sqlx::query(AUDIT_INSERT).bind(e.id).bind($to_db(e.at)).bind(e.actor_id).bind(e.actor_email.clone()).bind(e.action.clone()).bind(e.target.clone()).bind(Json(&e.detail)).execute(pool).await?;
            Ok(())
        }

        pub(crate) async fn audit_log(pool: &Pool<Db>, before: Option<Timestamp>, limit: i64) -> Result<Vec<AuditEntry>> {
            let rows = match before {
                Some(b) => sqlx::query("SELECT * FROM audit_log WHERE at < $1 ORDER BY at DESC, id DESC LIMIT $2").bind($to_db(b)).bind(limit).fetch_all(pool).await?,
                None => sqlx::query("SELECT * FROM audit_log ORDER BY at DESC, id DESC LIMIT $1").bind(limit).fetch_all(pool).await?,
            };
            rows.iter().map(audit_from_row).collect()
        }

        fn token_from_row(row: &$row) -> Result<TokenInfo> {
            Ok(TokenInfo { id: row.try_get("id")?, user_id: row.try_get("user_id")?, created_at: ts(row, "created_at")?, revoked_at: ts_opt(row, "revoked_at")? })
        }

        pub(crate) async fn tokens_of(pool: &Pool<Db>, user: Uuid) -> Result<Vec<TokenInfo>> {
            let rows = sqlx::query("SELECT id, user_id, created_at, revoked_at FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id DESC").bind(user).fetch_all(pool).await?;
            rows.iter().map(token_from_row).collect()
        }

        pub(crate) async fn token_info(pool: &Pool<Db>, id: Uuid) -> Result<Option<TokenInfo>> {
            let row = sqlx::query("SELECT id, user_id, created_at, revoked_at FROM api_tokens WHERE id = $1").bind(id).fetch_optional(pool).await?;
            row.as_ref().map(token_from_row).transpose()
        }

        pub(crate) async fn token_id_for_hash(pool: &Pool<Db>, hash: &str) -> Result<Option<Uuid>> {
            Ok(sqlx::query_scalar("SELECT id FROM api_tokens WHERE token_hash = $1").bind(hash).fetch_optional(pool).await?)
        }

        fn link_from_row(row: &$row) -> Result<PublicLink> {
            Ok(PublicLink {
                id: row.try_get("id")?,
                form: row.try_get("form")?,
                mode: row.try_get("mode")?,
                fields: row.try_get::<Json<Vec<String>>, _>("fields")?.0,
                title: row.try_get("title")?,
                expires_at: ts_opt(row, "expires_at")?,
                created_by: row.try_get("created_by")?,
                created_at: ts(row, "created_at")?,
                revoked_at: ts_opt(row, "revoked_at")?,
            })
        }

        fn view_from_row(row: &$row) -> Result<SavedView> {
            Ok(SavedView {
                id: row.try_get("id")?,
                user_id: row.try_get("user_id")?,
                form: row.try_get("form")?,
                name: row.try_get("name")?,
                config: row.try_get::<Json<Value>, _>("config")?.0,
                shared: row.try_get("shared")?,
                created_at: ts(row, "created_at")?,
                updated_at: ts(row, "updated_at")?,
            })
        }

        /// A form's views `user` is offered: their own, and the shared ones of their team
        /// (their manager's, their reports', and those of whoever shares their manager).
        pub(crate) async fn saved_views(pool: &Pool<Db>, form: &str, user: Uuid, manager: Option<Uuid>) -> Result<Vec<SavedView>> {
            let rows = sqlx::query(
                "SELECT v.* FROM saved_views v JOIN users o ON o.id = v.user_id WHERE v.form = $1 AND (v.user_id = $2 OR (v.shared AND (o.id = $3 OR o.manager_id = $2 OR o.manager_id = $3))) ORDER BY v.name, v.id",
            )
            .bind(form)
            .bind(user)
            .bind(manager)
            .fetch_all(pool)
            .await?;
            rows.iter().map(view_from_row).collect()
        }

        /// Saves a view by its owner, form and name: a new one, or the same name saved again.
        pub(crate) async fn save_view(pool: &Pool<Db>, v: &SavedView) -> Result<SavedView> {
            let row = sqlx::query(
                "INSERT INTO saved_views (id, user_id, form, name, config, shared, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
                 ON CONFLICT (user_id, form, name) DO UPDATE SET config = excluded.config, shared = excluded.shared, updated_at = excluded.updated_at RETURNING *",
            )
            .bind(v.id)
            .bind(v.user_id)
            .bind(&v.form)
            .bind(&v.name)
            .bind(Json(&v.config))
            .bind(v.shared)
            .bind($to_db(v.updated_at))
            .fetch_one(pool)
            .await?;
            view_from_row(&row)
        }

        pub(crate) async fn saved_view(pool: &Pool<Db>, id: Uuid) -> Result<Option<SavedView>> {
            let row = sqlx::query("SELECT * FROM saved_views WHERE id = $1").bind(id).fetch_optional(pool).await?;
            row.as_ref().map(view_from_row).transpose()
        }

        pub(crate) async fn delete_view(pool: &Pool<Db>, id: Uuid) -> Result<bool> {
            Ok(sqlx::query("DELETE FROM saved_views WHERE id = $1").bind(id).execute(pool).await?.rows_affected() == 1)
        }

        pub(crate) async fn insert_public_link(pool: &Pool<Db>, l: &PublicLink) -> Result<()> {
            sqlx::query("INSERT INTO public_links (id, form, mode, fields, title, expires_at, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(l.id)
                .bind(&l.form)
                .bind(&l.mode)
                .bind(Json(&l.fields))
                .bind(&l.title)
                .bind(l.expires_at.map($to_db))
                .bind(l.created_by)
                .bind($to_db(l.created_at))
                .execute(pool)
                .await?;
            Ok(())
        }

        pub(crate) async fn public_link(pool: &Pool<Db>, id: Uuid) -> Result<Option<PublicLink>> {
            let row = sqlx::query("SELECT * FROM public_links WHERE id = $1").bind(id).fetch_optional(pool).await?;
            row.as_ref().map(link_from_row).transpose()
        }

        pub(crate) async fn public_links(pool: &Pool<Db>, form: &str) -> Result<Vec<PublicLink>> {
            let rows = sqlx::query("SELECT * FROM public_links WHERE form = $1 ORDER BY created_at DESC, id DESC").bind(form).fetch_all(pool).await?;
            rows.iter().map(link_from_row).collect()
        }

        pub(crate) async fn revoke_public_link(pool: &Pool<Db>, id: Uuid, at: Timestamp) -> Result<bool> {
            let done = sqlx::query("UPDATE public_links SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL").bind(id).bind($to_db(at)).execute(pool).await?;
            Ok(done.rows_affected() == 1)
        }

        /// The secret named `name`, set to `fresh` when there is none yet (the first instance to ask wins).
        pub(crate) async fn secret(pool: &Pool<Db>, name: &str, fresh: &str) -> Result<String> {
            sqlx::query("INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING").bind(name).bind(fresh).execute(pool).await?;
            Ok(sqlx::query_scalar("SELECT value FROM secrets WHERE name = $1").bind(name).fetch_one(pool).await?)
        }

        pub(crate) async fn revoke_token_id(pool: &Pool<Db>, id: Uuid, at: Timestamp) -> Result<bool> {
            let done = sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL").bind(id).bind($to_db(at)).execute(pool).await?;
            Ok(done.rows_affected() == 1)
        }

        pub(crate) async fn set_schedules(tx: &mut DbTx, items: &[(String, Uuid, String, Option<Timestamp>)]) -> Result<()> {
            let sets: Vec<(&String, Uuid, &String, Timestamp)> = items.iter().filter_map(|(t, r, f, at)| at.map(|at| (t, *r, f, at))).collect();
            for chunk in sets.chunks(500) {
                let mut qb = QueryBuilder::<Db>::new("INSERT INTO trigger_schedule (trigger_key, record_id, form, fire_at) ");
                qb.push_values(chunk, |mut b, (t, r, f, at)| {
                    b.push_bind((*t).clone()).push_bind(*r).push_bind((*f).clone()).push_bind($to_db(*at));
                });
                qb.push(" ON CONFLICT (trigger_key, record_id) DO UPDATE SET fire_at = excluded.fire_at");
                qb.build().execute(&mut **tx).await?;
            }
            let mut gone: std::collections::BTreeMap<&str, Vec<Uuid>> = std::collections::BTreeMap::new();
            for (t, r, _, at) in items {
                if at.is_none() {
                    gone.entry(t.as_str()).or_default().push(*r);
                }
            }
            for (t, ids) in gone {
                for chunk in ids.chunks(500) {
                    let mut qb = QueryBuilder::<Db>::new("DELETE FROM trigger_schedule WHERE trigger_key = ");
                    qb.push_bind(t.to_owned()).push(" AND record_id IN (");
                    let mut list = qb.separated(", ");
                    for id in chunk {
                        list.push_bind(*id);
                    }
                    qb.push(")");
                    qb.build().execute(&mut **tx).await?;
                }
            }
            Ok(())
        }

        fn scheduled_from_row(row: &$row) -> Result<Scheduled> {
            Ok(Scheduled { trigger: row.try_get("trigger_key")?, record_id: row.try_get("record_id")?, form: row.try_get("form")?, fire_at: ts(row, "fire_at")? })
        }

        /// A record's stored next moments, earliest first.
        pub(crate) async fn schedules_of(pool: &Pool<Db>, record: Uuid) -> Result<Vec<Scheduled>> {
            let rows = sqlx::query("SELECT * FROM trigger_schedule WHERE record_id = $1 ORDER BY fire_at, trigger_key").bind(record).fetch_all(pool).await?;
            rows.iter().map(scheduled_from_row).collect()
        }

        /// Stored next moments in `[from, to)`, earliest first (a calendar's window).
        pub(crate) async fn schedules_between(pool: &Pool<Db>, from: Timestamp, to: Timestamp, limit: i64) -> Result<Vec<Scheduled>> {
            let rows = sqlx::query("SELECT * FROM trigger_schedule WHERE fire_at >= $1 AND fire_at < $2 ORDER BY fire_at, trigger_key, record_id LIMIT $3")
                .bind($to_db(from))
                .bind($to_db(to))
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(scheduled_from_row).collect()
        }

        /// Moments due at `now`, earliest first (read without locks).
        pub(crate) async fn due_schedules(pool: &Pool<Db>, now: Timestamp, limit: i64) -> Result<Vec<Scheduled>> {
            let rows = sqlx::query("SELECT * FROM trigger_schedule WHERE fire_at <= $1 ORDER BY fire_at, trigger_key, record_id LIMIT $2")
                .bind($to_db(now))
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(scheduled_from_row).collect()
        }

        /// Locks a schedule row if it still says `fire_at`; `None` when another
        /// instance holds it or it moved meanwhile.
        pub(crate) async fn lock_schedule(tx: &mut DbTx, trigger: &str, record: Uuid, fire_at: Timestamp) -> Result<Option<Scheduled>> {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT * FROM trigger_schedule WHERE trigger_key = $1 AND record_id = $2 AND fire_at = $3{}",
                $lock
            )))
            .bind(trigger)
            .bind(record)
            .bind($to_db(fire_at))
            .fetch_optional(&mut **tx)
            .await?;
            row.as_ref().map(scheduled_from_row).transpose()
        }

        /// Records an occurrence; false when it was already handled.
        pub(crate) async fn insert_occurrence(tx: &mut DbTx, o: &Occurrence) -> Result<bool> {
            let done = sqlx::query(
                "INSERT INTO occurrences (trigger_key, record_id, at, status, handled_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (trigger_key, record_id, at) DO NOTHING",
            )
            .bind(&o.trigger)
            .bind(o.record_id)
            .bind($to_db(o.at))
            .bind(&o.status)
            .bind($to_db(o.handled_at))
            .execute(&mut **tx)
            .await?;
            Ok(done.rows_affected() == 1)
        }

        pub(crate) async fn occurrences(pool: &Pool<Db>, trigger: Option<&str>, record: Option<Uuid>, limit: i64) -> Result<Vec<Occurrence>> {
            let mut qb = QueryBuilder::<Db>::new("SELECT * FROM occurrences WHERE 1 = 1");
            if let Some(t) = trigger {
                qb.push(" AND trigger_key = ").push_bind(t.to_owned());
            }
            if let Some(r) = record {
                qb.push(" AND record_id = ").push_bind(r);
            }
            qb.push(" ORDER BY at DESC LIMIT ").push_bind(limit);
            let rows = qb.build().fetch_all(pool).await?;
            rows.iter()
                .map(|row| Ok(Occurrence { trigger: row.try_get("trigger_key")?, record_id: row.try_get("record_id")?, at: ts(row, "at")?, status: row.try_get("status")?, handled_at: ts(row, "handled_at")? }))
                .collect()
        }

        /// Forgets every stored moment of a trigger (before computing them
        /// again), and its next cron run unless that is due at `now`: a run
        /// under way (or resumed after a crash) finishes and sends its digest.
        pub(crate) async fn clear_schedules(tx: &mut DbTx, trigger: &str, now: Timestamp) -> Result<()> {
            sqlx::query("DELETE FROM trigger_schedule WHERE trigger_key = $1").bind(trigger).execute(&mut **tx).await?;
            sqlx::query("DELETE FROM cron_schedule WHERE trigger_key = $1 AND fire_at > $2").bind(trigger).bind($to_db(now)).execute(&mut **tx).await?;
            Ok(())
        }

        /// A cron trigger's stored next run.
        pub(crate) async fn cron_of(tx: &mut DbTx, trigger: &str) -> Result<Option<Scheduled>> {
            let row = sqlx::query("SELECT * FROM cron_schedule WHERE trigger_key = $1").bind(trigger).fetch_optional(&mut **tx).await?;
            row.as_ref().map(cron_from_row).transpose()
        }

        /// Stores (or, with `None`, forgets) a cron trigger's next run.
        pub(crate) async fn set_cron(tx: &mut DbTx, trigger: &str, form: &str, fire_at: Option<Timestamp>) -> Result<()> {
            match fire_at {
                Some(t) => {
                    sqlx::query(
                        "INSERT INTO cron_schedule (trigger_key, form, fire_at) VALUES ($1, $2, $3)
                         ON CONFLICT (trigger_key) DO UPDATE SET form = excluded.form, fire_at = excluded.fire_at",
                    )
                    .bind(trigger)
                    .bind(form)
                    .bind($to_db(t))
                    .execute(&mut **tx)
                    .await?;
                }
                None => {
                    sqlx::query("DELETE FROM cron_schedule WHERE trigger_key = $1").bind(trigger).execute(&mut **tx).await?;
                }
            }
            Ok(())
        }

        fn cron_from_row(row: &$row) -> Result<Scheduled> {
            Ok(Scheduled { trigger: row.try_get("trigger_key")?, record_id: Uuid::nil(), form: row.try_get("form")?, fire_at: ts(row, "fire_at")? })
        }

        /// Cron runs due at `now`, earliest first (read without locks); the record is nil.
        pub(crate) async fn due_crons(pool: &Pool<Db>, now: Timestamp, limit: i64) -> Result<Vec<Scheduled>> {
            let rows = sqlx::query("SELECT * FROM cron_schedule WHERE fire_at <= $1 ORDER BY fire_at, trigger_key LIMIT $2")
                .bind($to_db(now))
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(cron_from_row).collect()
        }

        /// Locks a cron run if it still says `fire_at`; `None` when another instance holds it or it moved on.
        pub(crate) async fn lock_cron(tx: &mut DbTx, trigger: &str, fire_at: Timestamp) -> Result<Option<Scheduled>> {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM cron_schedule WHERE trigger_key = $1 AND fire_at = $2{}", $lock)))
                .bind(trigger)
                .bind($to_db(fire_at))
                .fetch_optional(&mut **tx)
                .await?;
            row.as_ref().map(cron_from_row).transpose()
        }

        /// The records a run of `trigger` at `at` picked (fired occurrences), by id after `after`.
        pub(crate) async fn fired_records(pool: &Pool<Db>, trigger: &str, at: Timestamp, after: Option<Uuid>, limit: i64) -> Result<Vec<Uuid>> {
            let rows = sqlx::query(
                "SELECT record_id FROM occurrences WHERE trigger_key = $1 AND at = $2 AND status = 'fired' AND record_id > $3
                 ORDER BY record_id LIMIT $4",
            )
            .bind(trigger)
            .bind($to_db(at))
            .bind(after.unwrap_or_else(Uuid::nil))
            .bind(limit)
            .fetch_all(pool)
            .await?;
            rows.iter().map(|r| Ok(r.try_get("record_id")?)).collect()
        }

        fn pack_from_row(row: &$row) -> Result<StoredPack> {
            Ok(StoredPack {
                name: row.try_get("name")?,
                version: row.try_get("version")?,
                manifest: row.try_get::<Json<Value>, _>("manifest")?.0,
                definitions: row.try_get::<Json<Value>, _>("definitions")?.0,
                installed_at: ts(row, "installed_at")?,
                updated_at: ts(row, "updated_at")?,
            })
        }

        pub(crate) async fn packs(pool: &Pool<Db>) -> Result<Vec<StoredPack>> {
            let rows = sqlx::query("SELECT * FROM packs ORDER BY name").fetch_all(pool).await?;
            rows.iter().map(pack_from_row).collect()
        }

        pub(crate) async fn pack(pool: &Pool<Db>, name: &str) -> Result<Option<StoredPack>> {
            let row = sqlx::query("SELECT * FROM packs WHERE name = $1").bind(name).fetch_optional(pool).await?;
            row.as_ref().map(pack_from_row).transpose()
        }

        pub(crate) async fn save_pack(tx: &mut DbTx, p: &StoredPack) -> Result<()> {
            sqlx::query(
                "INSERT INTO packs (name, version, manifest, definitions, installed_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (name) DO UPDATE SET version = excluded.version, manifest = excluded.manifest,
                     definitions = excluded.definitions, updated_at = excluded.updated_at",
            )
            .bind(&p.name)
            .bind(&p.version)
            .bind(Json(&p.manifest))
            .bind(Json(&p.definitions))
            .bind($to_db(p.installed_at))
            .bind($to_db(p.updated_at))
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        pub(crate) async fn delete_pack(tx: &mut DbTx, name: &str) -> Result<()> {
            sqlx::query("DELETE FROM packs WHERE name = $1").bind(name).execute(&mut **tx).await?;
            sqlx::query("DELETE FROM pack_migrations WHERE pack = $1").bind(name).execute(&mut **tx).await?;
            Ok(())
        }

        pub(crate) async fn delete_definition(tx: &mut DbTx, kind: &str, key: &str) -> Result<bool> {
            let done = sqlx::query("DELETE FROM definitions WHERE kind = $1 AND key = $2").bind(kind).bind(key).execute(&mut **tx).await?;
            if $notify {
                sqlx::query("SELECT pg_notify($1, $2)").bind(crate::postgres::DEFINITIONS_CHANNEL).bind(format!("{kind}:{key}")).execute(&mut **tx).await?;
            }
            Ok(done.rows_affected() > 0)
        }

        pub(crate) async fn last_definition_version(pool: &Pool<Db>, kind: &str, key: &str) -> Result<Option<i64>> {
            Ok(sqlx::query_scalar("SELECT max(version) FROM definition_versions WHERE kind = $1 AND key = $2").bind(kind).bind(key).fetch_one(pool).await?)
        }

        fn pack_migration_from_row(row: &$row) -> Result<PackMigration> {
            let after: Option<String> = row.try_get("after_id")?;
            Ok(PackMigration {
                pack: row.try_get("pack")?,
                step: row.try_get("step")?,
                form: row.try_get("form")?,
                after: after.map(|a| a.parse::<Uuid>()).transpose().map_err(|e| crate::StoreError::Corrupt(e.to_string()))?,
                migrated: row.try_get("migrated")?,
                finished_at: ts_opt(row, "finished_at")?,
            })
        }

        /// Takes the write lock on a migration's progress row (an UPDATE: the row lock on
        /// PostgreSQL, the database's write lock on SQLite) and reads it, creating it first
        /// if need be: two installs at once take turns, each batch after the other's.
        pub(crate) async fn lock_pack_migration(tx: &mut DbTx, pack: &str, step: &str, form: &str) -> Result<PackMigration> {
            sqlx::query("INSERT INTO pack_migrations (pack, step, form, migrated) VALUES ($1, $2, $3, 0) ON CONFLICT (pack, step, form) DO UPDATE SET migrated = pack_migrations.migrated")
                .bind(pack)
                .bind(step)
                .bind(form)
                .execute(&mut **tx)
                .await?;
            let row = sqlx::query("SELECT * FROM pack_migrations WHERE pack = $1 AND step = $2 AND form = $3").bind(pack).bind(step).bind(form).fetch_one(&mut **tx).await?;
            pack_migration_from_row(&row)
        }

        pub(crate) async fn clear_pack_migrations(tx: &mut DbTx, pack: &str) -> Result<()> {
            sqlx::query("DELETE FROM pack_migrations WHERE pack = $1").bind(pack).execute(&mut **tx).await?;
            Ok(())
        }

        pub(crate) async fn save_pack_migration(tx: &mut DbTx, m: &PackMigration) -> Result<()> {
            sqlx::query(
                "INSERT INTO pack_migrations (pack, step, form, after_id, migrated, finished_at) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (pack, step, form) DO UPDATE SET after_id = excluded.after_id, migrated = excluded.migrated, finished_at = excluded.finished_at",
            )
            .bind(&m.pack)
            .bind(&m.step)
            .bind(&m.form)
            .bind(m.after.map(|a| a.to_string()))
            .bind(m.migrated)
            .bind(m.finished_at.map($to_db))
            .execute(&mut **tx)
            .await?;
            Ok(())
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
    work_queries!(db = sqlx::Sqlite, row = sqlx::sqlite::SqliteRow, time = String, to_db = to_db, from_db = from_db, lock = "", notify = false);
}

pub(crate) mod on_postgres {
    fn from_db(t: time::OffsetDateTime) -> crate::Result<jiff::Timestamp> {
        crate::postgres::from_db(t)
    }
    work_queries!(
        db = sqlx::Postgres,
        row = sqlx::postgres::PgRow,
        time = time::OffsetDateTime,
        to_db = crate::postgres::to_db,
        from_db = from_db,
        lock = " FOR UPDATE SKIP LOCKED",
        notify = true
    );
}
