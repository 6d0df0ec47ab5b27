//! The Trellis engine: the write path and the services around it.
//!
//! Reading order:
//! - [`clock`]: the only source of "now".
//! - [`error`]: what the engine answers when it says no.
//! - [`auth`]: users, passwords, bearer tokens, roles.
//! - [`access`]: form permissions for one user — scopes, hidden and
//!   read-only fields — checked on every path that reads or writes records.
//! - [`forms`]: form definitions, checked and compiled once per version,
//!   cached; publishing refuses a version that stored records would fail.
//! - [`backfill`]: the job that fills a newly required field's default into
//!   the records that lack it.
//! - [`records`]: the write path — validate, resolve references, store the
//!   record and its history in one transaction — and the reads beside it.
//! - [`definitions`]: workflows and messages, checked, versioned, cached.
//! - `flow`: workflows reacting inside a write's transaction (starts,
//!   automatic transitions, actions).
//! - [`workflows`]: instances by hand (start, transition) and their timers.
//! - [`tasks`]: tasks, notifications, the delivery outbox.
//! - [`triggers`]: trigger moments scheduled per record and the tick that handles them.
//! - [`templates`]: message templates rendered in worker processes with a
//!   memory limit and a deadline.
//! - [`delivery`]: sending the outbox — SMTP, webhooks, retries, dead letters.
//! - [`public`]: public form links — anonymous submissions and signed
//!   per-record update links, limited to their fields and rate limited.
//! - [`imports`]: spreadsheets through the write path as resumable jobs;
//!   [`exports`]: any list streamed out as CSV or XLSX.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, RwLock};
use std::time::{Duration, Instant};

use trellis_core::CompiledForm;
use trellis_store::Store;
use trellis_store::postgres::Heard;

pub mod access;
pub mod auth;
pub mod backfill;
pub mod boards;
pub mod clock;
pub mod dashboards;
pub mod definitions;
pub mod delivery;
mod derive;
mod statistics;
pub mod error;
pub mod exports;
mod flow;
pub mod forms;
pub mod imports;
pub mod packs;
pub mod records;
pub mod scripts;
pub mod public;
pub mod sweep;
pub mod templates;
mod throttle;
pub mod tasks;
pub mod views;
pub mod triggers;
pub mod workflows;

pub use auth::{Actor, Role};
pub use clock::Clock;
pub use error::{EngineError, Result};
pub use records::Page;
pub use trellis_store::{AuditEntry, Delivery, Notification, Occurrence, SavedView, StoredDefinition};

/// Compiled forms by key, at their current version.
#[derive(Default)]
pub(crate) struct FormCache {
    pub(crate) map: RwLock<HashMap<String, Arc<CompiledForm>>>,
    /// Whether `map` holds every form (rollups need to find the forms that read a child form).
    pub(crate) complete: AtomicBool,
    /// Bumped by every [`FormCache::forget`]: what was read from the store
    /// before a bump may be stale, and is used once but not cached.
    pub(crate) epoch: std::sync::atomic::AtomicU64,
}

impl FormCache {
    /// Forgets one form (or all): another instance changed it.
    fn forget(&self, key: Option<&str>) {
        let mut map = self.map.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.epoch.fetch_add(1, Ordering::SeqCst);
        match key {
            Some(k) => {
                map.remove(k);
            }
            None => map.clear(),
        }
        self.complete.store(false, Ordering::SeqCst);
    }
}

static STARTED: LazyLock<Instant> = LazyLock::new(Instant::now);

/// Runs CPU-bound user work (rules: at most their deadline) without holding
/// an async worker: on a multi-threaded runtime the worker's other tasks move
/// to another thread meanwhile (`block_in_place`, which unlike
/// `spawn_blocking` needs no owned copy of the record). On a single-threaded
/// runtime (some tests) there is no other worker to hand them to.
pub(crate) fn off_async<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Runs CPU-bound work that owns its inputs on tokio's blocking threads
/// (compiling a submitted script or definition, a simulation).
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| EngineError::Internal(format!("a background computation failed: {e}")))
}

