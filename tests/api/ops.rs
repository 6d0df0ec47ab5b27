use serde_json::json;

use crate::both;
use crate::harness::{Backend, Server};

both!(health_metrics_and_openapi, graceful_shutdown_finishes_in_flight_writes);

async fn health_metrics_and_openapi(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    s.post("/api/v1/forms/company/records", json!([{"name": "A"}, {"name": "B"}])).await.expect(201);
    s.post("/api/v1/forms/company/records", json!({"name": ""})).await.expect(422);

    let health = s.call(reqwest::Method::GET, "/healthz", None, None, &[]).await.expect(200);
    assert_eq!(health.body["status"], "ok");

    let metrics = s.get("/metrics").await.expect(200);
    let text = metrics.body.as_str().unwrap();
    assert!(text.contains(r#"trellis_records_written_total{op="create"} 2"#), "{text}");
    assert!(text.contains(r#"trellis_http_requests_total{method="POST",route="/api/v1/forms/{form}/records",status="422"} 1"#), "{text}");
    assert!(text.contains("trellis_http_request_duration_seconds_bucket"), "{text}");

    s.call(reqwest::Method::GET, "/api/v1/openapi.json", None, None, &[]).await.expect(401);
    let doc = s.get("/api/v1/openapi.json").await.expect(200);
    let paths = doc.body["paths"].as_object().unwrap();
    for p in ["/api/v1/auth/token", "/api/v1/forms", "/api/v1/forms/{form}", "/api/v1/forms/{form}/records", "/api/v1/forms/{form}/records/{id}", "/api/v1/forms/{form}/records/{id}/restore", "/api/v1/forms/{form}/records/{id}/history"] {
        assert!(paths.contains_key(p), "{p} missing from the OpenAPI document");
    }
    assert!(paths["/api/v1/forms/{form}/records/{id}"].get("patch").is_some());
    assert!(doc.body["components"]["schemas"]["Problem"].is_object());
    s.stop().await;
}

async fn graceful_shutdown_finishes_in_flight_writes(b: Backend) {
    let Some(mut s) = Server::start(b).await else { return };
    s.crm_forms().await;
    let batch: Vec<_> = (0..20_000).map(|i| json!({"name": format!("Company {i}")})).collect();
    let body = serde_json::to_vec(&batch).unwrap();
    // Raw TCP, so the test controls when the request is on the wire: the whole
    // body is written, then the server gets a moment to start on it.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(s.base.trim_start_matches("http://")).await.unwrap();
    let head = format!(
        "POST /api/v1/forms/company/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        s.token,
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&body).await.unwrap();
    // Read the answer concurrently: the server finishes writing it before it stops.
    let reader = tokio::spawn(async move {
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).await.unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    s.shutdown().await;
    let answer = reader.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{}", &answer[..answer.len().min(300)]);
    assert_eq!(answer.matches("\"form\":\"company\"").count(), 20_000);
    let page = s.engine.list_records(&trellis_engine::Actor::system(), "company", &trellis_core::query::ListParams { limit: Some(1000), ..Default::default() }).await.unwrap();
    assert_eq!(page.items.len(), 1000);
    assert!(page.next_cursor.is_some());
    s.stop().await;
}

/// The app's files go out gzipped when asked, with an ETag that answers 304;
/// API answers are not compressed; the favicon is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_is_served_compressed_and_cacheable_with_a_favicon() {
    let Some(s) = Server::start(Backend::Sqlite).await else { return };
    let get = |path: &str, headers: &[(&str, &str)]| {
        let mut req = s.http.get(format!("{}{path}", s.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send()
    };
    let plain = get("/app/static/js/app.js", &[]).await.unwrap();
    assert_eq!(plain.status(), 200);
    assert!(plain.headers().get("content-encoding").is_none());
    let etag = plain.headers()["etag"].to_str().unwrap().to_owned();
    let size = plain.bytes().await.unwrap().len();
    let zipped = get("/app/static/js/app.js", &[("accept-encoding", "gzip")]).await.unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let zipped_size = zipped.bytes().await.unwrap().len();
    assert!(zipped_size * 2 < size, "gzip makes it much smaller: {zipped_size} of {size}");
    let again = get("/app/static/js/app.js", &[("if-none-match", etag.as_str())]).await.unwrap();
    assert_eq!(again.status(), 304);
    let icon = get("/favicon.ico", &[]).await.unwrap();
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.headers()["content-type"], "image/svg+xml");
    let api = s.http.get(format!("{}/api/v1/forms", s.base)).bearer_auth(&s.token).header("accept-encoding", "gzip").send().await.unwrap();
    assert!(api.headers().get("content-encoding").is_none(), "API answers are not compressed");
    s.stop().await;
}
