//! The only Trellis code that speaks SQL.
//!
//! [`Store`] is one interface over two backends, SQLite (the embedded default)
//! and PostgreSQL (for several instances), each in its own module with SQL in
//! its own dialect. Reads go through the store's pools; writes go through a
//! [`Tx`] the caller (the engine) opens and commits, so that one record write
//! is one transaction. Both backends pass the same test suite.
//!
//! Reading order: [`layout`] (a table per form, and the upgrade to it),
//! [`index`] (per-form index names and specs), [`filter`] (rendering a core
//! filter, sort and cursor as SQL), then [`sqlite`] and [`postgres`].

use jiff::Timestamp;
use serde_json::Value;
use trellis_core::query::ListQuery;
use trellis_core::{HistoryEntry, Record};
use uuid::Uuid;

mod filter;
mod layout;
pub mod backup;
pub mod index;
pub mod jobs;
pub mod postgres;
pub mod sqlite;
pub mod work;

pub use work::{Attempt, Comment, Delivery, Instance, Notification, Occurrence, PackMigration, Scheduled, StoredDefinition, StoredPack, Task, TaskQuery, Timer, TokenInfo, AuditEntry, PublicLink, SavedView};

pub use index::IndexSpec;
pub use jobs::{Job, JobError};

/// What can go wrong in the store. Anything but a unique violation is an
/// infrastructure failure the caller reports as a 500 and logs.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique index refused the write; `index` is its name (see [`index`]).
    #[error("unique index {index} refused the write")]
    Unique { index: String },
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the database is closing")]
    Closed,
    #[error("unsupported database URL '{0}': use sqlite://FILE or postgres://…")]
    Url(String),
    /// A step of the storage upgrade failed; the steps before it are kept
    /// and the next start resumes with this one.
    #[error("storage upgrade stopped at step {step} of {of} ({what}); the steps before it are kept and the next start resumes here: {source}")]
    Upgrade { step: usize, of: usize, what: String, source: Box<StoreError> },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A user account.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    /// The display name (王芳); `None` shows the email.
    pub name: Option<String>,
    pub role: String,
    pub password_hash: String,
    /// The user's manager: whose team they are in.
    pub manager: Option<Uuid>,
    pub created_at: Timestamp,
}

/// A form definition as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredForm {
    pub key: String,
    pub version: i64,
    pub definition: Value,
    pub updated_at: Timestamp,
}

/// Where the latest sweep of a form's rules is.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepState {
    pub form: String,
    pub started_at: Timestamp,
    /// The last record done; the next batch starts after it.
    pub after: Option<Uuid>,
    pub scanned: i64,
    pub changed: i64,
    pub failed: i64,
    pub finished_at: Option<Timestamp>,
}

/// A new version of a form, with the indexes it wants.
#[derive(Debug, Clone)]
pub struct FormSave<'a> {
    pub key: &'a str,
    pub version: i64,
    pub definition: &'a Value,
    pub at: Timestamp,
    pub by: Uuid,
    pub indexes: &'a [IndexSpec],
}

/// A records query whose plan [`Store::explain`] shows.
#[derive(Debug, Clone, Copy)]
pub enum Explain<'a> {
    /// A page of a list, as [`Store::list`] reads it.
    List(&'a ListQuery),
    /// A count, as [`Store::count_matching`] makes it.
    Count(Option<&'a trellis_core::query::Filter>),
    /// A lookup by a key, as [`Store::matching`] makes it.
    Lookup { filter: &'a trellis_core::query::Filter, index: Option<&'a str> },
}

/// The database behind Trellis.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

/// An open write transaction. Dropping it without [`Tx::commit`] rolls back.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(postgres::PgTx),
}

macro_rules! dispatch {
    ($self:expr, $s:ident => $body:expr) => {
        match $self {
            Store::Sqlite($s) => $body,
            Store::Postgres($s) => $body,
        }
    };
}

