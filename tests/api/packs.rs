//! Template packs: `trellis pack check` on the bundled CRM pack and on broken
//! copies of it; install, export and install elsewhere through the API; an
//! upgrade that renames a field over 10,000 records, killed midway; `serve --demo`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::harness::{Backend, Db, Server};

const BIN: &str = env!("CARGO_BIN_EXE_trellis");

fn bundled() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates/crm-starter")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() { copy_dir(&e.path(), &target) } else { std::fs::copy(e.path(), target).unwrap(); }
    }
}

/// Runs `trellis pack check` and returns (success, stderr).
fn check(dir: &Path) -> (bool, String) {
    let out = Command::new(BIN).args(["pack", "check"]).arg(dir).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout)))
}

/// The 1-based line of the first line of `file` containing `needle`.
fn line_of(file: &Path, needle: &str) -> usize {
    std::fs::read_to_string(file).unwrap().lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle} not in {}", file.display())) + 1
}

#[test]
fn the_bundled_pack_checks() {
    let (ok, out) = check(&bundled());
    assert!(ok, "the bundled CRM pack must check:\n{out}");
    assert!(out.contains("crm-starter") && out.contains("is valid"), "{out}");
}

/// One broken copy per kind of error, each reported at its file and line.
#[test]
fn broken_copies_fail_at_the_right_file_and_line() {
    /// Breaks a copy of the pack; returns the file and line the problem must be reported at.
    type Breaker = Box<dyn Fn(&Path) -> (String, usize)>;
    let cases: Vec<(&str, Breaker)> = vec![
        ("JSON syntax", Box::new(|d: &Path| {
            let f = d.join("forms/follow_up.json");
            let text = std::fs::read_to_string(&f).unwrap();
            let broken = text.replacen("\"title\"", "\"title\" \"oops\"", 1);
            std::fs::write(&f, &broken).unwrap();
            ("forms/follow_up.json".into(), line_of(&f, "\"oops\""))
        })),
        ("schema", Box::new(|d: &Path| {
            let f = d.join("forms/contact.json");
            let text = std::fs::read_to_string(&f).unwrap();
            std::fs::write(&f, text.replacen("\"type\": \"string\"", "\"type\": \"strng\"", 1)).unwrap();
            ("forms/contact.json".into(), line_of(&f, "\"strng\""))
        })),
        ("script", Box::new(|d: &Path| {
            let f = d.join("scripts/tier.rhai");
            let text = std::fs::read_to_string(&f).unwrap();
            std::fs::write(&f, format!("let x = ;\n{text}")).unwrap();
            ("scripts/tier.rhai".into(), 1)
        })),
        ("template", Box::new(|d: &Path| {
            let f = d.join("messages/welcome.jinja");
            let text = std::fs::read_to_string(&f).unwrap();
            std::fs::write(&f, format!("{text}\n{{% if record.name %}}never closed\n")).unwrap();
            let n = std::fs::read_to_string(&f).unwrap().lines().count();
            ("messages/welcome.jinja".into(), n)
        })),
        ("unknown message", Box::new(|d: &Path| {
            let f = d.join("triggers/weekly_churn.json");
            let text = std::fs::read_to_string(&f).unwrap();
            std::fs::write(&f, text.replacen("\"churn_digest\"", "\"no_such_message\"", 1)).unwrap();
            ("triggers/weekly_churn.json".into(), line_of(&f, "no_such_message"))
        })),
        ("unknown state", Box::new(|d: &Path| {
            let f = d.join("workflows/pipeline.json");
            let text = std::fs::read_to_string(&f).unwrap();
            std::fs::write(&f, text.replacen("\"to\": \"contacted\"", "\"to\": \"nowhere\"", 1)).unwrap();
            ("workflows/pipeline.json".into(), line_of(&f, "\"nowhere\""))
        })),
        ("unknown field", Box::new(|d: &Path| {
            let dir = d.join("dashboards");
            let f = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
            let text = std::fs::read_to_string(&f).unwrap();
            std::fs::write(&f, text.replacen("\"form\": \"customer\"", "\"form\": \"no_such_form\"", 1)).unwrap();
            (format!("dashboards/{}", f.file_name().unwrap().to_string_lossy()), line_of(&f, "no_such_form"))
        })),
        ("missing script file", Box::new(|d: &Path| {
            std::fs::remove_file(d.join("scripts/health.rhai")).unwrap();
            let f = d.join("forms/customer.json");
            ("forms/customer.json".into(), line_of(&f, "scripts/health.rhai"))
        })),
    ];
    for (what, break_it) in cases {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&bundled(), dir.path());
        let (file, line) = break_it(dir.path());
        let (ok, out) = check(dir.path());
        assert!(!ok, "{what}: a broken pack must fail the check");
        let want = format!("{file}:{line}:");
        assert!(out.lines().any(|l| l.starts_with(&want)), "{what}: expected a problem at {want}, got:\n{out}");
    }
}

