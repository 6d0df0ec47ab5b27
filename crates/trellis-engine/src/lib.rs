//! The Trellis engine: the write path and the services around it.
//!
//! Reading order:
//! - [`clock`]: the only source of "now".
//! - [`error`]: what the engine answers when it says no.
//! - [`auth`]: users, passwords, bearer tokens, roles.
//! - [`forms`]: form definitions, checked and compiled once per version, cached.
//! - [`records`]: the write path — validate, resolve references, store the
//!   record and its history in one transaction — and the reads beside it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use trellis_core::CompiledForm;
use trellis_store::Store;

pub mod auth;
pub mod clock;
pub mod error;
pub mod forms;
pub mod records;

pub use auth::{Actor, Role};
pub use clock::Clock;
pub use error::{EngineError, Result};
pub use records::Page;

/// One engine per process, shared by every request.
pub struct Engine {
    store: Store,
    clock: Clock,
    /// Compiled forms by key, at their current version.
    forms: RwLock<HashMap<String, Arc<CompiledForm>>>,
}

impl Engine {
    /// Opens the database at `url` (creating and migrating it) with `clock`.
    pub async fn open(url: &str, clock: Clock) -> Result<Engine> {
        let store = Store::connect(url).await?;
        Ok(Engine { store, clock, forms: RwLock::new(HashMap::new()) })
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
        self.store.close().await;
    }
}
