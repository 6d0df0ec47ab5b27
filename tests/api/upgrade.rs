//! A database made by the release before per-form partial indexes (the
//! fixtures `tests/fixtures/upgrade/make.sh` made with that release's binary)
//! is upgraded on start: every record, history entry and index is still there
//! afterwards, every form index serves only its form, and an upgrade cut off
//! part-way finishes at the next start.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};
use sqlx::AssertSqlSafe;
use trellis_core::query::{ListQuery, Meta, SortKey, Target};
use trellis_store::Explain;

use crate::both;
use crate::harness::{Backend, Db, Server, pg_schema, schema_url};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/upgrade").join(name)
}

/// What the upgrade must keep, read straight from the database.
trait Snapshot {
    async fn records(&self) -> Vec<String>;
    async fn history(&self) -> Vec<String>;
    async fn indexes(&self) -> BTreeMap<String, String>;
}

impl Snapshot for Db {
    /// Every record, column by column, as text, by id.
    async fn records(&self) -> Vec<String> {
        self.strings(
            "SELECT hex(id) || '|' || form || '|' || form_version || '|' || rev || '|' || data || '|' || segments || '|' || coalesce(hex(owner), '') || '|' ||
                    hex(created_by) || '|' || hex(updated_by) || '|' || created_at || '|' || updated_at || '|' || coalesce(deleted_at, '') FROM records ORDER BY id",
            "SELECT id::text || '|' || form || '|' || form_version || '|' || rev || '|' || data::text || '|' || segments::text || '|' || coalesce(owner::text, '') || '|' ||
                    created_by::text || '|' || updated_by::text || '|' || created_at::text || '|' || updated_at::text || '|' || coalesce(deleted_at::text, '') FROM records ORDER BY id",
        )
        .await
    }

    /// Every history entry, as text, by record and revision.
    async fn history(&self) -> Vec<String> {
        self.strings(
            "SELECT hex(record_id) || '|' || rev || '|' || op || '|' || hex(actor) || '|' || at || '|' || changes FROM record_history ORDER BY record_id, rev",
            "SELECT record_id::text || '|' || rev || '|' || op || '|' || actor::text || '|' || at::text || '|' || changes::text FROM record_history ORDER BY record_id, rev",
        )
        .await
    }

    /// The indexes on `records`: name → SQL.
    async fn indexes(&self) -> BTreeMap<String, String> {
        let rows = self
            .strings(
                "SELECT name || '=' || coalesce(sql, '') FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records'",
                "SELECT indexname::text || '=' || indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'records'",
            )
            .await;
        rows.into_iter().map(|r| r.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).unwrap()).collect()
    }
}

/// The fixture, copied into a temp file or loaded into a fresh schema: (URL, schema, dir, raw access).
async fn old_database(b: Backend) -> Option<(String, Option<String>, tempfile::TempDir, Db)> {
    let dir = tempfile::tempdir().unwrap();
    match b {
        Backend::Sqlite => {
            let file = dir.path().join("old.db");
            std::fs::copy(fixture("sqlite.db"), &file).unwrap();
            let url = format!("sqlite://{}", file.display());
            let raw = Db::Sqlite(sqlx::SqlitePool::connect(&url).await.unwrap());
            Some((url, None, dir, raw))
        }
        Backend::Postgres => {
            let (admin, schema) = pg_schema().await?;
            // pg_dump names its schema everywhere; the test gets its own. Lines
            // starting with `\` are psql's meta-commands (`\restrict`), not SQL.
            let dump = std::fs::read_to_string(fixture("postgres.sql")).unwrap().replace("upgrade_fixture", &schema);
            let dump: String = dump.lines().filter(|l| !l.starts_with('\\')).flat_map(|l| [l, "\n"]).collect();
            sqlx::raw_sql(AssertSqlSafe(dump)).execute(&admin).await.unwrap();
            admin.close().await;
            let url = schema_url(&schema);
            let raw = Db::Pg(sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(&url).await.unwrap());
            Some((url, Some(schema), dir, raw))
        }
    }
}

fn is_partial(sql: &str) -> bool {
    sql.to_ascii_uppercase().contains(" WHERE ")
}

