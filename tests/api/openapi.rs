//! The OpenAPI document says what the server does: parameters where they are
//! sent, typed bodies, the problem answers; and the answers the framework makes
//! (unknown route, wrong method, oversized body, URI or headers too large,
//! a limit out of range) are problem+json like every other error.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::harness::{Backend, Server};

both!(the_document_matches_the_routes, framework_errors_are_problems, limits_out_of_range_are_refused);

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// Follows a local `$ref` (`#/components/…`) to what it names.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => doc.pointer(r.trim_start_matches('#')).unwrap_or_else(|| panic!("dangling $ref {r}")),
        None => v,
    }
}

async fn the_document_matches_the_routes(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    let doc = s.get("/api/v1/openapi.json").await.expect(200).body;
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            operations += 1;
            let name = format!("{} {path}", method.to_uppercase());
            for p in op["parameters"].as_array().into_iter().flatten() {
                let p = resolve(&doc, p);
                let (pname, place) = (p["name"].as_str().unwrap(), p["in"].as_str().unwrap());
                if place == "path" {
                    assert!(path.contains(&format!("{{{pname}}}")), "{name}: path parameter {pname} has no {{{pname}}} segment");
                    assert_eq!(p["required"], true, "{name}: path parameter {pname} must be required");
                }
            }
            for segment in path.split('/').filter(|s| s.starts_with('{')) {
                let pname = segment.trim_matches(['{', '}']);
                let declared = op["parameters"].as_array().into_iter().flatten().any(|p| resolve(&doc, p)["name"] == pname && resolve(&doc, p)["in"] == "path");
                assert!(declared, "{name}: segment {segment} is not declared as a path parameter");
            }
            // A JSON body is described by a named schema or one with properties or alternatives, not a bare `object`.
            if let Some(body) = op.get("requestBody") {
                let body = resolve(&doc, body);
                for (content_type, content) in body["content"].as_object().unwrap() {
                    if !content_type.contains("json") {
                        continue;
                    }
                    let schema = &content["schema"];
                    let typed = schema.get("$ref").is_some() || schema.get("properties").is_some() || schema.get("oneOf").is_some();
                    assert!(typed, "{name}: the {content_type} body is untyped: {schema}");
                }
            }
            // Every operation documents its problem answers, and every error answer is problem+json.
            let responses = op["responses"].as_object().unwrap();
            for code in ["400", "404"] {
                assert!(responses.contains_key(code), "{name}: {code} is not documented");
            }
            if op.get("security").is_some_and(|s| !s.as_array().unwrap().is_empty()) {
                assert!(responses.contains_key("401"), "{name}: 401 is not documented");
            }
            if op.get("requestBody").is_some() {
                assert!(responses.contains_key("413"), "{name}: 413 is not documented");
            }
            for (code, response) in responses {
                if code.starts_with('4') || code.starts_with('5') {
                    let response = resolve(&doc, response);
                    assert!(response["content"]["application/problem+json"].is_object(), "{name}: {code} is not problem+json: {response}");
                }
            }
        }
    }
    assert!(operations >= 75, "only {operations} operations documented");
    // Query parameters are in the query: the list's, the audit log's, an import's.
    let in_of = |path: &str, method: &str, param: &str| -> String {
        let op = &doc["paths"][path][method];
        let p = op["parameters"].as_array().unwrap().iter().map(|p| resolve(&doc, p)).find(|p| p["name"] == param).unwrap_or_else(|| panic!("{path}: no {param}"));
        p["in"].as_str().unwrap().to_owned()
    };
    for (path, method, param) in [
        ("/api/v1/forms/{form}/records", "get", "filter"),
        ("/api/v1/forms/{form}/records", "get", "limit"),
        ("/api/v1/forms/{form}/records", "get", "cursor"),
        ("/api/v1/audit", "get", "limit"),
        ("/api/v1/forms/{form}/imports", "post", "dry_run"),
        ("/api/v1/packs", "post", "bundled"),
    ] {
        assert_eq!(in_of(path, method, param), "query", "{method} {path}: {param}");
    }
    // A script may return null.
    let value = &doc["components"]["schemas"]["ScriptTestOut"]["properties"]["value"];
    assert!(value.get("type").is_none(), "a script's value is any JSON value: {value}");
    // A form is created from a typed definition.
    assert_eq!(doc["components"]["schemas"]["FormIn"]["required"], json!(["key", "schema"]));
    s.stop().await;
}

