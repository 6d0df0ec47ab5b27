use serde_json::{Value, json};

use crate::both;
use crate::harness::{ADMIN, Backend, Server};

both!(
    validation_errors_point_at_fields,
    formats_are_asserted,
    users_and_links_are_resolved,
    batches_are_all_or_nothing,
    unique_keys_hold_under_concurrency,
    patch_merges_and_checks_revisions,
    delete_restore_and_history
);

const CUSTOMERS: &str = "/api/v1/forms/customer/records";

fn record(id: &Value) -> String {
    format!("{CUSTOMERS}/{}", id.as_str().unwrap())
}

async fn validation_errors_point_at_fields(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    let res = s.post(CUSTOMERS, json!({"name": "张三"})).await.expect(422);
    assert_eq!(res.body["type"], "https://trellis.dev/problems/validation");
    assert_eq!(res.pointers(), ["/phone"]);
    assert_eq!(res.body["errors"][0]["code"], "required");

    let res = s.post(CUSTOMERS, json!({"name": "", "phone": "123", "level": "Z", "nmae": "typo", "vip": "yes"})).await.expect(422);
    let mut pointers = res.pointers();
    pointers.sort();
    assert_eq!(pointers, ["/level", "/name", "/nmae", "/phone", "/vip"]);

    // Text with NUL characters is refused on both backends (PostgreSQL cannot store it).
    let res = s.post(CUSTOMERS, json!({"name": "a\u{0}b", "phone": "13800138000"})).await.expect(422);
    assert_eq!(res.pointers(), ["/name"]);
    s.call(reqwest::Method::POST, "/api/v1/auth/token", None, Some(&json!({"email": "a\u{0}@x", "password": "xxxxxxxx"})), &[]).await.expect(422);

    // null is the same as absent.
    s.post(CUSTOMERS, json!({"name": "张三", "phone": "13800138000", "email": null})).await.expect(201);
    s.stop().await;
}

async fn formats_are_asserted(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    let cases: &[(Value, Option<&str>)] = &[
        (json!({"phone": "13800138000"}), None),
        (json!({"phone": "+8613800138001"}), None),
        (json!({"phone": "+14155552671"}), None),
        (json!({"phone": "1380013800"}), Some("/phone")),
        (json!({"phone": "12800138000"}), Some("/phone")),
        (json!({"phone": "+0123456"}), Some("/phone")),
        (json!({"email": "a@b.cn"}), None),
        (json!({"email": "not an email"}), Some("/email")),
        (json!({"birthday": "1990-02-28"}), None),
        (json!({"birthday": "1990-02-30"}), Some("/birthday")),
        (json!({"birthday": "28/02/1990"}), Some("/birthday")),
        (json!({"last_contact": "2026-11-23T09:00:00+08:00"}), None),
        (json!({"last_contact": "2026-11-23 09:00"}), Some("/last_contact")),
        (json!({"annual_spend": 1999.99}), None),
        (json!({"annual_spend": 19.999}), Some("/annual_spend")),
        (json!({"satisfaction": 5}), None),
        (json!({"satisfaction": 6}), Some("/satisfaction")),
        (json!({"satisfaction": 0}), Some("/satisfaction")),
        (json!({"nps": 0}), None),
        (json!({"nps": 10}), None),
        (json!({"nps": 11}), Some("/nps")),
        (json!({"nps": 7.5}), Some("/nps")),
        (json!({"nps": 11.0}), Some("/nps")),
        (json!({"satisfaction": 7.0}), Some("/satisfaction")),
    ];
    for (i, (fields, bad)) in cases.iter().enumerate() {
        let mut data = json!({"name": format!("C{i}"), "phone": format!("139{i:08}")});
        for (k, v) in fields.as_object().unwrap() {
            data[k] = v.clone();
        }
        let res = s.post(CUSTOMERS, data.clone()).await;
        match bad {
            None => {
                res.expect(201);
            }
            Some(p) => {
                let res = res.expect(422);
                assert_eq!(res.pointers(), [p.to_string()], "{data}");
                assert!(res.body["errors"][0]["message"].as_str().unwrap().len() > 10);
            }
        }
    }
    s.stop().await;
}

