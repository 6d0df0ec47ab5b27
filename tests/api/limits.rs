//! User-written programs are bounded on every path: a template that builds
//! without bound is stopped in its worker (memory or deadline) and fails the
//! one message or write it runs in, naming its definition; scripts are
//! refused past their size; a simulation of an endless rule stops early.
//! Each test asserts the bound — an answer within a generous deadline, the
//! test process's memory (the server runs in it) barely moved, `/healthz`
//! answering meanwhile — not the speed.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::both;
use crate::harness::{Backend, Server};

/// The reproduction: each step doubles a list, forty steps.
const BOMB: &str = "{% set ns = namespace(a=[1]) %}{% for i in range(40) %}{% set ns.a = ns.a + ns.a %}{% endfor %}{{ ns.a|length }}";

/// The same, doubling as often as the record says: harmless for an empty record.
const DATA_BOMB: &str = "{% set ns = namespace(a=[1]) %}{% for i in range(record.n or 0) %}{% set ns.a = ns.a + ns.a %}{% endfor %}{{ ns.a|length }}";

/// Doubling a longer list: past a worker's 256 MiB, or its deadline, whichever
/// comes first (minijinja charges fuel by size for text and ranges, not here).
const HOG: &str = "{% set ns = namespace(a=range(20000)|list) %}{% for i in range(40) %}{% set ns.a = ns.a + ns.a %}{% endfor %}{{ ns.a|length }}";

/// Resident memory of this process (the server under test runs in it), in bytes.
fn resident() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Other tests run in this process at the same time, so the budget is loose;
/// the reproduction grew by gigabytes.
const MEMORY_BUDGET: u64 = 512 * 1024 * 1024;

/// Worker deadline (2 s) plus room for a loaded CI machine.
const ANSWER_WITHIN: Duration = Duration::from_secs(20);

async fn a_template_that_builds_without_bound_is_stopped_and_the_server_keeps_serving(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    let before = resident();
    let started = Instant::now();
    // Before the fix this never answered: a timeout makes it fail, not hang.
    let preview = async { tokio::time::timeout(ANSWER_WITHIN, s.post("/api/v1/messages/preview", json!({"template": BOMB, "record": {}}))).await.expect("answers within the deadline") };
    let health = async {
        // The server answers others while the template runs.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let t = Instant::now();
        s.get("/healthz").await.expect(200);
        t.elapsed()
    };
    let (preview, health_took) = tokio::join!(preview, health);
    let e = preview.expect(422);
    assert!(started.elapsed() < ANSWER_WITHIN, "answered after {:?}", started.elapsed());
    assert!(health_took < Duration::from_secs(5), "/healthz took {health_took:?}");
    let message = e.body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("stopped"), "{message}");
    let grew = resident().saturating_sub(before);
    assert!(grew < MEMORY_BUDGET, "the server grew by {} MiB", grew >> 20);

    // Stopped for its memory or its time; the next rendering works.
    let e = s.post("/api/v1/messages/preview", json!({"template": HOG, "record": {}})).await.expect(422);
    let message = e.body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("MiB of memory") || message.contains("ran longer"), "{message}");
    let ok = s.post("/api/v1/messages/preview", json!({"template": "subject: 你好 {{ record.name }}\n{{ record.name }}，生日快乐", "record": {"name": "王芳"}})).await.expect(200);
    assert_eq!(ok.body["subject"], "你好 王芳");
    assert_eq!(ok.body["body"], "王芳，生日快乐");

    // Output past 1 MiB is refused with a clear reason.
    let e = s.post("/api/v1/messages/preview", json!({"template": "{% for i in range(3000) %}{{ 'x' * 1000 }}{% endfor %}", "record": {}})).await.expect(422);
    assert!(e.body["errors"][0]["message"].as_str().unwrap().contains("longer than 1024 KiB"), "{}", e.body);

    // Saving it: a template that runs past a limit even for an empty record is refused.
    let e = s.post("/api/v1/messages", json!({"key": "bomb", "template": BOMB})).await.expect(422);
    assert_eq!(e.pointers(), vec!["/template"]);
    s.get("/api/v1/messages/bomb").await.expect(404);
    s.stop().await;
}

async fn a_template_that_explodes_on_one_record_fails_that_write_only(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.post("/api/v1/forms", json!({"key": "c", "title": "客户", "schema": {"type": "object", "properties": {"name": {"type": "string"}, "n": {"type": "integer"}}}}))
        .await
        .expect(201);
    s.post("/api/v1/forms", json!({"key": "other", "schema": {"type": "object", "properties": {"name": {"type": "string"}}}})).await.expect(201);
    // Harmless for an empty record, so it is saved; and a trigger sends it on every new record.
    s.post("/api/v1/messages", json!({"key": "grows", "template": DATA_BOMB})).await.expect(201);
    s.post("/api/v1/triggers", json!({"key": "welcome", "form": "c", "when": {"event": "created"}, "actions": [{"notify": "owner", "message": "grows"}]}))
        .await
        .expect(201);
    s.post("/api/v1/forms/c/records", json!({"name": "小", "n": 3})).await.expect(201);

    let before = resident();
    let started = Instant::now();
    let bomb = async { tokio::time::timeout(ANSWER_WITHIN, s.post("/api/v1/forms/c/records", json!({"name": "大", "n": 40}))).await.expect("answers within the deadline") };
    let others = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        // A write to another form goes through: the bomb's transaction does not outlive its deadline.
        s.post("/api/v1/forms/other/records", json!({"name": "旁人"})).await.expect(201);
        s.get("/healthz").await.expect(200);
    };
    let (bomb, ()) = tokio::join!(bomb, others);
    assert!(started.elapsed() < ANSWER_WITHIN, "answered after {:?}", started.elapsed());
    let status = bomb.status.as_u16();
    assert!((400..500).contains(&status), "{status}: {}", bomb.body);
    let detail = bomb.body["detail"].as_str().unwrap();
    assert!(detail.contains("welcome") && detail.contains("grows") && detail.contains("stopped"), "names the trigger and the message: {detail}");
    let grew = resident().saturating_sub(before);
    assert!(grew < MEMORY_BUDGET, "the server grew by {} MiB", grew >> 20);
    // Nothing of the failed write was kept; the other records were.
    assert_eq!(s.names("c", &[]).await, vec!["小"]);
    assert_eq!(s.names("other", &[]).await, vec!["旁人"]);
    s.post("/api/v1/forms/c/records", json!({"name": "中", "n": 5})).await.expect(201);
    s.stop().await;
}