async fn export(s: &Server, name: &str) -> Vec<u8> {
    let res = s.http.get(format!("{}/api/v1/packs/{name}/export", s.base)).bearer_auth(&s.token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/gzip");
    res.bytes().await.unwrap().to_vec()
}

async fn upload(s: &Server, bytes: Vec<u8>, query: &str) -> (u16, Value) {
    let res = s.http.post(format!("{}/api/v1/packs{query}", s.base)).bearer_auth(&s.token).header("content-type", "application/gzip").body(bytes).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

/// Every definition in force, by kind and key (versions and times left out).
async fn definitions(s: &Server) -> Value {
    let mut out = serde_json::Map::new();
    for f in s.get("/api/v1/forms").await.expect(200).body["items"].as_array().unwrap() {
        out.insert(format!("form/{}", f["key"].as_str().unwrap()), s.get(&format!("/api/v1/forms/{}", f["key"].as_str().unwrap())).await.expect(200).body["definition"].clone());
    }
    for kind in ["workflows", "triggers", "messages", "dashboards", "calendars", "roles"] {
        for d in s.get(&format!("/api/v1/{kind}")).await.expect(200).body["items"].as_array().unwrap() {
            out.insert(format!("{kind}/{}", d["key"].as_str().unwrap()), d["definition"].clone());
        }
    }
    Value::Object(out)
}

both!(install_export_install_elsewhere_gives_identical_definitions, an_upgrade_renaming_a_field_migrates_10000_records_and_survives_a_kill, the_installed_crm_pack_reminds_at_its_moments, an_upgrade_over_two_steps_migrates_live_and_trashed_records_once);

async fn install_export_install_elsewhere_gives_identical_definitions(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    let first = s.call(Method::POST, "/api/v1/packs?bundled=crm-starter", Some(&s.token), None, &[]).await.expect(200);
    assert!(first.body["changes"].as_array().unwrap().iter().all(|c| c["action"] == "add"), "{}", first.body);
    let installed = definitions(&s).await;
    assert!(installed.as_object().unwrap().len() >= 20, "{installed}");

    // The same version again changes nothing.
    let again = s.call(Method::POST, "/api/v1/packs?bundled=crm-starter", Some(&s.token), None, &[]).await.expect(200);
    assert!(again.body["changes"].as_array().unwrap().iter().all(|c| c["action"] == "unchanged"), "{}", again.body);
    assert_eq!(definitions(&s).await, installed);

    // An admin's change in the browser is part of what is exported.
    let mut customer = s.get("/api/v1/forms/customer").await.expect(200).body["definition"].clone();
    customer["title"] = json!("我们的客户");
    s.put("/api/v1/forms/customer", customer).await.expect(200);
    let local = definitions(&s).await;
    let listed = s.get("/api/v1/packs").await.expect(200).body;
    assert_eq!(listed["items"][0]["name"], "crm-starter");
    assert!(listed["bundled"].as_array().unwrap().iter().any(|p| p["name"] == "crm-starter"));

    let archive = export(&s, "crm-starter").await;
    let Some(elsewhere) = Server::start(b).await else { return };
    let (status, report) = upload(&elsewhere, archive.clone(), "").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(definitions(&elsewhere).await, local, "the export installs identically elsewhere");
    assert_eq!(definitions(&elsewhere).await["form/customer"]["title"], "我们的客户");

    // A broken upload is a problem document naming the file.
    let (status, problem) = upload(&elsewhere, b"not an archive".to_vec(), "").await;
    assert_eq!(status, 422);
    assert_eq!(problem["type"], "https://trellis.dev/problems/pack-invalid");
    // Staff may not install.
    let staff = elsewhere.user("sales@example.com", "staff").await;
    let res = elsewhere.call(Method::POST, "/api/v1/packs?bundled=crm-starter", Some(&staff), None, &[]).await;
    assert_eq!(res.status, 403);
    s.stop().await;
    elsewhere.stop().await;
}

const V1_FORM: &str = r#"{"title": "会员", "schema": {"type": "object", "required": ["name"], "properties": {
  "name": {"type": "string", "title": "姓名"}, "phone": {"type": "string", "title": "电话"}}}, "indexes": ["phone"]}"#;