/// Makes ring the process's TLS provider (reqwest is built without one, so as
/// not to build a second, aws-lc-rs, beside the ring sqlx already uses). Every
/// HTTP client in the process needs it before it is built; calling it again is
/// harmless. [`Engine::open`] calls it.
pub fn install_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// One engine per process, shared by every request.
pub struct Engine {
    store: Store,
    clock: Clock,
    forms: Arc<FormCache>,
    defs: Arc<definitions::DefCache>,
    sender: delivery::SenderSlot,
    /// On PostgreSQL: the task that hears other instances' definition changes.
    listener: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// On SQLite: the definitions stamp last seen (see [`Engine::notice_changes`]).
    stamp: Mutex<Option<String>>,
    /// Import jobs this process is running (see [`Engine::run_job`]).
    running_jobs: Mutex<std::collections::HashSet<uuid::Uuid>>,
    /// Imports being started in this process, per user (see [`Engine::start_import`]).
    import_starts: Mutex<std::collections::HashMap<uuid::Uuid, usize>>,
    /// Recent failed sign-ins per email (see [`Engine::login`]).
    login_failures: throttle::Window,
    /// Recent failed sign-ins per client address, across emails (see [`Engine::login_from`]).
    login_addresses: throttle::Window,
    /// Recent anonymous submissions per public link and address (see [`Engine::public_submit`]).
    public_posts: throttle::Window,
    /// The key public-link URLs are signed with, read from the database once.
    link_secret: std::sync::OnceLock<String>,
    /// Where every user-written template is rendered.
    templates: templates::Templates,
    /// Records batch writes added since the planner's statistics were refreshed.
    unanalyzed: statistics::Unanalyzed,
}

impl Engine {
    /// Opens the database at `url` (creating and migrating it) with `clock`.
    pub async fn open(url: &str, clock: Clock) -> Result<Engine> {
        trellis_core::script::set_monotonic_clock(|| STARTED.elapsed());
        install_tls();
        let store = Store::connect(url).await?;
        let forms = Arc::new(FormCache::default());
        let defs = Arc::new(definitions::DefCache::default());
        let listener = store.listen_definitions().await?.map(|l| tokio::spawn(listen(l, Arc::downgrade(&forms), Arc::downgrade(&defs))));
        let stamp = Mutex::new(store.definitions_stamp().await?);
        Ok(Engine { store, clock, forms, defs, sender: delivery::SenderSlot::default(), listener: Mutex::new(listener), stamp, running_jobs: Mutex::default(), import_starts: Mutex::default(),
            login_failures: throttle::Window::new(auth::MAX_FAILURES, auth::FAILURE_WINDOW),
            login_addresses: throttle::Window::new(auth::MAX_ADDRESS_FAILURES, auth::FAILURE_WINDOW),
            public_posts: throttle::Window::new(public::MAX_POSTS, public::POST_WINDOW),
            link_secret: std::sync::OnceLock::new(),
            templates: templates::Templates::new(templates::TemplateConfig::this_program()),
            unanalyzed: statistics::Unanalyzed::default(),
        })
    }

    /// Drops cached forms and definitions when another process (a `trellis
    /// pack install` beside a running server) changed them. SQLite has no
    /// NOTIFY, so `serve` calls this every second; on PostgreSQL it does nothing.
    pub async fn notice_changes(&self) -> Result<()> {
        let Some(now) = self.store.definitions_stamp().await? else { return Ok(()) };
        let mut seen = self.stamp.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.as_deref() != Some(now.as_str()) {
            if seen.is_some() {
                self.forms.forget(None);
                self.defs.forget();
            }
            *seen = Some(now);
        }
        Ok(())
    }

    /// Replaces the template workers' program and limits (before the engine is shared).
    pub fn configure_templates(&mut self, config: templates::TemplateConfig) {
        self.templates = templates::Templates::new(config);
    }

    pub(crate) fn templates(&self) -> &templates::Templates {
        &self.templates
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Checks that the database answers (for `/healthz`).
    pub async fn ping(&self) -> Result<()> {
        Ok(self.store.ping().await?)
    }

    /// Closes the database connections, after in-flight work has finished.
    pub async fn close(&self) {
        let listener = self.listener.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(task) = listener {
            task.abort();
            let _ = task.await;
        }
        self.store.close().await;
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // The listener holds a pool connection; an engine dropped without `close` lets it go too.
        if let Ok(mut listener) = self.listener.lock()
            && let Some(task) = listener.take()
        {
            task.abort();
        }
    }
}

/// Drops cached definitions that another instance changed, until the engine is gone.
/// Forms are announced by key, other definitions as `kind:key`.
async fn listen(mut listener: trellis_store::postgres::DefinitionListener, forms: std::sync::Weak<FormCache>, defs: std::sync::Weak<definitions::DefCache>) {
    loop {
        let heard = listener.next().await;
        let (Some(forms), Some(defs)) = (forms.upgrade(), defs.upgrade()) else { return };
        match heard {
            Ok(Heard::Changed(key)) if key.contains(':') => defs.forget(),
            Ok(Heard::Changed(key)) => forms.forget(Some(&key)),
            Ok(Heard::Reconnected) => {
                forms.forget(None);
                defs.forget();
            }
            Err(e) => {
                tracing::warn!(error = %e, "lost the definition-change listener; retrying");
                forms.forget(None);
                defs.forget();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