macro_rules! dispatch_tx {
    ($self:expr, $m:ident ( $($arg:expr),* )) => {
        match $self {
            Tx::Sqlite(tx) => sqlite::$m(tx, $($arg),*).await,
            Tx::Postgres(tx) => postgres::$m(tx, $($arg),*).await,
        }
    };
}

/// Runs a work query on the store's read pool.
macro_rules! read {
    ($self:expr, $m:ident ( $($arg:expr),* )) => {
        match $self {
            Store::Sqlite(s) => work::on_sqlite::$m(&s.reader, $($arg),*).await,
            Store::Postgres(s) => work::on_postgres::$m(&s.pool, $($arg),*).await,
        }
    };
}

/// Runs a work query in a transaction.
macro_rules! in_tx {
    ($self:expr, $m:ident ( $($arg:expr),* )) => {
        match $self {
            Tx::Sqlite(tx) => work::on_sqlite::$m(tx, $($arg),*).await,
            Tx::Postgres(tx) => work::on_postgres::$m(tx, $($arg),*).await,
        }
    };
}

impl Store {
    /// Opens the database at `url` (`sqlite://FILE`, created if missing, or
    /// `postgres://…`) and applies the migrations.
    pub async fn connect(url: &str) -> Result<Store> {
        if url.starts_with("sqlite:") {
            Ok(Store::Sqlite(sqlite::SqliteStore::connect(url).await?))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Store::Postgres(postgres::PgStore::connect(url).await?))
        } else {
            Err(StoreError::Url(url.to_owned()))
        }
    }

    pub fn backend(&self) -> &'static str {
        dispatch!(self, _s => if matches!(self, Store::Sqlite(_)) { "sqlite" } else { "postgres" })
    }

    /// On PostgreSQL, a listener for definition saves made by any instance;
    /// `None` on SQLite, where one process owns the database.
    pub async fn listen_definitions(&self) -> Result<Option<postgres::DefinitionListener>> {
        match self {
            Store::Sqlite(_) => Ok(None),
            Store::Postgres(s) => s.listen_definitions().await.map(Some),
        }
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        dispatch!(self, s => s.ping().await)
    }

    pub async fn begin(&self) -> Result<Tx> {
        dispatch!(self, s => s.begin().await)
    }

    pub async fn close(&self) {
        dispatch!(self, s => s.close().await)
    }

    pub async fn count_users(&self) -> Result<i64> {
        dispatch!(self, s => s.count_users().await)
    }

    pub async fn insert_user(&self, u: &User) -> Result<()> {
        dispatch!(self, s => s.insert_user(u).await)
    }

    /// A user by email (case-insensitive) or by id.
    pub async fn find_user(&self, email_or_id: &str) -> Result<Option<User>> {
        dispatch!(self, s => s.find_user(email_or_id).await)
    }

    /// Every user, by email.
    pub async fn users(&self) -> Result<Vec<User>> {
        dispatch!(self, s => s.users().await)
    }

    pub async fn insert_token(&self, id: Uuid, user: Uuid, hash: &str, at: Timestamp) -> Result<()> {
        dispatch!(self, s => s.insert_token(id, user, hash, at).await)
    }

    /// The user a live (unrevoked) token belongs to.
    pub async fn user_for_token(&self, hash: &str) -> Result<Option<User>> {
        dispatch!(self, s => s.user_for_token(hash).await)
    }

    /// Revokes a token; false when it was unknown or already revoked.
    pub async fn revoke_token(&self, hash: &str, at: Timestamp) -> Result<bool> {
        dispatch!(self, s => s.revoke_token(hash, at).await)
    }

    pub async fn forms(&self) -> Result<Vec<StoredForm>> {
        dispatch!(self, s => s.forms().await)
    }

    pub async fn form(&self, key: &str) -> Result<Option<StoredForm>> {
        dispatch!(self, s => s.form(key).await)
    }

    /// A record of `form`, live or deleted.
    pub async fn record(&self, form: &str, id: Uuid) -> Result<Option<Record>> {
        dispatch!(self, s => s.record(form, id).await)
    }

    pub async fn list(&self, form: &str, q: &ListQuery) -> Result<Vec<Record>> {
        dispatch!(self, s => s.list(form, q).await)
    }

    /// How many live records of `form` match `filter` (all of them without one).
    pub async fn count_matching(&self, form: &str, filter: Option<&trellis_core::query::Filter>) -> Result<i64> {
        dispatch!(self, s => s.count_matching(form, filter).await)
    }

    /// The live records of `form` matching `filter`, unordered and unpaged,
    /// through the unique index `index` when given (named by [`index::specs`]):
    /// a lookup by a unique key, whose filter is on that key.
    pub async fn matching(&self, form: &str, filter: &trellis_core::query::Filter, index: Option<&str>) -> Result<Vec<Record>> {
        dispatch!(self, s => s.matching(form, filter, index).await)
    }

    /// How the database would run a query of `form`'s records, one line per
    /// step of its plan: which index serves a list, a count or a lookup. On
    /// PostgreSQL a sequential scan is discouraged for the question (the
    /// planner rightly prefers one on a small table), so the plan shows
    /// whether an index *can* serve the query: for tests and diagnosis.
    pub async fn explain(&self, form: &str, what: Explain<'_>) -> Result<Vec<String>> {
        dispatch!(self, s => s.explain(form, what).await)
    }

    /// Refreshes the planner's statistics of the forms' tables (after bulk writes).
    pub async fn analyze(&self) -> Result<()> {
        dispatch!(self, s => s.analyze().await)
    }

    /// How many live records `form` has.
    pub async fn count(&self, form: &str) -> Result<i64> {
        self.count_matching(form, None).await
    }

    pub async fn sweep(&self, form: &str) -> Result<Option<SweepState>> {
        dispatch!(self, s => s.sweep(form).await)
    }

    /// A record's history, oldest first.
    pub async fn history(&self, id: Uuid) -> Result<Vec<HistoryEntry>> {
        dispatch!(self, s => s.history(id).await)
    }
}