const V2_FORM: &str = r#"{"title": "会员", "schema": {"type": "object", "required": ["name"], "properties": {
  "name": {"type": "string", "title": "姓名"}, "mobile": {"type": "string", "title": "手机"}}}, "indexes": ["mobile"]}"#;
const MIGRATION: &str = "// 1.1.0: phone is called mobile\nif \"phone\" in record {\n    record.mobile = record.phone;\n    record.remove(\"phone\");\n}\nrecord\n";

fn mini_pack(dir: &Path, version: &str, form: &str, migration: bool) {
    std::fs::create_dir_all(dir.join("forms")).unwrap();
    std::fs::write(dir.join("pack.json"), format!(r#"{{"name": "members", "version": "{version}", "title": "会员模板"}}"#)).unwrap();
    std::fs::write(dir.join("forms/member.json"), form).unwrap();
    std::fs::write(dir.join("messages/hello.jinja").parent().map(|p| { std::fs::create_dir_all(p).unwrap(); p.join("hello.jinja") }).unwrap(), format!("subject: 你好 {version}\n{{{{ record.name }}}}")).unwrap();
    if migration {
        std::fs::create_dir_all(dir.join("migrations")).unwrap();
        std::fs::write(dir.join("migrations/1.0.0-1.1.0.rhai"), MIGRATION).unwrap();
    }
}

fn pack_cli(args: &[&str], db: &str) -> std::process::Output {
    Command::new(BIN).args(args).args(["--db", db]).output().unwrap()
}

/// An upgrade that renames a field migrates 10,000 records; killed in the
/// middle of the migration, a second run finishes it, and no record is
/// migrated twice. The admin's change of a message is kept and its clash with
/// the new version reported.
async fn an_upgrade_renaming_a_field_migrates_10000_records_and_survives_a_kill(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    let db = s.db_url.clone();
    let dir = tempfile::tempdir().unwrap();
    let (v1, v2) = (dir.path().join("v1"), dir.path().join("v2"));
    mini_pack(&v1, "1.0.0", V1_FORM, false);
    mini_pack(&v2, "1.1.0", V2_FORM, true);
    let out = pack_cli(&["pack", "install", v1.to_str().unwrap()], &db);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let admin = trellis_engine::Actor::system();
    for chunk in 0..10 {
        let items: Vec<Value> = (0..1000).map(|i| json!({"name": format!("会员{}", chunk * 1000 + i), "phone": format!("138{:08}", chunk * 1000 + i)})).collect();
        s.engine.create_records(&admin, "member", items, true).await.unwrap();
    }
    // An admin changes the message the new version also changes: a conflict, the local one kept.
    s.put("/api/v1/messages/hello", json!({"template": "subject: 本地的问候\n{{ record.name }}"})).await.expect(200);

    // The dry run shows the change and writes nothing.
    let out = pack_cli(&["pack", "install", v2.to_str().unwrap(), "--dry-run"], &db);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("would upgrade members 1.0.0 → 1.1.0") && text.contains("update form/member (indexes, schema)") && text.contains("conflict message/hello/template"), "{text}");
    let reader = Db::open(&db).await;
    assert_eq!(reader.number("SELECT count(*) FROM pack_migrations").await, Some(0), "a dry run writes nothing");

    // Kill the upgrade once the migration has committed a batch.
    let mut child = Command::new(BIN).args(["pack", "install", v2.to_str().unwrap(), "--db", &db]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let mut killed_at = None;
    for _ in 0..6000 {
        if let Some(n) = reader.number("SELECT migrated FROM pack_migrations WHERE form = 'member'").await.filter(|n| *n > 0) {
            child.kill().unwrap();
            killed_at = Some(n);
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let _ = child.wait();
    let killed_at = killed_at.expect("the migration was seen midway and killed");
    assert!(killed_at < 10_000, "killed after {killed_at} records");
    assert_eq!(reader.text("SELECT version FROM packs WHERE name = 'members'").await.as_deref(), Some("1.0.0"), "the pack stays at 1.0.0 until its migration finishes");

    let out = pack_cli(&["pack", "install", v2.to_str().unwrap()], &db);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("migration 1.0.0-1.1.0 on member: 10000 records changed"), "{text}");

    let with_phone = reader.number("SELECT count(*) FROM records__member WHERE json_extract(data, '$.phone') IS NOT NULL").await;
    let with_mobile = reader.number("SELECT count(*) FROM records__member WHERE json_extract(data, '$.mobile') IS NOT NULL").await;
    assert_eq!((with_phone, with_mobile), (Some(0), Some(10_000)));
    let twice = reader.number("SELECT count(*) FROM (SELECT record_id FROM record_history WHERE op = 'update' GROUP BY record_id HAVING count(*) > 1) AS t").await;
    assert_eq!(twice, Some(0), "no record is migrated twice");
    assert_eq!(reader.number("SELECT count(*) FROM record_history WHERE op = 'update'").await, Some(10_000));
    assert_eq!(reader.text("SELECT version FROM packs WHERE name = 'members'").await.as_deref(), Some("1.1.0"));
    let hello = s.get("/api/v1/messages/hello").await.expect(200).body["definition"]["template"].as_str().unwrap().to_owned();
    assert!(hello.starts_with("subject: 本地的问候"), "the local change is kept: {hello}");
    // The migrated records answer in their new shape through the API too (a
    // running server notices another process's install; `serve` checks every second).
    s.engine.notice_changes().await.unwrap();
    let page = s.list("member", &[("filter", r#"{"mobile": {"_eq": "13800000042"}}"#)]).await.expect(200);
    assert_eq!(page.body["items"][0]["data"]["name"], "会员42");

    // A downgrade is refused unless forced.
    let out = pack_cli(&["pack", "install", v1.to_str().unwrap()], &db);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused unless forced"));
    reader.close().await;
    s.stop().await;
}

/// Uninstalling keeps the forms and their records; `--purge` deletes the records too.
#[test]
fn uninstall_keeps_records_unless_purged() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("u.db").display());
    let v1 = dir.path().join("v1");
    mini_pack(&v1, "1.0.0", V1_FORM, false);
    assert!(pack_cli(&["pack", "install", v1.to_str().unwrap()], &db).status.success());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let engine = trellis_engine::Engine::open(&db, trellis_engine::Clock::System).await.unwrap();
        engine.create_records(&trellis_engine::Actor::system(), "member", vec![json!({"name": "甲"}), json!({"name": "乙"})], true).await.unwrap();
        engine.close().await;
    });
    let out = pack_cli(&["pack", "uninstall", "members"], &db);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed 1 definitions; its forms and records are kept"));
    let out = pack_cli(&["pack", "list"], &db);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("installed  members"));
    rt.block_on(async {
        let engine = trellis_engine::Engine::open(&db, trellis_engine::Clock::System).await.unwrap();
        assert!(engine.store().definition("message", "hello").await.unwrap().is_none());
        assert_eq!(engine.store().count("member").await.unwrap(), 2);
        engine.close().await;
    });
    // Installed again, then purged: the records go to the trash.
    assert!(pack_cli(&["pack", "install", v1.to_str().unwrap()], &db).status.success());
    let out = pack_cli(&["pack", "uninstall", "members", "--purge"], &db);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    rt.block_on(async {
        let engine = trellis_engine::Engine::open(&db, trellis_engine::Clock::System).await.unwrap();
        assert_eq!(engine.store().count("member").await.unwrap(), 0);
        engine.close().await;
    });
}

/// `serve --demo` on an empty database installs the CRM pack with its sample
/// data and demo users, says how to sign in, and serves a working CRM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_starts_a_working_crm() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("demo.db").display());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(BIN).args(["serve", "--demo", "--db", &db, "--bind", &format!("127.0.0.1:{port}")]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let lines: Vec<String> = BufReader::new(child.stdout.take().unwrap()).lines().map_while(Result::ok).take_while(|l| !l.starts_with("Trellis listening")).collect();
    let all = lines.join("\n");
    assert!(all.contains("Demo users (password trellis-demo)") && all.contains("admin@demo.trellis"), "{all}");

    trellis_engine::install_tls();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let token: Value = http.post(format!("{base}/api/v1/auth/token")).json(&json!({"email": "admin@demo.trellis", "password": "trellis-demo"})).send().await.unwrap().json().await.unwrap();
    let token = token["token"].as_str().expect("the demo admin signs in").to_owned();
    let get = |path: &str| http.get(format!("{base}{path}")).bearer_auth(&token).send();
    let packs: Value = get("/api/v1/packs").await.unwrap().json().await.unwrap();
    assert_eq!(packs["items"][0]["name"], "crm-starter");
    let mut customers = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor { Some(c) => format!("/api/v1/forms/customer/records?limit=500&cursor={c}"), None => "/api/v1/forms/customer/records?limit=500".into() };
        let page: Value = get(&path).await.unwrap().json().await.unwrap();
        customers += page["items"].as_array().unwrap().len();
        match page["next_cursor"].as_str() { Some(c) => cursor = Some(c.to_owned()), None => break }
    }
    assert!(customers >= 1000, "{customers} customers");
    let page: Value = get("/api/v1/forms/customer/records?limit=5").await.unwrap().json().await.unwrap();
    let first = &page["items"][0];
    assert!(first["segments"]["tier"].is_string(), "segments are computed: {first}");
    let follow_ups: Value = get("/api/v1/forms/follow_up/records?limit=5").await.unwrap().json().await.unwrap();
    assert_eq!(follow_ups["items"].as_array().unwrap().len(), 5);
    let _ = child.kill();
    let _ = child.wait();
}

