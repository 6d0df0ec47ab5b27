//! How records are laid out, and the upgrade that brings an older database to it.
//!
//! Every form's records share one `records` table. Each index on it that
//! serves a single form is *partial*, `WHERE form = 'KEY'`, so a write
//! evaluates the other forms' predicates (a comparison each) but writes only
//! its own form's B-trees: write cost does not grow with the number of forms.
//! Two shared indexes order every form's records by id, one over live records
//! and one over deleted ones. A planner matches a partial index only when the
//! query names the same form, so queries that read through one write the form
//! as a literal ([`form_literal`]); keys are restricted by `trellis_core::key`.
//! ARCHITECTURE.md has the measurements behind this choice.
//!
//! Databases made before this layout had one `(form, expr, id)` index per
//! field covering every form's rows, and `records_form_id` / `records_live_form`.
//! [`plan`] lists the steps from what the catalog holds to this layout; each
//! backend runs them one transaction at a time, logging progress, so an
//! upgrade cut off resumes at the next start with the steps still left. The
//! old indexes serve the same queries until they are replaced, so no query
//! depends on the upgrade having finished.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::Value;
use trellis_core::FormDef;
use trellis_core::key::{MAX_FORM_KEY, is_valid};

use crate::filter::{Dialect, index_ddl};
use crate::index::{self, IndexSpec};
use crate::{Result, StoreError};

/// The live records of each form by id: default lists, counts, sweeps.
pub(crate) const LIVE: &str = "records_live";
/// The deleted records of each form by id: the recycle bin.
pub(crate) const TRASH: &str = "records_trash";
/// Indexes of the previous layout that [`LIVE`] and [`TRASH`] replace.
const RETIRED: [&str; 2] = ["records_form_id", "records_live_form"];

pub(crate) fn base_ddl(name: &str) -> String {
    let live = if name == LIVE { "IS NULL" } else { "IS NOT NULL" };
    format!("CREATE INDEX IF NOT EXISTS {name} ON records (form, id) WHERE deleted_at {live}")
}

/// `'KEY'`: a form key to write into SQL, for the planner to match partial
/// indexes; anything but a valid key is refused rather than spliced.
pub(crate) fn form_literal(form: &str) -> Result<String> {
    if is_valid(form, MAX_FORM_KEY) {
        Ok(format!("'{form}'"))
    } else {
        Err(StoreError::Corrupt(format!("'{form}' is not a form key")))
    }
}

/// Whether a form index's SQL (as the catalog spells it) is in the current
/// layout: partial, led by the form on SQLite (which keeps the DDL as written)
/// and not on PostgreSQL (which spells it `… USING btree (…) WHERE …`).
pub(crate) fn is_current(sql: &str) -> bool {
    let pg = sql.contains(" USING btree (");
    sql.to_ascii_uppercase().contains(" WHERE ") && if pg { !sql.contains(" USING btree (form, ") } else { sql.contains(" ON records (form, ") }
}

/// One step of an upgrade, in the order [`plan`] gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Create a shared index (`LIVE` or `TRASH`).
    Create { name: String },
    /// Replace a form's index in an older layout (covering every form's rows,
    /// or a unique key without the form first) with the current one.
    Rebuild { form: String, spec: IndexSpec },
    /// Drop a retired shared index (once its replacements exist).
    Drop { name: String },
}

impl Step {
    pub(crate) fn describe(&self) -> String {
        match self {
            Step::Create { name } => format!("create index {name}"),
            Step::Rebuild { form, spec } => format!("rebuild index {} of form {form}", spec.name),
            Step::Drop { name } => format!("drop retired index {name}"),
        }
    }

    /// Whether the step is still needed, given `sql`, the catalog's SQL for the
    /// index the step is about (`None` when it does not exist): asked again in
    /// the step's transaction, so two instances upgrading at once do the work once.
    pub(crate) fn needed(&self, sql: Option<&str>) -> bool {
        match self {
            Step::Create { .. } => sql.is_none(),
            Step::Rebuild { .. } => sql.is_some_and(|s| !is_current(s)),
            Step::Drop { .. } => sql.is_some(),
        }
    }

    /// The statements of the step, run in one transaction.
    pub(crate) fn ddl<D: Dialect>(&self) -> Result<Vec<String>> {
        Ok(match self {
            Step::Create { name } => vec![base_ddl(name)],
            Step::Rebuild { form, spec } => vec![format!("DROP INDEX \"{}\"", spec.name), index_ddl::<D>(form, spec)?],
            Step::Drop { name } => vec![format!("DROP INDEX IF EXISTS {name}")],
        })
    }

    /// The index whose catalog entry [`Step::needed`] reads.
    pub(crate) fn index(&self) -> &str {
        match self {
            Step::Create { name } | Step::Drop { name } => name,
            Step::Rebuild { spec, .. } => &spec.name,
        }
    }
}