/// Definitions beside forms, workflow instances and timers, tasks, notifications, the outbox.
impl Store {
    pub async fn definitions(&self, kind: &str) -> Result<Vec<StoredDefinition>> {
        read!(self, definitions(kind))
    }

    pub async fn packs(&self) -> Result<Vec<StoredPack>> {
        read!(self, packs())
    }

    pub async fn pack(&self, name: &str) -> Result<Option<StoredPack>> {
        read!(self, pack(name))
    }

    /// The last version a definition had, even one since removed (its history stays).
    /// On SQLite, a stamp that changes whenever a form or definition is saved
    /// or removed by any process (`None` on PostgreSQL, which announces changes
    /// with NOTIFY): how a server notices a `trellis pack install` run beside it.
    pub async fn definitions_stamp(&self) -> Result<Option<String>> {
        match self {
            Store::Sqlite(s) => Ok(Some(
                sqlx::query_scalar(
                    "SELECT (SELECT count(*) FROM forms) || ':' || coalesce((SELECT max(updated_at) FROM forms), '') || '/' ||
                            (SELECT count(*) FROM definitions) || ':' || coalesce((SELECT max(updated_at) FROM definitions), '')",
                )
                .fetch_one(&s.reader)
                .await?,
            )),
            Store::Postgres(_) => Ok(None),
        }
    }

    pub async fn last_definition_version(&self, kind: &str, key: &str) -> Result<Option<i64>> {
        read!(self, last_definition_version(kind, key))
    }

    pub async fn definition(&self, kind: &str, key: &str) -> Result<Option<StoredDefinition>> {
        read!(self, definition(kind, key))
    }

    /// Writes an audit entry on its own (a sign-in: there is no transaction to join).
    pub async fn audit(&self, e: &AuditEntry) -> Result<()> {
        match self {
            Store::Sqlite(s) => work::on_sqlite::insert_audit_now(&s.writer, e).await,
            Store::Postgres(s) => work::on_postgres::insert_audit_now(&s.pool, e).await,
        }
    }

