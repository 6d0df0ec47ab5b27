//! Databases made by earlier releases (the fixtures `tests/fixtures/upgrade/make.sh`
//! made with those releases' binaries: b0999c9, every form's index over the
//! one shared table; 05d2934, per-form partial indexes on it) are upgraded on
//! start to a table per form: every record, history entry and index is still
//! there afterwards, each form table holds its form's indexes and nothing
//! else, the foreign keys to records hold, and an upgrade stopped part-way
//! says where, keeps what it did, and finishes at the next start.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Value, json};
use sqlx::AssertSqlSafe;
use trellis_core::query::{ListQuery, Meta, SortKey, Target};
use trellis_store::Explain;

use crate::harness::{Backend, Db, Server, pg_schema, schema_url};

fn fixture(release: &str, name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/upgrade").join(release).join(name)
}

/// What the upgrade must keep, read straight from the database.
trait Snapshot {
    async fn shared(&self) -> bool;
    async fn records(&self) -> Vec<String>;
    async fn history(&self) -> Vec<String>;
    async fn indexes(&self) -> BTreeMap<String, (String, String)>;
}

impl Snapshot for Db {
    /// Whether `records` still holds the records (the layout before a table per form).
    async fn shared(&self) -> bool {
        let n = self
            .strings(
                "SELECT CAST(count(*) AS TEXT) FROM pragma_table_info('records') WHERE name = 'data'",
                "SELECT count(*)::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'records' AND column_name = 'data'",
            )
            .await;
        n == ["1"]
    }