async fn titles(s: &Server, token: &str) -> Vec<String> {
    let notes = s.get_as(token, "/api/v1/notifications?limit=500").await.expect(200).body;
    notes["items"].as_array().unwrap().iter().map(|n| n["title"].as_str().unwrap_or_default().to_owned()).collect()
}

async fn customer_now(s: &Server, id: &str) -> Value {
    s.get(&format!("/api/v1/forms/customer/records/{id}")).await.expect(200).body
}

/// The bundled pack's own triggers, installed as a team would install them,
/// driven by the manual clock: birthday (S17), contract expiry (S19),
/// inactivity raising the churn risk (S20), VIP entry (S21), a low NPS
/// revisit opening a complaint and an urgent one reaching the manager (S16),
/// and the Spring Festival greeting for tier A and B (S18).
async fn the_installed_crm_pack_reminds_at_its_moments(b: Backend) {
    let Some(s) = Server::start_at(b, "2026-05-01T00:00:00Z").await else { return };
    s.call(Method::POST, "/api/v1/packs?bundled=crm-starter", Some(&s.token), None, &[]).await.expect(200);
    let manager = s.user("chen@example.com", "manager").await;
    let staff = s.user("wang@example.com", "staff").await;
    s.put("/api/v1/users/wang@example.com/manager", json!({"manager": "chen@example.com"})).await.expect(204);

    let c = s
        .post("/api/v1/forms/customer/records", json!({"name": "张伟", "phone": "13912345678", "email": "zhang.wei@example.com", "owner": "wang@example.com",
            "birthday": "1990-05-10", "contract_end": "2026-07-15", "annual_spend": 150000}))
        .await
        .expect(201);
    let id = c.body["id"].as_str().unwrap().to_owned();
    assert_eq!(c.body["owner"], c.body["data"]["owner"], "a customer with an owner keeps it (lead assignment is for leads without one)");
    s.post("/api/v1/forms/follow_up/records", json!({"customer": id, "at": "2026-05-02T10:00:00+08:00", "topic": "初次拜访"})).await.expect(201);

    // S21: four orders in a year and 150,000 a year make tier A: a welcome task for the owner.
    for i in 0..4 {
        s.post("/api/v1/forms/order/records", json!({"customer": id, "order_no": format!("SO20260420-000{i}"), "date": "2026-04-20", "amount": 40000, "status": "已付款"})).await.expect(201);
    }
    assert_eq!(customer_now(&s, &id).await["segments"]["tier"], "A");
    let tasks = s.get_as(&staff, "/api/v1/tasks").await.expect(200).body;
    assert!(tasks["items"].as_array().unwrap().iter().any(|t| t["title"] == "VIP 欢迎：张伟"), "{tasks}");

    // S17: on the birthday at 09:00 in Shanghai, the owner is reminded and an email is queued.
    s.clock("2026-05-10T00:59:00Z").await;
    assert!(!titles(&s, &staff).await.iter().any(|t| t.contains("生日")));
    s.clock("2026-05-10T01:00:00Z").await;
    assert!(titles(&s, &staff).await.iter().any(|t| t.starts_with("今天是客户 张伟 的生日")), "{:?}", titles(&s, &staff).await);
    let outbox = s.get(&format!("/api/v1/deliveries?record={id}")).await.expect(200).body;
    assert!(outbox["items"].as_array().unwrap().iter().any(|d| d["target"] == "zhang.wei@example.com" && d["channel"] == "email"), "{outbox}");

    // S20: 30 days after the last follow-up (10:00 on 2 May), at the next 09:00, the owner
    // is reminded and the churn risk goes high.
    let next: Vec<String> = s.get(&format!("/api/v1/forms/customer/records/{id}/reminders")).await.expect(200).body["items"].as_array().unwrap().iter().map(|r| format!("{} {}", r["trigger"].as_str().unwrap(), r["at"].as_str().unwrap())).collect();
    for want in ["inactivity 2026-06-02T01:00:00Z", "contract_expiry_30 2026-06-15T01:00:00Z", "contract_expiry_7 2026-07-08T01:00:00Z", "mid_autumn 2026-09-25T01:00:00Z", "spring_festival 2027-02-06T01:00:00Z", "birthday 2027-05-10T01:00:00Z"] {
        assert!(next.iter().any(|n| n == want), "{want} is not among the next reminders {next:?}");
    }
    s.clock("2026-06-02T00:59:00Z").await;
    assert_ne!(customer_now(&s, &id).await["segments"]["churn_risk"], "high");
    s.clock("2026-06-02T01:00:00Z").await;
    let now = customer_now(&s, &id).await;
    assert_eq!(now["data"]["at_risk"], true, "{now}");
    assert!(titles(&s, &staff).await.iter().any(|t| t.contains("张伟")), "{:?}", titles(&s, &staff).await);
    assert_eq!(now["segments"]["churn_risk"], "high");

    // S19: 30 days before the contract ends: a reminder and a renewal task.
    s.clock("2026-06-15T01:00:00Z").await;
    let tasks = s.get_as(&staff, "/api/v1/tasks").await.expect(200).body;
    assert!(tasks["items"].as_array().unwrap().iter().any(|t| t["title"].as_str().unwrap().starts_with("续约跟进：张伟")), "{tasks}");

    // S16: a revisit with NPS 3 opens a complaint, which, being severe, reaches the owner's manager.
    s.post("/api/v1/forms/revisit/records", json!({"customer": id, "date": "2026-06-15", "satisfaction": 2, "nps": 3, "comment": "响应太慢"})).await.expect(201);
    let complaints = s.list("complaint", &[]).await.expect(200).body;
    assert_eq!(complaints["items"].as_array().unwrap().len(), 1, "{complaints}");
    assert_eq!(complaints["items"][0]["data"]["severity"], "高");
    assert!(titles(&s, &manager).await.iter().any(|t| t.starts_with("高投诉")), "{:?}", titles(&s, &manager).await);

    // S18: Spring Festival 2027 (6 February) at 09:00, for tier A and B.
    let c_tier = s.post("/api/v1/forms/customer/records", json!({"name": "李娜", "phone": "13812345678", "owner": "wang@example.com"})).await.expect(201);
    assert_eq!(c_tier.body["segments"]["tier"], "C");
    s.clock("2027-02-06T01:00:00Z").await;
    let all = titles(&s, &staff).await;
    assert!(all.iter().any(|t| t.contains("春节关怀") && t.contains("张伟")), "{all:?}");
    assert!(!all.iter().any(|t| t.contains("春节关怀") && t.contains("李娜")), "a tier C customer gets no greeting: {all:?}");
    s.stop().await;
}

