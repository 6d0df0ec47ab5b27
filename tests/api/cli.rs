//! The `trellis` binary as a user runs it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_trellis");

#[tokio::test]
async fn serve_creates_the_database_and_a_first_admin_then_user_add_works() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("fresh.db").display());
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = Command::new(BIN)
        .args(["serve", "--db", &db, "--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let password = first.rsplit(' ').next().unwrap().to_owned();
    assert!(first.starts_with("First start: created admin@localhost with password "), "{first}");
    let ready = lines.find(|l| l.as_ref().is_ok_and(|l| l.starts_with("Trellis listening on"))).unwrap().unwrap();
    assert!(ready.contains(&port.to_string()));

    trellis_engine::install_tls();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let health: serde_json::Value = http.get(format!("{base}/healthz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health, json!({"status": "ok", "database": "sqlite"}));
    let res = http.post(format!("{base}/api/v1/auth/token")).json(&json!({"email": "admin@localhost", "password": password})).send().await.unwrap();
    assert_eq!(res.status(), 200);

    // A second user, added by the CLI while the server runs (SQLite in WAL mode allows it).
    let mut add = Command::new(BIN)
        .args(["user", "add", "sales@example.com", "--role", "staff", "--name", "王芳", "--password-stdin", "--db", &db])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin.take().unwrap().write_all(b"s3cret-pass\n").unwrap();
    let out = add.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "added sales@example.com (staff)");
    let res = http.post(format!("{base}/api/v1/auth/token")).json(&json!({"email": "sales@example.com", "password": "s3cret-pass"})).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let signed: serde_json::Value = res.json().await.unwrap();
    assert_eq!(signed["user"]["name"], "王芳", "--name is the user's display name");

    // A bad role is refused with a clear message and a failing exit code.
    let mut bad = Command::new(BIN)
        .args(["user", "add", "x@example.com", "--role", "boss", "--password-stdin", "--db", &db])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    bad.stdin.take().unwrap().write_all(b"s3cret-pass\n").unwrap();
    let out = bad.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("role 'boss' is not one of admin, manager, staff"));

    // SIGTERM stops the server cleanly.
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(child.wait().unwrap().success());
}

#[tokio::test]
async fn segments_refresh_sweeps_a_form_from_the_command_line() {
    let Some(s) = crate::harness::Server::start(crate::harness::Backend::Sqlite).await else { return };
    let mut form = json!({"key": "customer", "schema": {"type": "object", "properties": {"spend": {"type": "number"}}},
        "segments": {"tier": {"kind": "label", "script": "if record.spend > 100 { \"A\" } else { \"B\" }"}}});
    s.post("/api/v1/forms", form.clone()).await.expect(201);
    let id = s.post("/api/v1/forms/customer/records", json!({"spend": 500})).await.expect(201).body["id"].as_str().unwrap().to_owned();
    form["segments"]["tier"]["script"] = json!("if record.spend > 1000 { \"A\" } else { \"B\" }");
    s.put("/api/v1/forms/customer", form).await.expect(200);

    let out = Command::new(BIN).args(["segments", "refresh", "customer", "--db", &s.db_url]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "customer: 1 records, 1 changed, 0 failed");
    let r = s.get(&format!("/api/v1/forms/customer/records/{id}")).await.expect(200);
    assert_eq!(r.body["segments"]["tier"], "B");

    let out = Command::new(BIN).args(["segments", "refresh", "nope", "--db", &s.db_url]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("there is no form 'nope'"));
    s.stop().await;
}

/// Starts `trellis serve` with `extra` arguments and logs at debug (so
/// every request is logged, inside its span), and waits until it listens.
fn serve_logging(extra: &[&str]) -> (std::process::Child, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("logs.db").display());
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = Command::new(BIN)
        .args(["serve", "--db", &db, "--bind", &format!("127.0.0.1:{port}")])
        .args(extra)
        .env("RUST_LOG", "info,tower_http=debug")
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.any(|l| l.is_ok_and(|l| l.starts_with("Trellis listening"))));
    (child, format!("http://127.0.0.1:{port}"), dir)
}

/// Stops the server and returns everything it logged.
fn stop_and_read_logs(child: std::process::Child) -> String {
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stderr).unwrap()
}

#[tokio::test]
async fn logs_piped_to_a_file_carry_no_colour_codes_and_metrics_can_be_public() {
    let (child, base, _dir) = serve_logging(&["--metrics-public"]);
    trellis_engine::install_tls();
    let http = reqwest::Client::new();
    assert_eq!(http.get(format!("{base}/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(http.get(format!("{base}/metrics")).send().await.unwrap().status(), 200, "--metrics-public needs no token");
    let logs = stop_and_read_logs(child);
    assert!(logs.contains("/healthz") && logs.contains("shutting down"), "{logs}");
    assert!(!logs.contains('\u{1b}'), "no escape codes when stderr is not a terminal: {logs:?}");
}

#[tokio::test]
async fn log_format_json_writes_one_json_object_a_line_and_a_metrics_token_opens_metrics() {
    let (child, base, _dir) = serve_logging(&["--log-format", "json", "--metrics-token", "scrape-me"]);
    trellis_engine::install_tls();
    let http = reqwest::Client::new();
    assert_eq!(http.get(format!("{base}/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(http.get(format!("{base}/metrics")).send().await.unwrap().status(), 401);
    assert_eq!(http.get(format!("{base}/metrics")).bearer_auth("wrong").send().await.unwrap().status(), 401);
    let metrics = http.get(format!("{base}/metrics")).bearer_auth("scrape-me").send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(metrics.text().await.unwrap().contains("trellis_http_requests_total"));
    let logs = stop_and_read_logs(child);
    assert!(!logs.contains('\u{1b}'), "{logs:?}");
    let lines: Vec<serde_json::Value> = logs.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))).collect();
    assert!(lines.iter().all(|l| l["level"].is_string() && l["timestamp"].is_string() && l["fields"].is_object()), "{logs}");
    assert!(lines.iter().any(|l| l["fields"]["message"] == "shutting down: finishing in-flight requests"), "{logs}");
    assert!(lines.iter().any(|l| l["span"]["uri"] == "/healthz" || l["spans"].to_string().contains("/healthz")), "request logs carry their request: {logs}");
}