    /// The audit log, newest first, before `before` when given.
    pub async fn audit_log(&self, before: Option<Timestamp>, limit: i64) -> Result<Vec<AuditEntry>> {
        read!(self, audit_log(before, limit))
    }

    /// A user's bearer tokens, newest first (live and revoked).
    pub async fn tokens_of(&self, user: Uuid) -> Result<Vec<TokenInfo>> {
        read!(self, tokens_of(user))
    }

    /// The id of the token with this hash.
    pub async fn token_id_for_hash(&self, hash: &str) -> Result<Option<Uuid>> {
        read!(self, token_id_for_hash(hash))
    }

    pub async fn token_info(&self, id: Uuid) -> Result<Option<TokenInfo>> {
        read!(self, token_info(id))
    }

    /// Revokes a token by its id; false when it was revoked already.
    pub async fn revoke_token_id(&self, id: Uuid, at: Timestamp) -> Result<bool> {
        match self {
            Store::Sqlite(s) => work::on_sqlite::revoke_token_id(&s.writer, id, at).await,
            Store::Postgres(s) => work::on_postgres::revoke_token_id(&s.pool, id, at).await,
        }
    }

    pub async fn insert_public_link(&self, l: &PublicLink) -> Result<()> {
        match self {
            Store::Sqlite(s) => work::on_sqlite::insert_public_link(&s.writer, l).await,
            Store::Postgres(s) => work::on_postgres::insert_public_link(&s.pool, l).await,
        }
    }

    /// A form's saved views `user` is offered (theirs and their team's shared ones), by name.
    pub async fn saved_views(&self, form: &str, user: Uuid, manager: Option<Uuid>) -> Result<Vec<SavedView>> {
        read!(self, saved_views(form, user, manager))
    }

    pub async fn saved_view(&self, id: Uuid) -> Result<Option<SavedView>> {
        read!(self, saved_view(id))
    }

    /// Saves a view (the same owner, form and name replaces it).
    pub async fn save_view(&self, v: &SavedView) -> Result<SavedView> {
        match self {
            Store::Sqlite(s) => work::on_sqlite::save_view(&s.writer, v).await,
            Store::Postgres(s) => work::on_postgres::save_view(&s.pool, v).await,
        }
    }

    pub async fn delete_view(&self, id: Uuid) -> Result<bool> {
        match self {
            Store::Sqlite(s) => work::on_sqlite::delete_view(&s.writer, id).await,
            Store::Postgres(s) => work::on_postgres::delete_view(&s.pool, id).await,
        }
    }

    pub async fn public_link(&self, id: Uuid) -> Result<Option<PublicLink>> {
        read!(self, public_link(id))
    }

    /// A form's public links, newest first (live and revoked).
    pub async fn public_links(&self, form: &str) -> Result<Vec<PublicLink>> {
        read!(self, public_links(form))
    }

    /// Revokes a public link; false when it was revoked already.
    pub async fn revoke_public_link(&self, id: Uuid, at: Timestamp) -> Result<bool> {
        match self {
            Store::Sqlite(s) => work::on_sqlite::revoke_public_link(&s.writer, id, at).await,
            Store::Postgres(s) => work::on_postgres::revoke_public_link(&s.pool, id, at).await,
        }
    }

    /// A server secret, created as `fresh` on first use.
    pub async fn secret(&self, name: &str, fresh: &str) -> Result<String> {
        match self {
            Store::Sqlite(s) => work::on_sqlite::secret(&s.writer, name, fresh).await,
            Store::Postgres(s) => work::on_postgres::secret(&s.pool, name, fresh).await,
        }
    }

    /// Sets (or clears) a user's manager.
    /// Sets (or, with `None`, clears) a user's display name.
    pub async fn set_user_name(&self, user: Uuid, name: Option<&str>) -> Result<()> {
        match self {
            Store::Sqlite(s) => work::on_sqlite::set_user_name(&s.writer, user, name).await,
            Store::Postgres(s) => work::on_postgres::set_user_name(&s.pool, user, name).await,
        }
    }

