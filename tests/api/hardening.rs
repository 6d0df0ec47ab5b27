//! The smaller hardening items: who may read `/metrics`, `nosniff` on every
//! answer, sign-in that neither tells known emails apart by time nor lets one
//! address sweep through emails, and definitions saved back to back across
//! two instances of one PostgreSQL database.

use reqwest::Method;
use serde_json::json;

use crate::both;
use crate::harness::{ADMIN, Backend, PASSWORD, Server};

both!(metrics_need_an_admin_token, every_answer_says_nosniff, an_address_is_slowed_after_failed_sign_ins_across_emails);

async fn metrics_need_an_admin_token(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    let anonymous = s.call(Method::GET, "/metrics", None, None, &[]).await.expect(401);
    assert!(anonymous.body["detail"].as_str().unwrap().contains("metrics token"), "{}", anonymous.body);
    s.call(Method::GET, "/metrics", Some("trl_not-a-token"), None, &[]).await.expect(401);
    let staff = s.user("staff@example.com", "staff").await;
    s.call(Method::GET, "/metrics", Some(&staff), None, &[]).await.expect(403);
    let ok = s.get("/metrics").await.expect(200);
    assert!(ok.body.as_str().unwrap().contains("trellis_http_requests_total"), "{}", ok.body);
    s.stop().await;
}

async fn every_answer_says_nosniff(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    let answers = [
        ("json", s.get("/api/v1/forms").await.expect(200)),
        ("healthz", s.call(Method::GET, "/healthz", None, None, &[]).await.expect(200)),
        ("metrics", s.get("/metrics").await.expect(200)),
        ("page", s.call(Method::GET, "/app", None, None, &[]).await.expect(200)),
        ("401", s.call(Method::GET, "/api/v1/forms", None, None, &[]).await.expect(401)),
        ("404", s.get("/no/such/route").await.expect(404)),
        ("405", s.call(Method::PUT, "/healthz", None, None, &[]).await.expect(405)),
        ("422", s.post("/api/v1/forms", json!({"key": "Bad Key"})).await),
    ];
    for (what, res) in answers {
        assert_eq!(res.headers.get("x-content-type-options").map(|v| v.to_str().unwrap()), Some("nosniff"), "{what} ({})", res.status);
    }
    s.stop().await;
}

async fn an_address_is_slowed_after_failed_sign_ins_across_emails(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    let sign_in = |email: String, password: &'static str| {
        let s = &s;
        async move { s.call(Method::POST, "/api/v1/auth/token", None, Some(&json!({"email": email, "password": password})), &[]).await }
    };
    // Successes do not count against the address.
    for _ in 0..25 {
        sign_in(ADMIN.to_owned(), PASSWORD).await.expect(200);
    }
    for i in 0..trellis_engine::auth::MAX_ADDRESS_FAILURES {
        sign_in(format!("nobody{i}@example.com"), "guess guess").await.expect(401);
    }
    // Thirty different unknown emails from one address are not all answered: the address waits, as a locked email does.
    for i in 0..10 {
        let slowed = sign_in(format!("someone{i}@example.com"), "guess guess").await.expect(429);
        let wait: u64 = slowed.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=900).contains(&wait), "{wait}");
        assert_eq!(slowed.body["retry_after"], wait);
        assert!(slowed.body["detail"].as_str().unwrap().contains("from this address"), "{}", slowed.body);
    }
    // The browser sign-in is held by the same count, even with the right password.
    s.call(Method::POST, "/api/v1/auth/session", None, Some(&json!({"email": ADMIN, "password": PASSWORD})), &[("origin", &s.base)]).await.expect(429);
    let log = s.get("/api/v1/audit").await.expect(200);
    assert!(log.body["items"].as_array().unwrap().iter().any(|e| e["action"] == "login_slowed"), "{}", log.body);
    s.stop().await;
}

