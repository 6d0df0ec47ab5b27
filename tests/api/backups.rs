//! `trellis backup` and `trellis restore` as an operator runs them: a backup
//! taken while the API writes, restored to a new file, served, and checked
//! for every record committed before it began, whole.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use crate::harness::{Backend, Server};

const BIN: &str = env!("CARGO_BIN_EXE_trellis");

fn trellis(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// A customer form whose every record gets a task (an event trigger) and a
/// pending reminder (a date trigger's schedule row) in its create's transaction.
async fn customers(s: &Server) {
    s.post("/api/v1/forms", json!({"key": "customer", "schema": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"}, "renew": {"type": "string", "format": "date"}}}}))
        .await
        .expect(201);
    s.post("/api/v1/triggers", json!({"key": "welcome", "form": "customer", "when": {"event": "created"},
        "actions": [{"create_task": {"title": "call {{ record.name }}", "assignee": "owner", "due": "2d"}}]}))
        .await
        .expect(201);
    s.post("/api/v1/triggers", json!({"key": "renewal", "form": "customer", "when": {"date": "renew", "offset": "-7d", "at": "09:00"},
        "actions": [{"notify": "owner", "title": "renewal of {{ record.name }}"}]}))
        .await
        .expect(201);
    // Bulk, so that the copy takes long enough for writes to land during it.
    s.post("/api/v1/forms", json!({"key": "note", "schema": {"type": "object", "properties": {"text": {"type": "string"}}}})).await.expect(201);
    let notes: Vec<Value> = (0..3000).map(|i| json!({"text": format!("{i} {}", "lorem ipsum ".repeat(150))})).collect();
    s.post("/api/v1/forms/note/records", json!(notes)).await.expect(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_restores_every_committed_record_whole() {
    let Some(s) = Server::start(Backend::Sqlite).await else { return };
    customers(&s).await;
    let dir = tempfile::tempdir().unwrap();

    // The writer: creates customers and changes each once, through the API, until told to stop.
    // Within the 400 days a moment is looked for ahead of now.
    let renew_day = jiff::Zoned::now().date().saturating_add(jiff::Span::new().days(100));
    let (renew, reminder) = (renew_day.to_string(), renew_day.saturating_sub(jiff::Span::new().days(7)).at(9, 0, 0, 0).in_tz("Asia/Shanghai").unwrap().timestamp().to_string());
    let committed: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (http, base, token, committed, stop, renew) = (s.http.clone(), s.base.clone(), s.token.clone(), committed.clone(), stop.clone(), renew.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let url = format!("{base}/api/v1/forms/customer/records");
                let res = http.post(&url).bearer_auth(&token).json(&json!({"name": format!("c{i}"), "renew": renew})).send().await.unwrap();
                assert_eq!(res.status(), 201);
                let id = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
                committed.lock().unwrap().push(id.clone());
                let res = http.patch(format!("{url}/{id}")).bearer_auth(&token).json(&json!({"name": format!("c{i} changed")})).send().await.unwrap();
                assert_eq!(res.status(), 200);
                i += 1;
            }
            i
        })
    };
    while committed.lock().unwrap().len() < 30 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let before: Vec<String> = committed.lock().unwrap().clone();
    let backup = dir.path().join("backup.db");
    let out = {
        let (db, file) = (s.db_url.clone(), backup.display().to_string());
        tokio::task::spawn_blocking(move || trellis(&["backup", &file, "--db", &db])).await.unwrap()
    };
    let during = committed.lock().unwrap().len() - before.len();
    stop.store(true, Ordering::SeqCst);
    let written = writer.await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("backed up "), "{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{written} customers written, {during} of them while the backup ran");

    // A second backup to the same file needs --force.
    let again = trellis(&["backup", &backup.display().to_string(), "--db", &s.db_url]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"), "{}", String::from_utf8_lossy(&again.stderr));

    // Restore to a new file and serve it.
    let restored = format!("sqlite://{}", dir.path().join("restored.db").display());
    let out = trellis(&["restore", &backup.display().to_string(), "--db", &restored]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The target now holds data: restoring over it needs --force.
    let out = trellis(&["restore", &backup.display().to_string(), "--db", &restored]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = trellis(&["restore", &backup.display().to_string(), "--db", &restored, "--force"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = Killed(Command::new(BIN).args(["serve", "--db", &restored, "--bind", &format!("127.0.0.1:{port}")]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap());
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    assert!(lines.any(|l| l.is_ok_and(|l| l.starts_with("Trellis listening"))), "the restored database serves");
    let base = format!("http://127.0.0.1:{port}");
    // The admin's token is in the backup (as its hash), so it signs in to the restored server too.
    let get = |path: String| {
        let (http, base, token) = (s.http.clone(), base.clone(), s.token.clone());
        async move {
            let res = http.get(format!("{base}{path}")).bearer_auth(&token).send().await.unwrap();
            assert_eq!(res.status(), 200, "{path}");
            res.json::<Value>().await.unwrap()
        }
    };
    let list = get("/api/v1/forms/customer/records?limit=500".into()).await;
    let records = list["items"].as_array().unwrap();
    let ids: std::collections::HashSet<&str> = records.iter().map(|r| r["id"].as_str().unwrap()).collect();
    for id in &before {
        assert!(ids.contains(id.as_str()), "customer {id}, committed before the backup began, is missing");
    }
    assert!(records.len() <= written, "nothing appears that was not written");
    for r in records {
        let id = r["id"].as_str().unwrap();
        let rev = r["rev"].as_i64().unwrap();
        let history = get(format!("/api/v1/forms/customer/records/{id}/history")).await;
        let revs: Vec<i64> = history["items"].as_array().unwrap().iter().map(|h| h["rev"].as_i64().unwrap()).collect();
        assert_eq!(revs, (1..=rev).collect::<Vec<_>>(), "customer {id}: its history matches its rev");
        let tasks = get(format!("/api/v1/tasks?record={id}")).await;
        assert_eq!(tasks["items"].as_array().unwrap().len(), 1, "customer {id}: its task: {tasks}");
        let reminders = get(format!("/api/v1/forms/customer/records/{id}/reminders")).await;
        assert_eq!(reminders["items"], json!([{"trigger": "renewal", "at": reminder}]), "customer {id}: its pending reminder");
    }
    let notes = get("/api/v1/forms/note/records?limit=1".into()).await;
    assert_eq!(notes["items"].as_array().unwrap().len(), 1);
    Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().unwrap();
    assert!(child.0.wait().unwrap().success());
    s.stop().await;
}

/// A server process that does not outlive a failing test.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn restore_refuses_what_is_not_a_trellis_database_and_postgres_points_to_pg_dump() {
    let dir = tempfile::tempdir().unwrap();
    let target = format!("sqlite://{}", dir.path().join("t.db").display());
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database at all, just some text that is long enough").unwrap();
    let out = trellis(&["restore", &junk.display().to_string(), "--db", &target]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a SQLite database"), "{}", String::from_utf8_lossy(&out.stderr));
    // A SQLite file that is not Trellis's.
    let other = dir.path().join("other.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", other.display())).await.unwrap();
    sqlx::query("CREATE TABLE t (x)").execute(&pool).await.unwrap();
    pool.close().await;
    let out = trellis(&["restore", &other.display().to_string(), "--db", &target]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a Trellis database"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!dir.path().join("t.db").exists(), "a refused restore writes nothing");

    let pg = crate::harness::pg_url();
    for (cmd, tool) in [("backup", "pg_dump"), ("restore", "pg_restore")] {
        let out = trellis(&[cmd, &dir.path().join("x.db").display().to_string(), "--db", &pg]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains(tool), "{cmd}: {}", String::from_utf8_lossy(&out.stderr));
    }
}