    pub async fn set_manager(&self, user: Uuid, manager: Option<Uuid>) -> Result<()> {
        match self {
            Store::Sqlite(s) => work::on_sqlite::set_manager(&s.writer, user, manager).await,
            Store::Postgres(s) => work::on_postgres::set_manager(&s.pool, user, manager).await,
        }
    }

    /// The ids of a role's users, oldest first.
    pub async fn users_with_role(&self, role: &str) -> Result<Vec<Uuid>> {
        read!(self, users_with_role(role))
    }

    /// Every workflow instance of a record, oldest first.
    pub async fn instances_of(&self, record: Uuid) -> Result<Vec<Instance>> {
        read!(self, instances_of(record))
    }

    /// The running instances of `workflow` on these records (a board's cards).
    pub async fn active_instances(&self, workflow: &str, records: &[Uuid]) -> Result<Vec<Instance>> {
        let mut out = Vec::with_capacity(records.len());
        // A bounded IN list per round trip: both databases cap the bound parameters of one statement.
        for chunk in records.chunks(500) {
            out.extend(read!(self, active_instances(workflow, chunk))?);
        }
        Ok(out)
    }

    /// Timers due at `now`, earliest first, each with its record's form and id; read without locks.
    pub async fn due_timers(&self, now: Timestamp, limit: i64) -> Result<Vec<(Timer, String, Uuid)>> {
        read!(self, due_timers(now, limit))
    }

    /// Instances by state, ended ones included, cancelled ones not: a funnel's counts.
    pub async fn instance_states(&self, workflow: &str) -> Result<Vec<(String, i64)>> {
        read!(self, instance_states(workflow))
    }

    /// How many running instances of a workflow are in each state.
    pub async fn active_states(&self, workflow: &str) -> Result<Vec<(String, i64)>> {
        read!(self, active_states(workflow))
    }

    /// A workflow instance, read without a lock.
    pub async fn instance(&self, id: Uuid) -> Result<Option<Instance>> {
        read!(self, instance(id))
    }

    pub async fn pending_timers(&self, instance: Uuid) -> Result<Vec<Timer>> {
        read!(self, pending_timers(instance))
    }

    pub async fn task(&self, id: Uuid) -> Result<Option<Task>> {
        read!(self, task(id))
    }

    pub async fn tasks(&self, q: &TaskQuery) -> Result<Vec<Task>> {
        read!(self, tasks(q))
    }

    pub async fn comments(&self, task: Uuid) -> Result<Vec<Comment>> {
        read!(self, comments(task))
    }

    /// A user's notifications, newest first.
    pub async fn notifications(&self, user: Uuid, unread_only: bool, limit: i64) -> Result<Vec<Notification>> {
        read!(self, notifications(user, unread_only, limit))
    }

    pub async fn unread_count(&self, user: Uuid) -> Result<i64> {
        read!(self, unread_count(user))
    }

    /// Marks one of a user's notifications read; false when it is not theirs.
    pub async fn mark_read(&self, user: Uuid, id: Uuid, at: Timestamp) -> Result<bool> {
        match self {
            Store::Sqlite(s) => work::on_sqlite::mark_read(&s.writer, user, id, at).await,
            Store::Postgres(s) => work::on_postgres::mark_read(&s.pool, user, id, at).await,
        }
    }

    /// Marks every unread notification of a user read; how many were unread.
    pub async fn mark_all_read(&self, user: Uuid, at: Timestamp) -> Result<u64> {
        match self {
            Store::Sqlite(s) => work::on_sqlite::mark_all_read(&s.writer, user, at).await,
            Store::Postgres(s) => work::on_postgres::mark_all_read(&s.pool, user, at).await,
        }
    }

