//! Bad input of every kind gets a clear 4xx problem, never a 500.

use reqwest::Method;
use serde_json::json;

use crate::both;
use crate::harness::{Backend, Server};

both!(malformed_requests);

async fn malformed_requests(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    let url = format!("{}/api/v1/forms/company/records", s.base);

    let raw = |body: &'static str, content_type: Option<&'static str>| {
        let mut req = s.http.post(&url).bearer_auth(&s.token).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        req.send()
    };
    let res = raw("{\"name\": ", Some("application/json")).await.unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["type"], "https://trellis.dev/problems/malformed-json");
    assert!(body["detail"].as_str().unwrap().contains("line 1"), "{body}");

    let res = raw("{\"name\": \"x\"}", Some("text/plain")).await.unwrap();
    assert_eq!(res.status(), 415);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert_eq!(raw("{\"name\": \"x\"}", None).await.unwrap().status(), 415);
    // JSON with a charset and merge-patch+json are JSON.
    assert_eq!(raw("{\"name\": \"x\"}", Some("application/json; charset=utf-8")).await.unwrap().status(), 201);

    // An oversized body is refused from its Content-Length, before it is read (raw TCP, so
    // the client does not trip over the early answer while still sending).
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = tokio::net::TcpStream::connect(s.base.trim_start_matches("http://")).await.unwrap();
        let head = format!(
            "POST /api/v1/forms/company/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n[",
            s.token,
            17 << 20
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = tcp.read(&mut buf).await.unwrap();
        let answer = String::from_utf8_lossy(&buf[..n]);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(answer.contains("application/problem+json") && answer.contains("payload-too-large"), "{answer}");
    }

    // Bodies of the wrong shape.
    for body in [json!(5), json!("x"), json!(null), json!([1, 2])] {
        s.post("/api/v1/forms/company/records", body).await.expect(422);
    }
    s.call(Method::POST, "/api/v1/auth/token", None, Some(&json!({"email": 1})), &[]).await.expect(422);

    // Unknown things.
    s.post("/api/v1/forms/nope/records", json!({"name": "x"})).await.expect(404);
    s.get("/api/v1/forms/nope/records").await.expect(404);
    s.get("/api/v1/forms/company/records/not-a-uuid").await.expect(404);
    s.get(&format!("/api/v1/forms/company/records/{}", uuid::Uuid::now_v7())).await.expect(404);
    s.get("/api/v1/nothing/here").await.expect(404);
    s.get("/api/v1/forms/%FF/records").await.expect(404);
    s.get("/api/v1/forms/company/records/%FF%FE").await.expect(404);
    s.call(Method::PUT, "/api/v1/forms/company/records", Some(&s.token), Some(&json!({})), &[]).await.expect(405);
    s.call(Method::PATCH, &format!("/api/v1/forms/company/records/{}", uuid::Uuid::now_v7()), Some(&s.token), Some(&json!({})), &[("if-match", "banana")])
        .await
        .expect(400);
    s.get("/api/v1/forms/company/records?limit=abc").await.expect(400);
    s.stop().await;
}
