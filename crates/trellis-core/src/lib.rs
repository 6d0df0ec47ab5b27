//! The pure domain of Trellis: what a form is, what a valid record is, how a
//! filter, a sort and a cursor are read, and what changed between two
//! revisions. Nothing here does IO or reads the clock: time, ids and lookups
//! come in as arguments, so everything is unit-testable without a database.
//!
//! Reading order:
//! - [`key`]: the rules for form and field keys (they end up in SQL index names).
//! - [`issue`]: the one shape every check reports (`pointer`, `code`, `message`).
//! - [`form`]: the stored form definition and its compiled, checked form.
//! - [`formats`]: the field kinds JSON Schema lacks (`phone`, `money`, …).
//! - [`validate`]: a record's data against its compiled form.
//! - [`record`]: the record as the engine and the store see it.
//! - [`query`]: filters, sorts and keyset cursors for listing records.
//! - [`permission`]: who may read, write and delete which records and
//!   fields of a form, per role.
//! - [`diff`]: what changed between two revisions, for the history.
//! - [`publish`]: what a new version of a form changes for stored data
//!   (fields dropped, retyped, newly required).
//! - [`rules`]: computed fields, rollups and segments, evaluated over one record.
//! - [`script`]: the rhai sandbox and the helper library rules call.
//! - [`duration`], [`message`], [`action`], [`workflow`]: the pieces workflows
//!   (and triggers) are built from — durations, minijinja messages, actions and
//!   the state machine.
//! - [`trigger`]: triggers — events and moments (dates, anniversaries,
//!   inactivity) in a time zone.
//! - [`dashboard`]: dashboard definitions and their checks.
//! - [`sheet`], [`import`], [`export`]: spreadsheets read as rows of text,
//!   their columns and cells mapped to a form's fields and typed values, and
//!   records written back out as columns that import again.
//! - [`pack`]: template packs — reading, checking, the three-way merge of upgrades.

pub mod action;
pub mod dashboard;
pub mod diff;
pub mod duration;
pub mod export;
pub mod form;
pub mod formats;
pub mod import;
pub mod issue;
pub mod key;
pub mod message;
pub mod pack;
pub mod permission;
pub mod publish;
pub mod query;
pub mod record;
pub mod rules;
pub mod script;
pub mod sheet;
pub mod calendar;
pub mod workdays;
pub mod trigger;
pub mod validate;
pub mod workflow;

pub use form::{CompiledForm, FieldInfo, FormDef};
pub use issue::Issue;
pub use record::{HistoryEntry, Op, Record};
