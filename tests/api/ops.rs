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

    let metrics = s.call(reqwest::Method::GET, "/metrics", None, None, &[]).await.expect(200);
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
    let req = s.http.post(format!("{}/api/v1/forms/company/records", s.base)).bearer_auth(&s.token).json(&batch).send();
    // Read the whole answer: the server finishes writing it before it stops.
    let in_flight = tokio::spawn(async move {
        let res = req.await.expect("the in-flight request is answered");
        (res.status(), res.json::<serde_json::Value>().await.unwrap())
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    s.shutdown().await;
    let (status, body) = in_flight.await.unwrap();
    assert_eq!(status, 201);
    assert_eq!(body["items"].as_array().unwrap().len(), 20_000);
    let page = s.engine.list_records("company", &trellis_core::query::ListParams { limit: Some(1000), ..Default::default() }).await.unwrap();
    assert_eq!(page.items.len(), 1000);
    assert!(page.next_cursor.is_some());
    s.stop().await;
}