async fn users_and_links_are_resolved(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    let sales = s.user("sales@example.com", "staff").await;
    let me = s.get("/api/v1/auth/me").await.body;
    let acme = s.post("/api/v1/forms/company/records", json!({"name": "Acme"})).await.expect(201).body;

    // A user field takes an email (any case) or an id and stores the id; the owner follows it.
    let res = s.post(CUSTOMERS, json!({"name": "A", "phone": "13800000001", "owner": "SALES@example.com", "company": acme["id"]})).await.expect(201);
    let sales_id = s.engine.store().find_user("sales@example.com").await.unwrap().unwrap().id.to_string();
    assert_eq!(res.body["data"]["owner"], sales_id.as_str());
    assert_eq!(res.body["owner"], sales_id.as_str());
    assert_eq!(res.body["created_by"], me["id"]);
    let by_id = s.post(CUSTOMERS, json!({"name": "B", "phone": "13800000002", "owner": me["id"]})).await.expect(201);
    assert_eq!(by_id.body["owner"], me["id"]);
    // Without an owner field, the creator owns the record.
    let res = s.call(reqwest::Method::POST, CUSTOMERS, Some(&sales), Some(&json!({"name": "C", "phone": "13800000003"})), &[]).await.expect(201);
    assert_eq!(res.body["owner"], sales_id.as_str());

    let res = s.post(CUSTOMERS, json!({"name": "D", "phone": "13800000004", "owner": "ghost@example.com"})).await.expect(422);
    assert_eq!(res.pointers(), ["/owner"]);
    let res = s.post(CUSTOMERS, json!({"name": "D", "phone": "13800000004", "company": uuid::Uuid::now_v7().to_string()})).await.expect(422);
    assert_eq!(res.pointers(), ["/company"]);
    let res = s.post(CUSTOMERS, json!({"name": "D", "phone": "13800000004", "company": "Acme"})).await.expect(422);
    assert_eq!(res.pointers(), ["/company"]);
    // A link must name a record of the linked form…
    let customer = s.post(CUSTOMERS, json!({"name": "E", "phone": "13800000005"})).await.expect(201).body;
    s.post(CUSTOMERS, json!({"name": "F", "phone": "13800000006", "company": customer["id"]})).await.expect(422);
    // …that is not deleted.
    s.delete(&format!("/api/v1/forms/company/records/{}", acme["id"].as_str().unwrap())).await.expect(204);
    s.post(CUSTOMERS, json!({"name": "G", "phone": "13800000007", "company": acme["id"]})).await.expect(422);
    let _ = ADMIN;
    s.stop().await;
}

async fn batches_are_all_or_nothing(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    let res = s
        .post(CUSTOMERS, json!([{"name": "A", "phone": "13800000001"}, {"name": "B", "phone": "bad"}, {"name": "C", "phone": "13800000003"}, {"phone": "13800000004"}]))
        .await
        .expect(422);
    assert_eq!(res.pointers(), ["/1/phone", "/3/name"]);
    assert_eq!(s.names("customer", &[]).await.len(), 0, "nothing of a refused batch is written");

    let res = s.post(CUSTOMERS, json!([{"name": "A", "phone": "13800000001"}, {"name": "B", "phone": "13800000001"}])).await.expect(409);
    assert_eq!(res.body["key"], json!(["phone"]));
    assert!(res.body["detail"].as_str().unwrap().contains("item 1"));

    let res = s.post(CUSTOMERS, json!([{"name": "A", "phone": "13800000001"}, {"name": "B", "phone": "13800000002"}])).await.expect(201);
    assert_eq!(res.body["items"].as_array().unwrap().len(), 2);
    // A batch that collides with a stored record is refused whole.
    s.post(CUSTOMERS, json!([{"name": "C", "phone": "13800000003"}, {"name": "D", "phone": "13800000002"}])).await.expect(409);
    assert_eq!(s.names("customer", &[("sort", "name")]).await, ["A", "B"]);
    s.post(CUSTOMERS, json!([])).await.expect(201);
    s.stop().await;
}