async fn an_older_database_is_upgraded_on_start_with_every_record_history_entry_and_index_kept(b: Backend) {
    let Some((url, schema, dir, raw)) = old_database(b).await else { return };
    let records = raw.records().await;
    let history = raw.history().await;
    let before = raw.indexes().await;
    // What the fixture holds: records in four forms, history with every kind of change, the old layout.
    let forms: std::collections::BTreeSet<&str> = records.iter().map(|r| r.split('|').nth(1).unwrap()).collect();
    assert_eq!(forms.into_iter().collect::<Vec<_>>(), ["contact", "customer", "follow_up", "order"]);
    for op in ["|create|", "|update|", "|delete|", "|restore|"] {
        assert!(history.iter().any(|h| h.contains(op)), "the fixture has a {op} entry");
    }
    let old_form_indexes: Vec<&String> = before.keys().filter(|k| k.starts_with("ix__")).collect();
    assert!(old_form_indexes.len() >= 20, "crm-starter's indexes: {old_form_indexes:?}");
    assert!(old_form_indexes.iter().all(|k| !is_partial(&before[*k])), "the fixture has the old layout: {before:?}");
    assert!(before.contains_key("records_form_id") && before.contains_key("records_live_form"));

    // An upgrade cut off after its first steps: the shared index and one form index are done.
    let first = old_form_indexes[0].clone();
    let form = first.trim_start_matches("ix__").split("__").next().unwrap().to_owned();
    let done = match b {
        Backend::Sqlite => format!(
            "CREATE INDEX records_live ON records (form, id) WHERE deleted_at IS NULL; DROP INDEX \"{first}\";
             CREATE INDEX \"{first}\" ON records (form, json_extract(data, '$.{f}'), id) WHERE form = '{form}'",
            f = first.rsplit("__").next().unwrap()
        ),
        Backend::Postgres => format!(
            "CREATE INDEX records_live ON records (form, id) WHERE deleted_at IS NULL; DROP INDEX \"{first}\";
             CREATE INDEX \"{first}\" ON records ((data->'{f}') NULLS FIRST, id) WHERE form = '{form}'",
            f = first.rsplit("__").next().unwrap()
        ),
    };
    raw.execute(&done).await;

    let s = Server::open(url.clone(), schema, dir).await;
    assert_eq!(raw.records().await, records, "every record is as it was");
    // The new admin the test signed in with is no record; history is untouched too.
    assert_eq!(raw.history().await, history, "every history entry is as it was");
    let after = raw.indexes().await;
    let names = |m: &BTreeMap<String, String>| m.keys().filter(|k| k.starts_with("ix__") || k.starts_with("uq__")).cloned().collect::<Vec<_>>();
    assert_eq!(names(&after), names(&before), "every form index is still there");
    for (name, sql) in after.iter().filter(|(k, _)| k.starts_with("ix__") || k.starts_with("uq__")) {
        let form = name.split("__").nth(1).unwrap();
        assert!(sql.contains(&format!("form = '{form}'")), "{name} serves only its form: {sql}");
        match b {
            Backend::Sqlite => assert!(sql.contains("records (form, "), "{name} leads with the form: {sql}"),
            Backend::Postgres => assert!(!sql.contains("btree (form, "), "{name} does not lead with the form: {sql}"),
        }
    }
    assert!(after.contains_key("records_live") && after.contains_key("records_trash"), "{after:?}");
    assert!(!after.contains_key("records_form_id") && !after.contains_key("records_live_form"), "{after:?}");

    // The records read as before through the API, through the new indexes.
    for form in ["customer", "contact", "follow_up", "order"] {
        let live = records.iter().filter(|r| r.split('|').nth(1) == Some(form) && r.ends_with('|')).count();
        let count = s.get(&format!("/api/v1/forms/{form}/records/count")).await.expect(200).body;
        assert_eq!(count["count"], json!(live), "{form}");
    }
    let mut seen = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut q = vec![("sort", "-annual_spend".to_owned()), ("limit", "7".to_owned())];
        if let Some(c) = &cursor {
            q.push(("cursor", c.clone()));
        }
        let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = s.list("customer", &q).await.expect(200).body;
        seen += page["items"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let live_customers = records.iter().filter(|r| r.split('|').nth(1) == Some("customer") && r.ends_with('|')).count();
    assert_eq!(live_customers, 38, "40 customers, 4 deleted, 2 of those restored (see make.sh)");
    assert_eq!(seen, live_customers);
    let form = s.engine.form("customer").await.unwrap();
    let q = trellis_core::query::parse_list(&form, &trellis_core::query::ListParams { sort: Some("-annual_spend"), ..Default::default() }).unwrap();
    let plan = s.engine.store().explain("customer", Explain::List(&q)).await.unwrap().join("\n");
    assert!(plan.contains("ix__customer__annual_spend"), "{plan}");
    let by_id = ListQuery { filter: None, sort: vec![SortKey { target: Target::Meta(Meta::Id), desc: true }], after: None, limit: 50, deleted: false };
    let plan = s.engine.store().explain("customer", Explain::List(&by_id)).await.unwrap().join("\n");
    assert!(plan.contains("records_live"), "{plan}");

    // The unique keys still refuse duplicates; new records go in.
    let taken = records.iter().find(|r| r.split('|').nth(1) == Some("customer") && r.ends_with('|')).unwrap();
    let data: Value = serde_json::from_str(taken.split('|').nth(4).unwrap()).unwrap();
    s.post("/api/v1/forms/customer/records", json!({"name": "重复", "phone": data["phone"]})).await.expect(409);
    s.post("/api/v1/forms/customer/records", json!({"name": "新客户", "phone": "13700000001"})).await.expect(201);

    // A second start finds nothing left to do.
    let s = s.restart_at("2026-12-04T10:00:00Z").await;
    assert_eq!(raw.indexes().await, after);
    raw.close().await;
    s.stop().await;
}

both!(an_older_database_is_upgraded_on_start_with_every_record_history_entry_and_index_kept);
