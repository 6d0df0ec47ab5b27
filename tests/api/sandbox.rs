//! The sandbox through the API: each limit stops a runaway script with a
//! clear error, and the server keeps serving. (How fast each stops is
//! measured by `trellis-bench sandbox`, not asserted here.)

use serde_json::json;

use crate::both;
use crate::harness::{Backend, Server};

async fn each_limit_stops_a_runaway_script_with_a_clear_error(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    let cases = [
        ("loop { }", "operations"),
        ("let i = 0; while true { i += 1; }", "operations"),
        ("fn f(n) { f(n + 1) } f(0)", "levels"),
        ("let s = \"ab\"; loop { s += s; }", "grew past the sandbox's limit"),
        ("let a = [1]; loop { a += a; }", "grew past the sandbox's limit"),
        // Whichever comes first stops a growing map: the operation limit or the 50 ms deadline.
        ("let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; }", "stopped"),
    ];
    for (script, want) in cases {
        let e = s.post("/api/v1/scripts/test", json!({"script": script, "record": {}})).await.expect(422);
        let message = e.body["errors"][0]["message"].as_str().unwrap();
        // An unoptimised (debug) build can reach the deadline before the operation limit.
        assert!(message.contains(want) || message.contains("ran longer than 50 ms"), "{script}: {message}");
    }
    for (script, want) in [("eval(\"1\")", "eval"), ("import \"fs\" as fs; 1", "import"), ("let x = ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((1))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))); x", "")] {
        let e = s.post("/api/v1/scripts/test", json!({"script": script, "record": {}})).await.expect(422);
        assert!(e.body["errors"][0]["message"].as_str().unwrap().to_lowercase().contains(want), "{script}: {}", e.body);
    }
    s.get("/healthz").await.expect(200);
    s.stop().await;
}

async fn a_runaway_rule_refuses_the_write_and_the_server_keeps_serving(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.post("/api/v1/forms", json!({"key": "c", "schema": {"type": "object", "properties": {"n": {"type": "integer"}}},
        "computed": {"spin": "if record.n == 1 { loop {} } else { 0 }"}}))
        .await
        .expect(201);
    let e = s.post("/api/v1/forms/c/records", json!({"n": 1})).await.expect(422);
    assert!(e.body["detail"].as_str().unwrap().contains("computed.spin"), "{}", e.body);
    s.post("/api/v1/forms/c/records", json!({"n": 2})).await.expect(201);
    s.get("/healthz").await.expect(200);
    s.stop().await;
}

both!(each_limit_stops_a_runaway_script_with_a_clear_error, a_runaway_rule_refuses_the_write_and_the_server_keeps_serving);