async fn unique_keys_hold_under_concurrency(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let req = s.http.post(format!("{}{CUSTOMERS}", s.base)).bearer_auth(&s.token).json(&json!({"name": format!("N{i}"), "phone": "13800138000"}));
            tokio::spawn(async move { req.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [vec![201], vec![409; 15]].concat());
    let res = s.post(CUSTOMERS, json!({"name": "X", "phone": "13800138000"})).await.expect(409);
    assert_eq!(res.body["type"], "https://trellis.dev/problems/unique-violation");
    assert_eq!(res.body["key"], json!(["phone"]));
    assert!(res.body["detail"].as_str().unwrap().contains("phone"));

    // A deleted record frees its key; restoring it while the key is taken is refused.
    let first = s.list("customer", &[]).await.body["items"][0]["id"].clone();
    s.delete(&record(&first)).await.expect(204);
    s.post(CUSTOMERS, json!({"name": "Y", "phone": "13800138000"})).await.expect(201);
    s.post(&format!("{}/restore", record(&first)), json!({})).await.expect(409);
    s.stop().await;
}

async fn patch_merges_and_checks_revisions(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    let r = s.post(CUSTOMERS, json!({"name": "张三", "phone": "13800138000", "level": "B", "tags": ["vip"]})).await.expect(201);
    assert_eq!(r.headers["etag"], "\"1\"");
    let url = record(&r.body["id"]);

    let res = s.patch(&url, json!({"level": "A", "tags": null, "email": "zs@example.com"}), Some("\"1\"")).await.expect(200);
    assert_eq!(res.body["rev"], 2);
    assert_eq!(res.headers["etag"], "\"2\"");
    assert_eq!(res.body["data"], json!({"name": "张三", "phone": "13800138000", "level": "A", "email": "zs@example.com"}));

    let stale = s.patch(&url, json!({"level": "C"}), Some("\"1\"")).await.expect(412);
    assert_eq!(stale.body["current_rev"], 2);
    assert_eq!(s.get(&url).await.body["data"]["level"], "A", "a refused patch changes nothing");

    // The merged document is validated against the form.
    let res = s.patch(&url, json!({"phone": "nope", "name": null}), None).await.expect(422);
    let mut pointers = res.pointers();
    pointers.sort();
    assert_eq!(pointers, ["/name", "/phone"]);
    s.patch(&url, json!([1]), None).await.expect(422);

    // A patch that changes nothing keeps the revision.
    assert_eq!(s.patch(&url, json!({"level": "A"}), None).await.expect(200).body["rev"], 2);
    // Unquoted revisions are understood; weak tags are refused (If-Match compares strongly).
    s.patch(&url, json!({"level": "B"}), Some("W/\"2\"")).await.expect(400);
    assert_eq!(s.patch(&url, json!({"level": "B"}), Some("2")).await.expect(200).body["rev"], 3);
    assert_eq!(s.patch(&url, json!({"level": "C"}), Some("3")).await.expect(200).body["rev"], 4);

    // Two concurrent patches at the same revision: one wins, one is told it is stale.
    let reqs: Vec<_> = ["A", "B"]
        .iter()
        .map(|l| {
            let req = s.http.patch(format!("{}{url}", s.base)).bearer_auth(&s.token).header("if-match", "\"4\"").header("content-type", "application/merge-patch+json").body(json!({"level": l}).to_string());
            tokio::spawn(async move { req.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for r in reqs {
        statuses.push(r.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [200, 412]);
    s.stop().await;
}

async fn delete_restore_and_history(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    let r = s.post(CUSTOMERS, json!({"name": "张三", "phone": "13800138000"})).await.expect(201);
    let url = record(&r.body["id"]);
    s.patch(&url, json!({"level": "A"}), None).await.expect(200);
    s.call(reqwest::Method::DELETE, &url, Some(&s.token), None, &[("if-match", "\"1\"")]).await.expect(412);
    s.delete(&url).await.expect(204);

    let gone = s.get(&url).await.expect(410);
    assert!(gone.body["detail"].as_str().unwrap().contains("restore"));
    s.delete(&url).await.expect(410);
    s.patch(&url, json!({"level": "B"}), None).await.expect(410);
    assert!(s.names("customer", &[]).await.is_empty());
    assert_eq!(s.names("customer", &[("deleted", "true")]).await, ["张三"]);

    let restored = s.post(&format!("{url}/restore"), json!({})).await.expect(200);
    assert_eq!(restored.body["rev"], 4);
    assert!(restored.body.get("deleted_at").is_none());
    s.post(&format!("{url}/restore"), json!({})).await.expect(409);
    assert_eq!(s.names("customer", &[]).await, ["张三"]);

    let history = s.get(&format!("{url}/history")).await.expect(200);
    let items = history.body["items"].as_array().unwrap();
    let ops: Vec<_> = items.iter().map(|h| h["op"].as_str().unwrap()).collect();
    assert_eq!(ops, ["create", "update", "delete", "restore"]);
    let revs: Vec<_> = items.iter().map(|h| h["rev"].as_i64().unwrap()).collect();
    assert_eq!(revs, [1, 2, 3, 4]);
    assert_eq!(items[1]["changes"], json!({"level": {"from": null, "to": "A"}}));
    assert!(items.iter().all(|h| h["actor_email"] == ADMIN && !h["at"].as_str().unwrap().is_empty()));
    s.get(&format!("{CUSTOMERS}/{}/history", uuid::Uuid::now_v7())).await.expect(404);
    s.stop().await;
}