async fn scripts_are_bounded_in_size_and_off_the_async_workers(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    // The reproduction sent 14 MB; past 64 KiB nothing is compiled.
    let huge = "1 + ".repeat(3_500_000) + "1";
    let started = Instant::now();
    let tries = (0..3).map(|_| s.post("/api/v1/scripts/test", json!({"script": huge, "record": {}})));
    let health = async {
        let t = Instant::now();
        s.get("/healthz").await.expect(200);
        t.elapsed()
    };
    let (answers, health_took) = tokio::join!(futures::future::join_all(tries), health);
    for e in answers {
        let e = e.expect(422);
        assert!(e.body["errors"][0]["message"].as_str().unwrap().contains("at most 65536"), "{}", e.body);
    }
    assert!(started.elapsed() < ANSWER_WITHIN);
    assert!(health_took < Duration::from_secs(5), "/healthz took {health_took:?}");
    // A form whose rule is too long is refused at save, at the rule.
    let long_rule = "1 + ".repeat(20_000) + "1";
    let e = s.post("/api/v1/forms", json!({"key": "c", "schema": {"type": "object", "properties": {"n": {"type": "integer"}}}, "computed": {"x": long_rule}})).await.expect(422);
    assert_eq!(e.pointers(), vec!["/computed/x"], "{}", e.body);
    s.stop().await;
}

async fn a_simulation_of_an_endless_rule_stops_early(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    let form = json!({"key": "c", "schema": {"type": "object", "properties": {"n": {"type": "integer"}}}, "segments": {"tier": {"kind": "label", "script": "\"A\""}}});
    s.post("/api/v1/forms", form.clone()).await.expect(201);
    let rows: Vec<_> = (0..300).map(|n| json!({"n": n})).collect();
    s.post("/api/v1/forms/c/records", json!(rows)).await.expect(201);
    let mut endless = form;
    endless["segments"]["tier"]["script"] = json!("loop { }");
    let started = Instant::now();
    let sim = s.post("/api/v1/forms/c/simulate", endless).await.expect(200);
    assert!(started.elapsed() < ANSWER_WITHIN, "answered after {:?}", started.elapsed());
    assert_eq!(sim.body["failed"], 20, "{}", sim.body);
    assert_eq!(sim.body["records"], 20);
    assert!(sim.body["stopped"].as_str().unwrap().contains("20 records failed"), "{}", sim.body);
    assert!(sim.body["first_error"].as_str().unwrap().contains("segments.tier"), "{}", sim.body);
    // A rule that works still runs over every record.
    let fine = json!({"key": "c", "schema": {"type": "object", "properties": {"n": {"type": "integer"}}}, "segments": {"tier": {"kind": "label", "script": "if record.n < 100 { \"B\" } else { \"A\" }"}}});
    let sim = s.post("/api/v1/forms/c/simulate", fine).await.expect(200);
    assert_eq!(sim.body["records"], 300, "{}", sim.body);
    assert!(sim.body.get("stopped").is_none(), "{}", sim.body);
    assert_eq!(sim.body["segments"][0]["changed"], 100);
    s.stop().await;
}

/// SIGTERM while a runaway template renders: the request gets its answer
/// within the deadline and the process exits soon after, cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_bounded_time_whatever_is_running() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("t.db").display());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_trellis"))
        .args(["serve", "--db", &db, "--bind", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let password = first.rsplit(' ').next().unwrap().to_owned();
    assert!(lines.any(|l| l.is_ok_and(|l| l.starts_with("Trellis listening on"))));
    trellis_engine::install_tls();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let token: serde_json::Value = http.post(format!("{base}/api/v1/auth/token")).json(&json!({"email": "admin@localhost", "password": password})).send().await.unwrap().json().await.unwrap();
    let token = token["token"].as_str().unwrap().to_owned();
    let request = http.post(format!("{base}/api/v1/messages/preview")).bearer_auth(&token).json(&json!({"template": BOMB, "record": {}})).send();
    let in_flight = tokio::spawn(async move { request.await.map(|r| r.status().as_u16()) });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    assert!(started.elapsed() < ANSWER_WITHIN, "exited after {:?}", started.elapsed());
    assert!(status.success(), "{status:?}");
    assert_eq!(in_flight.await.unwrap().unwrap(), 422, "the in-flight request got its answer before the server stopped");
}

both!(
    a_template_that_builds_without_bound_is_stopped_and_the_server_keeps_serving,
    a_template_that_explodes_on_one_record_fails_that_write_only,
    scripts_are_bounded_in_size_and_off_the_async_workers,
    a_simulation_of_an_endless_rule_stops_early,
);