    /// Every attempt of these deliveries, oldest first.
    pub async fn attempts_of(&self, ids: &[Uuid]) -> Result<Vec<Attempt>> {
        read!(self, attempts_of(ids))
    }

    /// Leases pending deliveries due at `now` until `lease_until`.
    pub async fn claim_deliveries(&self, now: Timestamp, lease_until: Timestamp, limit: i64) -> Result<Vec<Delivery>> {
        match self {
            Store::Sqlite(s) => work::on_sqlite::claim_deliveries(&s.writer, now, lease_until, limit).await,
            Store::Postgres(s) => work::on_postgres::claim_deliveries(&s.pool, now, lease_until, limit).await,
        }
    }

    /// Records an attempt and the delivery's new state.
    pub async fn finish_attempt(&self, a: &Attempt, status: &str, next: Option<Timestamp>) -> Result<()> {
        match self {
            Store::Sqlite(s) => work::on_sqlite::finish_attempt(&s.writer, a, status, next).await,
            Store::Postgres(s) => work::on_postgres::finish_attempt(&s.pool, a, status, next).await,
        }
    }

    /// Trigger moments due at `now`, earliest first.
    pub async fn due_schedules(&self, now: Timestamp, limit: i64) -> Result<Vec<Scheduled>> {
        read!(self, due_schedules(now, limit))
    }

    /// A record's stored next moments (one per moment trigger that has one), earliest first.
    /// Stored next moments in `[from, to)`, earliest first, at most `limit`.
    pub async fn schedules_between(&self, from: Timestamp, to: Timestamp, limit: i64) -> Result<Vec<Scheduled>> {
        read!(self, schedules_between(from, to, limit))
    }

    pub async fn schedules_of(&self, record: Uuid) -> Result<Vec<Scheduled>> {
        read!(self, schedules_of(record))
    }

    /// Cron runs due at `now`, earliest first.
    pub async fn due_crons(&self, now: Timestamp, limit: i64) -> Result<Vec<Scheduled>> {
        read!(self, due_crons(now, limit))
    }

    /// The records a cron run picked, by id after `after`.
    pub async fn fired_records(&self, trigger: &str, at: Timestamp, after: Option<Uuid>, limit: i64) -> Result<Vec<Uuid>> {
        read!(self, fired_records(trigger, at, after, limit))
    }

    /// Occurrences, newest first, by trigger and/or record.
    pub async fn occurrences(&self, trigger: Option<&str>, record: Option<Uuid>, limit: i64) -> Result<Vec<Occurrence>> {
        read!(self, occurrences(trigger, record, limit))
    }

    /// The outbox, newest first, optionally for one record.
    pub async fn deliveries(&self, record: Option<Uuid>, limit: i64) -> Result<Vec<Delivery>> {
        read!(self, deliveries(record, limit))
    }
}

/// Writes of the work tables, inside the caller's transaction.
impl Tx {
    /// Stores a new version of a definition (and, on PostgreSQL, tells the other instances).
    pub async fn save_pack(&mut self, p: &StoredPack) -> Result<()> {
        in_tx!(self, save_pack(p))
    }

    /// Writes an audit entry with the change it records.
    pub async fn audit(&mut self, e: &AuditEntry) -> Result<()> {
        in_tx!(self, insert_audit(e))
    }

    pub async fn delete_pack(&mut self, name: &str) -> Result<()> {
        in_tx!(self, delete_pack(name))
    }

    /// Removes a definition (its versions stay in `definition_versions`, as history).
    pub async fn delete_definition(&mut self, kind: &str, key: &str) -> Result<bool> {
        in_tx!(self, delete_definition(kind, key))
    }

    /// Locks (creating it if need be) and reads a migration's progress row.
    pub async fn lock_pack_migration(&mut self, pack: &str, step: &str, form: &str) -> Result<PackMigration> {
        in_tx!(self, lock_pack_migration(pack, step, form))
    }

