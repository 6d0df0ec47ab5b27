use serde_json::json;

use crate::both;
use crate::harness::{Backend, Server, customer_form};

both!(create_and_read_forms, bad_definitions_are_refused_with_pointers, a_change_is_a_new_version, new_unique_key_over_duplicates_is_refused);

async fn create_and_read_forms(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    let res = s.get("/api/v1/forms/customer").await.expect(200);
    assert_eq!(res.body["version"], 1);
    assert_eq!(res.headers["etag"], "\"1\"");
    assert_eq!(res.body["title"], "客户");
    assert_eq!(res.body["definition"]["schema"]["properties"]["phone"]["format"], "phone");
    let list = s.get("/api/v1/forms").await.expect(200);
    let keys: Vec<_> = list.body["items"].as_array().unwrap().iter().map(|f| f["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["company", "customer"]);
    let dup = s.post("/api/v1/forms", customer_form()).await.expect(409);
    assert!(dup.body["detail"].as_str().unwrap().contains("already exists"));
    s.get("/api/v1/forms/nope").await.expect(404);
    s.stop().await;
}

async fn bad_definitions_are_refused_with_pointers(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    let cases = [
        (json!({"key": "x", "schema": {"type": "nonsense"}}), "/schema/type"),
        (json!({"key": "x", "schema": {"type": "object", "properties": {"a": {"type": "string", "format": "fone"}}}}), "/schema"),
        (json!({"key": "x", "schema": {"type": "object", "properties": {"c": {"type": "string", "x-link": "nowhere"}}}}), "/schema/properties/c/x-link"),
        (json!({"key": "x", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}, "indexes": ["b"]}), "/indexes/0"),
        (json!({"key": "x", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}, "unique": [["b"]]}), "/unique/0/0"),
        (json!({"key": "Bad Key", "schema": {"type": "object"}}), "/key"),
        (json!({"key": "x", "schema": {"type": "object", "$ref": "http://169.254.169.254/latest"}}), "/schema"),
        (json!({"key": "x", "schema": {"type": "object"}, "segmnts": {}}), ""),
        (json!({"key": "x__y", "schema": {"type": "object"}}), "/key"),
        (json!({"key": "x", "schema": {"type": "object", "properties": {"a__b": {"type": "string"}}}}), "/schema/properties/a__b"),
        (json!({"key": "x", "schema": {"type": "object", "properties": {"owner": {"type": "string", "format": "user", "maxLength": 20}}}}), "/schema/properties/owner/maxLength"),
    ];
    for (def, pointer) in cases {
        let res = s.post("/api/v1/forms", def.clone()).await.expect(422);
        assert!(res.pointers().contains(&pointer.to_string()), "{def}: {}", res.body);
    }
    // A refused change leaves the version in force.
    s.put("/api/v1/forms/company", json!({"schema": {"type": "object", "properties": {"name": {"type": 5}}}})).await.expect(422);
    assert_eq!(s.get("/api/v1/forms/company").await.body["version"], 1);
    s.get("/api/v1/forms").await.expect(200);
    s.stop().await;
}

async fn a_change_is_a_new_version(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    let v1 = s.post("/api/v1/forms/customer/records", json!({"name": "张三", "phone": "13800138000"})).await.expect(201);
    assert_eq!(v1.body["form_version"], 1);

    let mut def = customer_form();
    def["schema"]["properties"]["wechat"] = json!({"type": "string"});
    let res = s.call(reqwest::Method::PUT, "/api/v1/forms/customer", Some(&s.token), Some(&def), &[("if-match", "\"1\"")]).await.expect(200);
    assert_eq!(res.body["version"], 2);
    // Publishing the same definition again changes nothing.
    assert_eq!(s.put("/api/v1/forms/customer", def.clone()).await.expect(200).body["version"], 2);
    // A stale If-Match is refused.
    def["title"] = json!("客户档案");
    s.call(reqwest::Method::PUT, "/api/v1/forms/customer", Some(&s.token), Some(&def), &[("if-match", "\"1\"")]).await.expect(412);
    // The key in the body must match the URL.
    let mut other = def.clone();
    other["key"] = json!("company");
    s.put("/api/v1/forms/customer", other).await.expect(422);

    // The old record keeps the version it was validated against; new and changed records take the new one.
    let id = v1.body["id"].as_str().unwrap();
    assert_eq!(s.get(&format!("/api/v1/forms/customer/records/{id}")).await.body["form_version"], 1);
    let v2 = s.post("/api/v1/forms/customer/records", json!({"name": "李四", "phone": "13900139000", "wechat": "lisi"})).await.expect(201);
    assert_eq!(v2.body["form_version"], 2);
    let patched = s.patch(&format!("/api/v1/forms/customer/records/{id}"), json!({"wechat": "zs"}), None).await.expect(200);
    assert_eq!(patched.body["form_version"], 2);
    s.stop().await;
}

async fn new_unique_key_over_duplicates_is_refused(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    s.post("/api/v1/forms/company/records", json!([{"name": "Acme"}, {"name": "Acme"}])).await.expect(201);
    let res = s
        .put("/api/v1/forms/company", json!({"schema": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "minLength": 1}}}, "unique": [["name"]]}))
        .await
        .expect(409);
    assert_eq!(res.body["key"], json!(["name"]));
    assert_eq!(s.get("/api/v1/forms/company").await.body["version"], 1);
    s.stop().await;
}
