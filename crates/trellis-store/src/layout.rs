//! How records are laid out, and the upgrade that brings an older database to it.
//!
//! Each form's records live in a table of their own, `records__KEY`, with
//! that form's indexes and nothing else: a write opens and updates only its
//! own form's B-trees, so its cost does not grow with the number of forms
//! (with one shared table, even per-form partial indexes left SQLite opening
//! a cursor on every form's indexes for each insert: ARCHITECTURE.md has the
//! measurements). `records` itself is a registry of every record's id and
//! form, so that history, workflow instances and trigger schedules keep a
//! foreign key to the record they are about.
//!
//! Each form table has two indexes of its own beside the ones its definition
//! asks for ([`crate::index`]): its live records by id (default lists,
//! counts, the sweep) and its deleted ones (the recycle bin).
//!
//! Databases made before this layout kept every record in `records`. [`plan`]
//! lists the steps from there: one per form (create its table, copy its
//! records, build its indexes), then one that turns `records` into the
//! registry. Each backend runs them one transaction at a time, logging
//! progress; a step is checked again inside its transaction, so an upgrade
//! cut off resumes at the next start with the steps still left, and
//! instances starting together do the work once.

use std::collections::HashSet;
use std::time::Instant;

use serde_json::Value;
use trellis_core::FormDef;
use trellis_core::key::{MAX_FORM_KEY, is_valid};

use crate::filter::{Dialect, index_ddl};
use crate::index::{self, IndexSpec};
use crate::{Result, StoreError};

/// The columns a form table stores, in the order inserts write them. The
/// form is not among them: the table says it.
pub(crate) const STORED: &str = "id, form_version, rev, data, segments, owner, created_by, updated_by, created_at, updated_at, deleted_at";

fn checked(form: &str) -> Result<&str> {
    if is_valid(form, MAX_FORM_KEY) {
        Ok(form)
    } else {
        Err(StoreError::Corrupt(format!("'{form}' is not a form key")))
    }
}

/// `records__KEY`, the table of `form`'s records. Keys are restricted by
/// `trellis_core::key` (lowercase letters, digits, `_`), so a valid one is
/// safe to write into SQL unquoted; anything else is refused.
pub(crate) fn table(form: &str) -> Result<String> {
    Ok(format!("records__{}", checked(form)?))
}

/// What a records query selects: the stored columns, and the form.
pub(crate) fn columns(form: &str) -> Result<String> {
    let form = checked(form)?;
    Ok(STORED.replacen("id, ", &format!("id, '{form}' AS form, "), 1))
}

/// The index of `form`'s live records by id.
pub(crate) fn live_index(form: &str) -> String {
    format!("live__{form}")
}

/// The index of `form`'s deleted records by id.
pub(crate) fn trash_index(form: &str) -> String {
    format!("trash__{form}")
}

/// The statements that make `form`'s table and its two indexes by id, each a
/// no-op where it already exists.
pub(crate) fn table_ddl<D: Dialect>(form: &str) -> Result<[String; 3]> {
    let t = table(form)?;
    Ok([
        format!("CREATE TABLE IF NOT EXISTS {t} ({})", D::COLUMNS),
        format!("CREATE INDEX IF NOT EXISTS {} ON {t} (id) WHERE deleted_at IS NULL", live_index(form)),
        format!("CREATE INDEX IF NOT EXISTS {} ON {t} (id) WHERE deleted_at IS NOT NULL", trash_index(form)),
    ])
}

/// One step of an upgrade, in the order [`plan`] gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Make `form`'s table, copy its records out of the shared table, build
    /// its indexes there (dropping their namesakes on the shared table), and
    /// gather its statistics.
    Move { form: String, indexes: Vec<IndexSpec> },
    /// Replace the shared table by the registry of ids and forms, keeping
    /// the foreign keys that point at it.
    Registry,
}

impl Step {
    pub(crate) fn describe(&self) -> String {
        match self {
            Step::Move { form, indexes } => format!("move the records of form {form} into {} with its {} indexes", table(form).unwrap_or_default(), indexes.len()),
            Step::Registry => "turn records into the registry of record ids".to_owned(),
        }
    }

    /// The statements of a [`Step::Move`], run in one transaction.
    pub(crate) fn move_ddl<D: Dialect>(form: &str, indexes: &[IndexSpec]) -> Result<Vec<String>> {
        let t = table(form)?;
        let mut ddl: Vec<String> = table_ddl::<D>(form)?.into();
        ddl.push(format!("INSERT INTO {t} ({STORED}) SELECT {STORED} FROM records WHERE form = '{}'", checked(form)?));
        for spec in indexes {
            ddl.push(format!("DROP INDEX IF EXISTS \"{}\"", spec.name));
            ddl.push(index_ddl::<D>(form, spec)?);
        }
        // A bulk load: the planner's statistics should not wait for autovacuum.
        ddl.push(format!("ANALYZE {t}"));
        Ok(ddl)
    }
}