    /// Forgets a pack's migration progress (its migrations are done).
    pub async fn clear_pack_migrations(&mut self, pack: &str) -> Result<()> {
        in_tx!(self, clear_pack_migrations(pack))
    }

    pub async fn save_pack_migration(&mut self, m: &PackMigration) -> Result<()> {
        in_tx!(self, save_pack_migration(m))
    }

    pub async fn save_definition(&mut self, kind: &str, key: &str, version: i64, definition: &Value, at: Timestamp, by: Uuid) -> Result<()> {
        in_tx!(self, save_definition(kind, key, version, definition, at, by))
    }

    /// The next user of `role` after the last one given a turn under `key`.
    pub async fn next_turn(&mut self, key: &str, role: &str) -> Result<Option<Uuid>> {
        in_tx!(self, next_turn(key, role))
    }

    pub async fn insert_instance(&mut self, i: &Instance) -> Result<()> {
        in_tx!(self, insert_instance(i))
    }

    pub async fn update_instance(&mut self, i: &Instance) -> Result<()> {
        in_tx!(self, update_instance(i))
    }

    /// A record's instances as this transaction sees them.
    pub async fn instances_of(&mut self, record: Uuid) -> Result<Vec<Instance>> {
        in_tx!(self, instances_of_in(record))
    }

    pub async fn instance_for_update(&mut self, id: Uuid) -> Result<Option<Instance>> {
        in_tx!(self, instance_for_update(id))
    }

    pub async fn insert_timers(&mut self, timers: &[Timer]) -> Result<()> {
        in_tx!(self, insert_timers(timers))
    }

    /// Cancels an instance's pending timers; returns how many.
    pub async fn cancel_timers(&mut self, instance: Uuid) -> Result<u64> {
        in_tx!(self, cancel_timers(instance))
    }

    /// Locks a timer that is still pending; `None` when another instance holds it or it moved on.
    pub async fn lock_pending_timer(&mut self, id: Uuid) -> Result<Option<Timer>> {
        in_tx!(self, lock_pending_timer(id))
    }

    /// Writes a timer if it is still as `seen`; false when it moved on meanwhile.
    pub async fn update_timer(&mut self, t: &Timer, seen: &Timer) -> Result<bool> {
        in_tx!(self, update_timer(t, seen))
    }

    /// Stores (or forgets) next moments: (trigger, record, form, moment), each pair once.
    pub async fn set_schedules(&mut self, items: &[(String, Uuid, String, Option<Timestamp>)]) -> Result<()> {
        in_tx!(self, set_schedules(items))
    }

    /// Stores (or forgets) a trigger's next moment for a record.
    pub async fn set_schedule(&mut self, trigger: &str, record: Uuid, form: &str, fire_at: Option<Timestamp>) -> Result<()> {
        in_tx!(self, set_schedule(trigger, record, form, fire_at))
    }

    /// Forgets every stored moment of a trigger.
    pub async fn clear_schedules(&mut self, trigger: &str, now: Timestamp) -> Result<()> {
        in_tx!(self, clear_schedules(trigger, now))
    }

    /// Locks a schedule row that still says `fire_at`.
    pub async fn lock_schedule(&mut self, trigger: &str, record: Uuid, fire_at: Timestamp) -> Result<Option<Scheduled>> {
        in_tx!(self, lock_schedule(trigger, record, fire_at))
    }

    /// Stores (or, with `None`, forgets) a cron trigger's next run.
    pub async fn set_cron(&mut self, trigger: &str, form: &str, fire_at: Option<Timestamp>) -> Result<()> {
        in_tx!(self, set_cron(trigger, form, fire_at))
    }

    /// A cron trigger's stored next run.
    pub async fn cron_of(&mut self, trigger: &str) -> Result<Option<Scheduled>> {
        in_tx!(self, cron_of(trigger))
    }

    /// Locks a cron run if it still says `fire_at` (skipping one another instance holds).
    pub async fn lock_cron(&mut self, trigger: &str, fire_at: Timestamp) -> Result<Option<Scheduled>> {
        in_tx!(self, lock_cron(trigger, fire_at))
    }