fn pack_files(version: &str, form: &str, migrations: &[(&str, &str)]) -> Vec<u8> {
    let mut files = trellis_core::pack::Files::new();
    files.insert("pack.json".into(), format!(r#"{{"name": "club", "version": "{version}"}}"#).into_bytes());
    files.insert("forms/member.json".into(), form.as_bytes().to_vec());
    for (name, source) in migrations {
        files.insert(format!("migrations/{name}.rhai"), source.as_bytes().to_vec());
    }
    trellis_engine::packs::archive::to_tar_gz("club", &files).unwrap()
}

const CLUB_V1: &str = r#"{"schema": {"type": "object", "properties": {"name": {"type": "string"},
  "addr": {"type": "object", "properties": {"city": {"type": "string"}, "zip": {"type": "string"}}}}}}"#;
const CLUB_V2: &str = r#"{"schema": {"type": "object", "properties": {"name": {"type": "string"}, "grade": {"type": "string"},
  "addr": {"type": "object", "properties": {"city": {"type": "string"}}, "additionalProperties": false}}}}"#;
const STEP_1: &str = "record.level = \"普通\";\nrecord";
const STEP_2: &str = "record.grade = record.level;\nrecord.remove(\"level\");\nif \"addr\" in record { record.addr.remove(\"zip\"); }\nrecord";