async fn framework_errors_are_problems(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    s.get("/api/v1/no/such/route").await.expect(404);
    s.call(Method::DELETE, "/api/v1/forms", Some(&s.token), None, &[]).await.expect(405);

    // Over the body limit: axum's own 413 for a raw body would be text/plain; these are problems,
    // from the declared length before the body is read, and from a chunked body while it is read.
    for path in ["/api/v1/packs", "/api/v1/forms/company/records", "/api/v1/forms/company/imports"] {
        let limit: usize = if path.ends_with("imports") { 128 << 20 } else { 16 << 20 };
        let head = format!("POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", s.token, limit + 1);
        let answer = raw(&s, head, 0).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{path}: {}", &answer[..answer.len().min(300)]);
        assert!(answer.contains("application/problem+json") && answer.contains("payload-too-large"), "{path}: {answer}");
    }
    let head = format!("POST /api/v1/packs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nTransfer-Encoding: chunked\r\n\r\n", s.token);
    let answer = raw(&s, head, 17).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{}", &answer[..answer.len().min(300)]);
    assert!(answer.contains("application/problem+json") && answer.contains("payload-too-large"), "{answer}");

    // A URI or header block beyond the limits: problem+json, not hyper's bare status.
    let long = "a".repeat(20 << 10);
    let res = s.get(&format!("/api/v1/forms/company/records?filter={long}")).await.expect(414);
    assert_eq!(res.body["type"], "https://trellis.dev/problems/uri-too-long");
    let padding = "p".repeat(8 << 10);
    let headers: Vec<(String, &str)> = (0..5).map(|i| (format!("x-padding-{i}"), padding.as_str())).collect();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let res = s.call(Method::GET, "/api/v1/forms", Some(&s.token), None, &headers).await.expect(431);
    assert_eq!(res.body["type"], "https://trellis.dev/problems/headers-too-large");
    s.stop().await;
}

async fn limits_out_of_range_are_refused(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    for path in ["/api/v1/audit", "/api/v1/tasks", "/api/v1/notifications", "/api/v1/deliveries", "/api/v1/occurrences", "/api/v1/forms/company/records"] {
        let max = if path.ends_with("records") { 1000 } else { 500 };
        for bad in ["0".to_owned(), "-1".to_owned(), (max + 1).to_string()] {
            let res = s.get(&format!("{path}?limit={bad}")).await.expect(400);
            assert!(res.body["detail"].as_str().unwrap().contains("limit"), "{path}?limit={bad}: {}", res.body);
        }
        s.get(&format!("{path}?limit={max}")).await.expect(200);
        s.get(&format!("{path}?limit=1")).await.expect(200);
    }
    s.stop().await;
}

/// Sends `head` and then `chunks` chunks of 1 MiB over raw TCP, reading the answer meanwhile:
/// the server answers before the body ends, which a client that writes first trips over.
async fn raw(s: &Server, head: String, chunks: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = tokio::net::TcpStream::connect(s.base.trim_start_matches("http://")).await.unwrap();
    let (mut rd, mut wr) = tcp.into_split();
    let reader = tokio::spawn(async move {
        let mut answer = Vec::new();
        let mut buf = vec![0u8; 4096];
        // Until the problem's closing brace, the end of the stream, or a reset.
        while let Ok(n) = rd.read(&mut buf).await {
            answer.extend_from_slice(&buf[..n]);
            if n == 0 || answer.contains(&b'}') {
                break;
            }
        }
        String::from_utf8_lossy(&answer).into_owned()
    });
    wr.write_all(head.as_bytes()).await.unwrap();
    let chunk = [format!("{:x}\r\n", 1 << 20).into_bytes(), vec![b'x'; 1 << 20], b"\r\n".to_vec()].concat();
    for _ in 0..chunks {
        if wr.write_all(&chunk).await.is_err() {
            break;
        }
    }
    reader.await.unwrap()
}