    /// Every record, column by column, as text, by id: from `records` before
    /// the upgrade, from the forms' tables after it.
    async fn records(&self) -> Vec<String> {
        let sources: Vec<(String, String)> = if self.shared().await {
            vec![("records".into(), "form".into())]
        } else {
            self.strings("SELECT key FROM forms", "SELECT key FROM forms").await.into_iter().map(|f| (format!("records__{f}"), format!("'{f}'"))).collect()
        };
        let lite = sources.iter().map(|(table, form)| format!(
            "SELECT hex(id) || '|' || {form} || '|' || form_version || '|' || rev || '|' || data || '|' || segments || '|' || coalesce(hex(owner), '') || '|' ||
                    hex(created_by) || '|' || hex(updated_by) || '|' || created_at || '|' || updated_at || '|' || coalesce(deleted_at, '') FROM {table}"));
        let pg = sources.iter().map(|(table, form)| format!(
            "SELECT id::text || '|' || {form} || '|' || form_version || '|' || rev || '|' || data::text || '|' || segments::text || '|' || coalesce(owner::text, '') || '|' ||
                    created_by::text || '|' || updated_by::text || '|' || created_at::text || '|' || updated_at::text || '|' || coalesce(deleted_at::text, '') FROM {table}"));
        let mut rows = self.strings(&lite.collect::<Vec<_>>().join(" UNION ALL "), &pg.collect::<Vec<_>>().join(" UNION ALL ")).await;
        rows.sort();
        rows
    }

    /// Every history entry, as text, by record and revision.
    async fn history(&self) -> Vec<String> {
        self.strings(
            "SELECT hex(record_id) || '|' || rev || '|' || op || '|' || hex(actor) || '|' || at || '|' || changes FROM record_history ORDER BY record_id, rev",
            "SELECT record_id::text || '|' || rev || '|' || op || '|' || actor::text || '|' || at::text || '|' || changes::text FROM record_history ORDER BY record_id, rev",
        )
        .await
    }

    /// The indexes on `records` and the forms' tables: name → (table, SQL).
    async fn indexes(&self) -> BTreeMap<String, (String, String)> {
        let rows = self
            .strings(
                "SELECT name || '=' || tbl_name || '=' || coalesce(sql, '') FROM sqlite_master WHERE type = 'index' AND tbl_name LIKE 'records%'",
                "SELECT indexname::text || '=' || tablename::text || '=' || indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename LIKE 'records%'",
            )
            .await;
        rows.into_iter()
            .map(|r| {
                let mut parts = r.splitn(3, '=');
                let (name, table, sql) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
                (name.to_owned(), (table.to_owned(), sql.to_owned()))
            })
            .collect()
    }
}

/// The fixture, copied into a temp file or loaded into a fresh schema: (URL, schema, dir, raw access).
async fn old_database(b: Backend, release: &str) -> Option<(String, Option<String>, tempfile::TempDir, Db)> {
    let dir = tempfile::tempdir().unwrap();
    match b {
        Backend::Sqlite => {
            let file = dir.path().join("old.db");
            std::fs::copy(fixture(release, "sqlite.db"), &file).unwrap();
            let url = format!("sqlite://{}", file.display());
            let raw = Db::Sqlite(sqlx::SqlitePool::connect(&url).await.unwrap());
            Some((url, None, dir, raw))
        }
        Backend::Postgres => {
            let (admin, schema) = pg_schema().await?;
            // pg_dump names its schema everywhere; the test gets its own. Lines
            // starting with `\` are psql's meta-commands (`\restrict`), not SQL.
            let dump = std::fs::read_to_string(fixture(release, "postgres.sql")).unwrap().replace("upgrade_fixture", &schema);
            let dump: String = dump.lines().filter(|l| !l.starts_with('\\')).flat_map(|l| [l, "\n"]).collect();
            sqlx::raw_sql(AssertSqlSafe(dump)).execute(&admin).await.unwrap();
            admin.close().await;
            let url = schema_url(&schema);
            let raw = Db::Pg(sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(&url).await.unwrap());
            Some((url, Some(schema), dir, raw))
        }
    }
}

/// Form keys of the form-wide indexes (`ix__F__…`, `uq__F__…`).
fn form_of(index: &str) -> &str {
    index.split("__").nth(1).unwrap()
}

async fn an_older_database_is_upgraded_on_start_with_every_record_history_entry_and_index_kept(b: Backend, release: &str) {
    let Some((url, schema, dir, raw)) = old_database(b, release).await else { return };
    assert!(raw.shared().await, "the fixture keeps every record in one table");
    let records = raw.records().await;
    let history = raw.history().await;
    let before = raw.indexes().await;
    // What the fixture holds: records in four forms, history with every kind of change.
    let forms: BTreeSet<&str> = records.iter().map(|r| r.split('|').nth(1).unwrap()).collect();
    assert_eq!(forms.into_iter().collect::<Vec<_>>(), ["contact", "customer", "follow_up", "order"]);
    for op in ["|create|", "|update|", "|delete|", "|restore|"] {
        assert!(history.iter().any(|h| h.contains(op)), "the fixture has a {op} entry");
    }
    let form_indexes: BTreeSet<String> = before.keys().filter(|k| k.starts_with("ix__") || k.starts_with("uq__")).cloned().collect();
    assert!(form_indexes.len() >= 20, "crm-starter's indexes: {form_indexes:?}");
    assert!(before.values().all(|(table, _)| table == "records"));

    // A customer that breaks a unique key (its index dropped to let it in) stops the
    // upgrade at the customers: the contacts, moved before them, stay moved.
    let phone = before.keys().find(|k| k.starts_with("uq__customer__phone")).unwrap().clone();
    let taken = records.iter().find(|r| r.split('|').nth(1) == Some("customer") && r.ends_with('|')).unwrap();
    let data: Value = serde_json::from_str(taken.split('|').nth(4).unwrap()).unwrap();
    let twin = uuid::Uuid::now_v7();
    let twin_data = json!({"name": "重复", "phone": data["phone"]}).to_string();
    match b {
        Backend::Sqlite => raw.execute(&format!(
            "DROP INDEX \"{phone}\"; INSERT INTO records SELECT X'{}', form, form_version, 1, '{twin_data}', segments, owner, created_by, updated_by, created_at, updated_at, NULL FROM records WHERE form = 'customer' LIMIT 1",
            twin.simple()
        )).await,
        Backend::Postgres => raw.execute(&format!(
            "DROP INDEX \"{phone}\"; INSERT INTO records SELECT '{twin}'::uuid, form, form_version, 1, '{twin_data}'::jsonb, segments, owner, created_by, updated_by, created_at, updated_at, NULL FROM records WHERE form = 'customer' LIMIT 1"
        )).await,
    }
    let stopped = trellis_store::Store::connect(&url).await.expect_err("a duplicate key stops the upgrade");
    let said = stopped.to_string();
    assert!(said.contains("move the records of form customer") && said.contains("resumes"), "{said}");
    let halfway = raw.indexes().await;
    assert!(halfway.values().any(|(table, _)| table == "records__contact"), "the contacts were moved first: {halfway:?}");
    assert!(!halfway.values().any(|(table, _)| table == "records__customer"), "the customers' move was rolled back: {halfway:?}");
    assert!(raw.shared().await);
    match b {
        Backend::Sqlite => raw.execute(&format!("DELETE FROM records WHERE id = X'{}'", twin.simple())).await,
        Backend::Postgres => raw.execute(&format!("DELETE FROM records WHERE id = '{twin}'")).await,
    }
    let recreate = before[&phone].1.clone();
    raw.execute(&recreate).await;

    let s = Server::open(url.clone(), schema, dir).await;
    assert!(!raw.shared().await, "records is now the registry");
    assert_eq!(raw.records().await, records, "every record is as it was, each in its form's table");
    assert_eq!(raw.history().await, history, "every history entry is as it was");
    let after = raw.indexes().await;
    let names = |m: &BTreeMap<String, (String, String)>| m.keys().filter(|k| k.starts_with("ix__") || k.starts_with("uq__")).cloned().collect::<BTreeSet<_>>();
    assert_eq!(names(&after), form_indexes, "every form index is still there");
    for (name, (table, sql)) in &after {
        match name.as_str() {
            n if n.starts_with("ix__") || n.starts_with("uq__") => {
                assert_eq!(table, &format!("records__{}", form_of(n)), "{name} is on its form's table");
                assert!(!sql.contains("form"), "{name} needs no form column: {sql}");
                assert_eq!(sql.to_ascii_uppercase().contains(" WHERE "), n.starts_with("uq__"), "only unique keys are partial (live records): {sql}");
            }
            n if n.starts_with("live__") || n.starts_with("trash__") => assert_eq!(table, &format!("records__{}", n.split("__").nth(1).unwrap())),
            // The primary keys: the registry's, and each form table's.
            n => assert!(n.ends_with("_pkey") || n.starts_with("sqlite_autoindex_records"), "no other index is left: {name} on {table}: {sql}"),
        }
    }
    let stored_forms = raw.strings("SELECT key FROM forms ORDER BY key", "SELECT key FROM forms ORDER BY key").await;
    assert_eq!(stored_forms.len(), 7, "crm-starter's forms");
    for form in &stored_forms {
        assert!(after.contains_key(&format!("live__{form}")) && after.contains_key(&format!("trash__{form}")), "{form}: {after:?}");
    }
    // History, workflow instances and trigger schedules still refer to the registry, and every reference holds.
    let references = raw
        .strings(
            "SELECT m.name FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table' AND f.\"table\" = 'records' ORDER BY 1",
            "SELECT conrelid::regclass::text FROM pg_constraint WHERE confrelid = 'records'::regclass AND contype = 'f' ORDER BY 1",
        )
        .await;
    assert_eq!(references, ["record_history", "trigger_schedule", "workflow_instances"]);
    if b == Backend::Sqlite {
        assert!(raw.strings("SELECT \"table\" FROM pragma_foreign_key_check", "").await.is_empty(), "no reference is broken");
    }
    let registered = raw.strings("SELECT CAST(count(*) AS TEXT) FROM records", "SELECT count(*)::text FROM records").await;
    assert_eq!(registered, [records.len().to_string()], "one registry row per record");

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
    assert!(!plan.contains("Seq Scan") && !plan.lines().any(|l| l.trim().starts_with("SCAN") && !l.contains(" USING ")), "{plan}");
    // PostgreSQL, its statistics gathered by the upgrade, rightly sorts 38 rows rather than
    // walk an index for them (tests/api/list.rs says more); SQLite's choice is structural.
    if b == Backend::Sqlite {
        assert!(plan.contains("ix__customer__annual_spend"), "{plan}");
    }
    let by_id = ListQuery { filter: None, sort: vec![SortKey { target: Target::Meta(Meta::Id), desc: true }], after: None, limit: 50, deleted: false };
    let plan = s.engine.store().explain("customer", Explain::List(&by_id)).await.unwrap().join("\n");
    assert!(!plan.contains("Seq Scan") && plan.contains("Index") || plan.contains("USING INDEX"), "{plan}");
    if b == Backend::Sqlite {
        assert!(plan.contains("live__customer") || plan.contains("sqlite_autoindex_records__customer"), "{plan}");
    }

    // The unique keys still refuse duplicates; new records go in, with their history.
    s.post("/api/v1/forms/customer/records", json!({"name": "重复", "phone": data["phone"]})).await.expect(409);
    let created = s.post("/api/v1/forms/customer/records", json!({"name": "新客户", "phone": "13700000001"})).await.expect(201).body;
    let id = created["id"].as_str().unwrap();
    let entries = s.get(&format!("/api/v1/forms/customer/records/{id}/history")).await.expect(200).body;
    assert_eq!(entries["items"][0]["op"], "create", "{entries}");

    // A second start finds nothing left to do.
    let s = s.restart_at("2026-12-04T10:00:00Z").await;
    assert_eq!(raw.indexes().await, after);
    raw.close().await;
    s.stop().await;
}

macro_rules! releases {
    ($($release:ident),*) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $release() { super::an_older_database_is_upgraded_on_start_with_every_record_history_entry_and_index_kept(crate::harness::Backend::Sqlite, &stringify!($release)[1..]).await })*
        }
        mod pg {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $release() { super::an_older_database_is_upgraded_on_start_with_every_record_history_entry_and_index_kept(crate::harness::Backend::Postgres, &stringify!($release)[1..]).await })*
        }
    };
}

// Each module's tests are named after the release whose database they upgrade (`r` + its commit).
releases!(rb0999c9, r05d2934);