/// 1.0.0 → 1.2.0 through 1.1.0: the steps run one after the other on each
/// record before it is written, so a field 1.1.0 added and 1.2.0 renamed
/// never meets a schema that refuses it; a key removed inside an object goes;
/// records in the trash are migrated too; two upgrades sent at once migrate
/// each record once; the same version again reports nothing changed.
async fn an_upgrade_over_two_steps_migrates_live_and_trashed_records_once(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    let (status, report) = upload(&s, pack_files("1.0.0", CLUB_V1, &[]), "").await;
    assert_eq!(status, 200, "{report}");
    let mut ids = Vec::new();
    for (i, name) in ["甲", "乙", "丙", "丁"].iter().enumerate() {
        let r = s.post("/api/v1/forms/member/records", json!({"name": name, "addr": {"city": "上海", "zip": format!("20000{i}")}})).await.expect(201);
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    s.delete(&format!("/api/v1/forms/member/records/{}", ids[3])).await.expect(204);

    let v2 = pack_files("1.2.0", CLUB_V2, &[("1.0.0-1.1.0", STEP_1), ("1.1.0-1.2.0", STEP_2)]);
    let (a, b2) = tokio::join!(upload(&s, v2.clone(), ""), upload(&s, v2.clone(), ""));
    assert!(a.0 == 200 || b2.0 == 200, "one of two upgrades at once succeeds: {} {}", a.1, b2.1);
    for (status, body) in [&a, &b2] {
        assert!(*status == 200 || *status == 409, "the other succeeds or is refused cleanly: {body}");
    }
    let done = if a.0 == 200 && a.1["migrations"].as_array().is_some_and(|m| !m.is_empty()) { &a.1 } else { &b2.1 };
    assert_eq!(done["migrations"][0]["step"], "1.0.0-1.2.0", "{done}");

    let live = s.list("member", &[]).await.expect(200).body;
    let trash = s.list("member", &[("deleted", "true")]).await.expect(200).body;
    let all: Vec<&Value> = live["items"].as_array().unwrap().iter().chain(trash["items"].as_array().unwrap()).collect();
    assert_eq!(all.len(), 4);
    for r in &all {
        assert_eq!(r["data"]["grade"], "普通", "{r}");
        assert!(r["data"].get("level").is_none(), "{r}");
        assert_eq!(r["data"]["addr"], json!({"city": "上海"}), "the key removed inside an object is gone: {r}");
    }
    for id in &ids {
        let history = s.get(&format!("/api/v1/forms/member/records/{id}/history")).await.expect(200).body;
        let updates = history["items"].as_array().unwrap().iter().filter(|h| h["op"] == "update").count();
        assert_eq!(updates, 1, "migrated once: {history}");
    }
    // The trashed record comes back in the new shape and can be edited.
    s.post(&format!("/api/v1/forms/member/records/{}/restore", ids[3]), json!({})).await.expect(200);
    s.patch(&format!("/api/v1/forms/member/records/{}", ids[3]), json!({"name": "丁二"}), None).await.expect(200);

    let (status, again) = upload(&s, v2, "").await;
    assert_eq!(status, 200);
    assert!(again["changes"].as_array().unwrap().iter().all(|c| c["action"] == "unchanged"), "{again}");
    assert_eq!(again["migrations"], json!([]));
    s.stop().await;
}