/// Sign-in for an unknown email checks a password hash just as one for a
/// known email does. The bound is generous — the fault it catches, skipping
/// the hash, makes an unknown email answer several times faster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_email_takes_as_long_to_refuse_as_a_known_one() {
    let Some(s) = Server::start(Backend::Sqlite).await else { return };
    const N: usize = 7;
    for i in 0..N {
        s.engine.add_user(&format!("known{i}@example.com"), None, "staff", PASSWORD).await.unwrap();
    }
    let time = |email: String| {
        let s = &s;
        async move {
            let started = std::time::Instant::now();
            s.call(Method::POST, "/api/v1/auth/token", None, Some(&json!({"email": email, "password": "wrong password"})), &[]).await.expect(401);
            started.elapsed()
        }
    };
    // Interleaved, so a burst of load on the machine falls on both alike; one wrong password per known email stays under its lock-out.
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..N {
        known.push(time(format!("known{i}@example.com")).await);
        unknown.push(time(format!("unknown{i}@example.com")).await);
    }
    known.sort();
    unknown.sort();
    let (k, u) = (known[N / 2], unknown[N / 2]);
    eprintln!("median refusal: known email {k:?}, unknown email {u:?}");
    // Skipping the hash answers in about a millisecond against ~40 ms; a factor of 4 leaves
    // room for the rest of the suite loading the machine (2.4× was seen under load).
    assert!(u * 4 >= k, "an unknown email is refused much faster ({u:?}) than a known one ({k:?}): its password is not hashed");
    s.stop().await;
}

/// A trigger saved on one instance right after its form (or message) was
/// saved on another is checked against what the database holds, not against
/// a cache that has not yet heard of the form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn definitions_saved_back_to_back_across_two_instances_see_each_other() {
    let Some(a) = Server::start(Backend::Postgres).await else { return };
    let b = a.second_instance().await;
    let form = |key: &str| json!({"key": key, "schema": {"type": "object", "properties": {"name": {"type": "string"}}}});
    a.post("/api/v1/forms", form("base")).await.expect(201);
    // Both instances have every form cached (a record write reads them all, for rollups).
    for s in [&a, &b] {
        s.post("/api/v1/forms/base/records", json!({"name": "x"})).await.expect(201);
        s.post("/api/v1/triggers", json!({"key": format!("warm_{}", s.base.rsplit(':').next().unwrap()), "form": "base", "when": {"event": "created"}, "actions": [{"notify": "owner", "title": "new"}]})).await.expect(201);
    }
    for i in 0..5 {
        b.post("/api/v1/messages", json!({"key": format!("note_{i}"), "template": "hello {{ record.name }}"})).await.expect(201);
    }
    // Several streams at once, each saving a form on one instance and at once a trigger naming it on the other:
    // the other instance hears of the form (NOTIFY) only some time after the commit.
    let round = |stream: usize, i: usize| {
        let (a, b) = (&a, &b);
        async move {
            let (first, second) = if i.is_multiple_of(2) { (a, b) } else { (b, a) };
            let key = format!("form_{stream}_{i}");
            first.post("/api/v1/forms", form(&key)).await.expect(201);
            let trigger = json!({"key": format!("on_{stream}_{i}"), "form": key, "when": {"event": "created"}, "actions": [{"notify": "owner", "message": format!("note_{stream}")}]});
            let saved = second.post("/api/v1/triggers", trigger).await;
            assert_eq!(saved.status, 201, "{key}: the trigger naming it, saved on the other instance, was refused: {}", saved.body);
            // A message saved on one instance and named at once by a trigger on the other.
            let note = format!("note_{stream}_{i}");
            first.post("/api/v1/messages", json!({"key": note, "template": "hi"})).await.expect(201);
            let saved = second.post("/api/v1/triggers", json!({"key": format!("msg_{stream}_{i}"), "form": "base", "when": {"event": "created"}, "actions": [{"notify": "owner", "message": note}]})).await;
            assert_eq!(saved.status, 201, "{note}: the trigger naming it, saved on the other instance, was refused: {}", saved.body);
        }
    };
    futures::future::join_all((0..5).map(|stream| async move {
        for i in 0..12 {
            round(stream, i).await;
        }
    }))
    .await;
    // The triggers run: a record of the last form on A notifies its owner through B's message.
    let id = b.post("/api/v1/forms/form_0_10/records", json!({"name": "王"})).await.expect(201).body["id"].as_str().unwrap().to_owned();
    let notes = a.get("/api/v1/notifications?limit=500").await.expect(200);
    assert!(notes.body["items"].as_array().unwrap().iter().any(|n| n["record_id"] == id.as_str() && n["body"] == "hello 王"), "{}", notes.body);
    let mut b = b;
    b.shutdown().await;
    b.engine.close().await;
    a.stop().await;
}