    /// Records an occurrence; false when it was handled before.
    pub async fn insert_occurrence(&mut self, o: &Occurrence) -> Result<bool> {
        in_tx!(self, insert_occurrence(o))
    }

    /// Ends a deleted record's running workflows and cancels their timers.
    pub async fn cancel_instances(&mut self, record: Uuid, at: Timestamp) -> Result<u64> {
        in_tx!(self, cancel_instances(record, at))
    }

    pub async fn insert_task(&mut self, t: &Task) -> Result<()> {
        in_tx!(self, insert_task(t))
    }

    pub async fn update_task(&mut self, t: &Task) -> Result<()> {
        in_tx!(self, update_task(t))
    }

    pub async fn task_for_update(&mut self, id: Uuid) -> Result<Option<Task>> {
        in_tx!(self, task_for_update(id))
    }

    pub async fn insert_comment(&mut self, c: &Comment) -> Result<()> {
        in_tx!(self, insert_comment(c))
    }

    pub async fn insert_notifications(&mut self, list: &[Notification]) -> Result<()> {
        in_tx!(self, insert_notifications(list))
    }

    /// Hands deliveries to the outbox, skipping idempotency keys already there; returns how many were new.
    pub async fn enqueue(&mut self, list: &[Delivery]) -> Result<u64> {
        in_tx!(self, enqueue(list))
    }
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await.map_err(StoreError::from),
            Tx::Postgres(tx) => tx.commit().await,
        }
    }

    /// Stores a new version of a form and brings its database indexes in line.
    pub async fn save_form(&mut self, f: &FormSave<'_>) -> Result<()> {
        dispatch_tx!(self, save_form(f))
    }

    /// Which of `ids` are live records of `form`.
    pub async fn existing_ids(&mut self, form: &str, ids: &[Uuid]) -> Result<Vec<Uuid>> {
        dispatch_tx!(self, existing_ids(form, ids))
    }

    /// A record of `form`, locked for update where the backend locks rows.
    pub async fn record_for_update(&mut self, form: &str, id: Uuid) -> Result<Option<Record>> {
        dispatch_tx!(self, record_for_update(form, id))
    }

    /// Records of `form` as [`Store::list`] reads them, but inside this transaction (seeing its writes).
    pub async fn list(&mut self, form: &str, q: &ListQuery) -> Result<Vec<Record>> {
        dispatch_tx!(self, list(form, q))
    }

    pub async fn insert_records(&mut self, records: &[Record]) -> Result<()> {
        dispatch_tx!(self, insert_records(records))
    }

    /// Writes `r` over the stored record if that is still at `expected_rev`;
    /// false when someone else changed it first.
    pub async fn update_record(&mut self, r: &Record, expected_rev: i64) -> Result<bool> {
        dispatch_tx!(self, update_record(r, expected_rev))
    }

    /// Writes the derived values (data, segments, rev, updated_by/at) of many
    /// records, each only if still at its expected revision; returns the ids written.
    pub async fn update_derived(&mut self, records: &[(Record, i64)]) -> Result<Vec<Uuid>> {
        dispatch_tx!(self, update_derived(records))
    }

    pub async fn insert_history(&mut self, entries: &[HistoryEntry]) -> Result<()> {
        dispatch_tx!(self, insert_history(entries))
    }

    pub async fn save_sweep(&mut self, s: &SweepState) -> Result<()> {
        dispatch_tx!(self, save_sweep(s))
    }
}

/// Classifies a database error: unique violations become [`StoreError::Unique`].
pub(crate) fn classify(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation() {
            let index = db.constraint().map(str::to_owned).unwrap_or_else(|| {
                // SQLite names the index only in the message: "UNIQUE constraint failed: index 'uq__…'".
                let m = db.message();
                m.split('\'').nth(1).unwrap_or(m).to_owned()
            });
            return StoreError::Unique { index };
        }
    StoreError::Db(e)
}