/// The indexes `definition` asks for; none (with a warning) when it no
/// longer parses, so that its records still move; saving the form again
/// builds them.
pub(crate) fn wanted(key: &str, definition: &Value) -> Vec<IndexSpec> {
    match serde_json::from_value::<FormDef>(definition.clone()) {
        Ok(def) => index::specs(&def),
        Err(e) => {
            tracing::warn!(form = %key, error = %e, "storage upgrade: the stored definition does not parse; its records move without their indexes until it is saved again");
            Vec::new()
        }
    }
}

/// The steps from a database whose `records` table still holds records
/// (`shared`), with the form `tables` it has, to the current layout, for the
/// stored `forms` (key, definition). Empty when the database is up to date.
pub(crate) fn plan(shared: bool, tables: &HashSet<String>, forms: &[(String, Value)]) -> Vec<Step> {
    if !shared {
        return Vec::new();
    }
    let mut steps: Vec<Step> = forms
        .iter()
        .filter(|(key, _)| table(key).is_ok_and(|t| !tables.contains(&t)))
        .map(|(key, definition)| Step::Move { form: key.clone(), indexes: wanted(key, definition) })
        .collect();
    steps.push(Step::Registry);
    steps
}

/// Runs the steps one after another through `step` (one transaction each),
/// logging what is left and how long each took.
pub(crate) async fn run<'a, F, Fut>(steps: &'a [Step], step: F) -> Result<()>
where
    F: Fn(&'a Step) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    // A new database has no records to move, only its empty table to turn into
    // the registry: nothing an operator needs to hear about at every first start.
    if steps.iter().all(|s| *s == Step::Registry) {
        for s in steps {
            step(s).await.map_err(|e| StoreError::Upgrade { step: 1, of: 1, what: s.describe(), source: Box::new(e) })?;
        }
        return Ok(());
    }
    let started = Instant::now();
    tracing::info!(steps = steps.len(), "storage upgrade: moving each form's records into a table of its own; each step commits on its own, so a cut-off upgrade resumes at the next start");
    for (i, s) in steps.iter().enumerate() {
        let t = Instant::now();
        step(s).await.map_err(|e| StoreError::Upgrade { step: i + 1, of: steps.len(), what: s.describe(), source: Box::new(e) })?;
        tracing::info!(step = i + 1, of = steps.len(), ms = t.elapsed().as_millis() as u64, "storage upgrade: {}", s.describe());
    }
    tracing::info!(steps = steps.len(), ms = started.elapsed().as_millis() as u64, "storage upgrade: done");
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn forms() -> Vec<(String, Value)> {
        vec![
            ("customer".to_owned(), json!({"key": "customer", "schema": {}, "unique": [["phone"]], "indexes": ["level"]})),
            ("visit".to_owned(), json!({"key": "visit", "schema": {}})),
        ]
    }

    #[test]
    fn a_shared_table_moves_each_form_out_then_becomes_the_registry() {
        let steps = plan(true, &HashSet::new(), &forms());
        let described: Vec<String> = steps.iter().map(Step::describe).collect();
        assert_eq!(
            described,
            [
                "move the records of form customer into records__customer with its 2 indexes",
                "move the records of form visit into records__visit with its 0 indexes",
                "turn records into the registry of record ids"
            ]
        );
    }

    #[test]
    fn a_cut_off_upgrade_resumes_with_the_forms_not_yet_moved() {
        let moved: HashSet<String> = ["records__customer".to_owned()].into();
        let steps = plan(true, &moved, &forms());
        assert_eq!(steps, [Step::Move { form: "visit".into(), indexes: vec![] }, Step::Registry]);
    }

    #[test]
    fn a_current_database_needs_nothing() {
        assert!(plan(false, &HashSet::new(), &forms()).is_empty());
    }

    #[test]
    fn form_keys_are_spliced_only_when_valid() {
        assert_eq!(table("follow_up").unwrap(), "records__follow_up");
        assert!(columns("follow_up").unwrap().contains("'follow_up' AS form"));
        for bad in ["a'b", "x; DROP TABLE records", "", "Customer"] {
            assert!(table(bad).is_err(), "{bad}");
            assert!(columns(bad).is_err(), "{bad}");
        }
    }
}