/// The steps from `catalog` (index name → its SQL, `None` for the database's
/// own indexes such as primary keys) and the stored `forms` (key, definition)
/// to the current layout. Empty when the database is up to date.
pub(crate) fn plan(catalog: &HashMap<String, Option<String>>, forms: &[(String, Value)]) -> Vec<Step> {
    let mut steps: Vec<Step> = [LIVE, TRASH].iter().filter(|n| !catalog.contains_key(**n)).map(|n| Step::Create { name: (*n).to_owned() }).collect();
    for (key, definition) in forms {
        // A definition that no longer parses keeps its indexes: they still serve its queries.
        let Ok(def) = serde_json::from_value::<FormDef>(definition.clone()) else {
            tracing::warn!(form = %key, "storage upgrade: the stored definition does not parse; its indexes stay as they are");
            continue;
        };
        for spec in index::specs(&def) {
            if catalog.get(&spec.name).is_some_and(|sql| sql.as_deref().is_some_and(|s| !is_current(s))) {
                steps.push(Step::Rebuild { form: key.clone(), spec });
            }
        }
    }
    steps.extend(RETIRED.iter().filter(|n| catalog.contains_key(**n)).map(|n| Step::Drop { name: (*n).to_owned() }));
    steps
}

/// Runs the steps one after another through `step` (one transaction each),
/// logging what is left and how long each took.
pub(crate) async fn run<'a, F, Fut>(steps: &'a [Step], step: F) -> Result<()>
where
    F: Fn(&'a Step) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    if steps.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    tracing::info!(steps = steps.len(), "storage upgrade: bringing the database to per-form partial indexes; each step commits on its own, so a cut-off upgrade resumes at the next start");
    for (i, s) in steps.iter().enumerate() {
        let t = Instant::now();
        step(s).await?;
        tracing::info!(step = i + 1, of = steps.len(), ms = t.elapsed().as_millis() as u64, "storage upgrade: {}", s.describe());
    }
    tracing::info!(steps = steps.len(), ms = started.elapsed().as_millis() as u64, "storage upgrade: done");
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn old_catalog() -> HashMap<String, Option<String>> {
        [
            ("sqlite_autoindex_records_1", None),
            ("records_form_id", Some("CREATE INDEX records_form_id ON records (form, id)")),
            ("records_live_form", Some("CREATE INDEX records_live_form ON records (form) WHERE deleted_at IS NULL")),
            ("ix__customer__level", Some("CREATE INDEX \"ix__customer__level\" ON records (form, json_extract(data, '$.level'), id)")),
            ("uq__customer__phone", Some("CREATE UNIQUE INDEX \"uq__customer__phone\" ON records (json_extract(data, '$.phone')) WHERE form = 'customer' AND deleted_at IS NULL")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.map(str::to_owned)))
        .collect()
    }

    fn forms() -> Vec<(String, Value)> {
        vec![("customer".to_owned(), json!({"key": "customer", "schema": {}, "unique": [["phone"]], "indexes": ["level"]}))]
    }

    #[test]
    fn an_old_database_gets_the_shared_indexes_then_its_form_indexes_rebuilt_then_the_old_ones_dropped() {
        let steps = plan(&old_catalog(), &forms());
        let described: Vec<String> = steps.iter().map(Step::describe).collect();
        assert_eq!(
            described,
            [
                "create index records_live",
                "create index records_trash",
                "rebuild index uq__customer__phone of form customer",
                "rebuild index ix__customer__level of form customer",
                "drop retired index records_form_id",
                "drop retired index records_live_form"
            ]
        );
    }

    #[test]
    fn a_current_database_needs_nothing() {
        let mut catalog = old_catalog();
        catalog.remove("records_form_id");
        catalog.remove("records_live_form");
        catalog.insert(LIVE.into(), Some(base_ddl(LIVE)));
        catalog.insert(TRASH.into(), Some(base_ddl(TRASH)));
        catalog.insert("ix__customer__level".into(), Some("CREATE INDEX \"ix__customer__level\" ON records (form, json_extract(data, '$.level'), id) WHERE form = 'customer'".into()));
        catalog.insert("uq__customer__phone".into(), Some("CREATE UNIQUE INDEX \"uq__customer__phone\" ON records (form, json_extract(data, '$.phone')) WHERE form = 'customer' AND deleted_at IS NULL".into()));
        assert!(plan(&catalog, &forms()).is_empty());
    }

    #[test]
    fn postgres_indexes_are_current_without_the_form_first() {
        assert!(is_current("CREATE UNIQUE INDEX uq__c__phone ON t.records USING btree (((data -> 'phone'::text))) WHERE ((form = 'c'::text) AND (deleted_at IS NULL))"));
        assert!(!is_current("CREATE INDEX ix__c__level ON t.records USING btree (form, ((data -> 'level'::text)) NULLS FIRST, id)"));
        assert!(!is_current("CREATE INDEX ix__c__level ON t.records USING btree (form, ((data -> 'level'::text)) NULLS FIRST, id) WHERE (form = 'c'::text)"));
    }

    #[test]
    fn form_keys_are_spliced_only_when_valid() {
        assert_eq!(form_literal("follow_up").unwrap(), "'follow_up'");
        for bad in ["a'b", "x; DROP TABLE records", "", "Customer"] {
            assert!(form_literal(bad).is_err(), "{bad}");
        }
    }
}
