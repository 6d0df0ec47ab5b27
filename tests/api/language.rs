//! Messages for people in the reader's language: `Accept-Language: zh-CN`
//! gets Chinese titles, details and field messages (naming fields by their
//! titles); `en` or none gets English. `type`, `code` and `pointer` are the
//! same in both. A script error says its line once.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::harness::{Backend, Response, Server};

both!(problems_speak_the_readers_language, users_have_names_and_everyone_reads_the_directory, import_row_errors_speak_the_importers_language);

async fn call(s: &Server, method: Method, path: &str, body: Option<Value>, lang: &str, extra: &[(&str, &str)]) -> Response {
    let mut headers = vec![("accept-language", lang)];
    headers.extend_from_slice(extra);
    s.call(method, path, Some(&s.token), body.as_ref(), &headers).await
}

async fn problems_speak_the_readers_language(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    let bad = json!({"phone": "12345", "level": "D", "nps": 11});

    // Validation: one problem per field, in each language, at the same pointers with the same codes.
    let zh = call(&s, Method::POST, "/api/v1/forms/customer/records", Some(bad.clone()), "zh-CN,zh;q=0.9,en;q=0.8", &[]).await.expect(422);
    let en = call(&s, Method::POST, "/api/v1/forms/customer/records", Some(bad.clone()), "en-US", &[]).await.expect(422);
    assert_eq!(zh.pointers(), en.pointers());
    assert_eq!(zh.body["type"], en.body["type"]);
    let codes = |r: &Response| r.body["errors"].as_array().unwrap().iter().map(|e| e["code"].clone()).collect::<Vec<_>>();
    assert_eq!(codes(&zh), codes(&en));
    assert_eq!(zh.body["title"], "提交的内容有问题");
    assert!(zh.body["detail"].as_str().unwrap().contains("处问题"), "{}", zh.body);
    let msg = |r: &Response, p: &str| r.body["errors"].as_array().unwrap().iter().find(|e| e["pointer"] == p).unwrap()["message"].as_str().unwrap().to_owned();
    assert_eq!(msg(&zh, "/name"), "请填写「名称」", "a field by its title");
    assert!(msg(&zh, "/phone").contains("手机号"), "{}", msg(&zh, "/phone"));
    assert!(msg(&zh, "/level").contains("只能选：A、B、C"), "{}", msg(&zh, "/level"));
    assert!(msg(&zh, "/nps").contains("0 到 10"), "{}", msg(&zh, "/nps"));
    assert_eq!(msg(&en, "/name"), "'name' is required");
    assert!(!en.body["detail"].as_str().unwrap().chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "English has no Chinese: {}", en.body);
    // No header is English, as before.
    let none = s.post("/api/v1/forms/customer/records", bad).await.expect(422);
    assert_eq!(msg(&none, "/name"), "'name' is required");

    // A unique key names its field by title.
    s.post("/api/v1/forms/customer/records", json!({"name": "甲", "phone": "13800138000"})).await.expect(201);
    let dup = call(&s, Method::POST, "/api/v1/forms/customer/records", Some(json!({"name": "乙", "phone": "13800138000"})), "zh-CN", &[]).await.expect(409);
    assert_eq!(dup.body["type"], "https://trellis.dev/problems/unique-violation");
    assert_eq!(dup.body["key"], json!(["phone"]));
    assert!(dup.body["detail"].as_str().unwrap().contains("客户"), "{}", dup.body);

    // A stale edit says both revisions.
    let id = s.list("customer", &[]).await.expect(200).body["items"][0]["id"].as_str().unwrap().to_owned();
    let stale = call(&s, Method::PATCH, &format!("/api/v1/forms/customer/records/{id}"), Some(json!({"name": "丙"})), "zh", &[("if-match", "\"9\"")]).await.expect(412);
    assert!(stale.body["detail"].as_str().unwrap().contains("第 9 版"), "{}", stale.body);
    assert_eq!(stale.body["current_rev"], 1);

    // A refusal without a sentence of its own: the status's, the English kept in detail_en.
    let staff = s.user("staff@example.com", "staff").await;
    let refused = s.call(Method::GET, "/api/v1/audit", Some(&staff), None, &[("accept-language", "zh-CN")]).await.expect(403);
    assert_eq!(refused.body["title"], "没有权限");
    assert!(refused.body["detail_en"].as_str().unwrap().contains("admins"), "{}", refused.body);

    // The permission explanation gives its reasons in the reader's language.
    let ex = call(&s, Method::GET, "/api/v1/permissions/explain?user=staff@example.com&form=customer", None, "zh-CN", &[]).await.expect(200).body;
    assert!(ex["operations"]["read"]["why"].as_str().unwrap().starts_with("员工可以读取"), "{ex}");
    let ex = call(&s, Method::GET, "/api/v1/permissions/explain?user=staff@example.com&form=customer", None, "en", &[]).await.expect(200).body;
    assert!(ex["operations"]["read"]["why"].as_str().unwrap().starts_with("role staff may read"), "{ex}");

    // A designer's mistakes in a form, a trigger and a dashboard, each said in Chinese.
    let cjk = |r: &Response| {
        for e in r.body["errors"].as_array().unwrap().iter().filter(|e| e["code"] != "script" && e["code"] != "template") {
            assert!(e["message"].as_str().unwrap().chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "not in Chinese: {e} in {}", r.body);
        }
    };
    let form = call(&s, Method::POST, "/api/v1/forms", Some(json!({"key": "Bad Key", "title": "x", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}, "unique": [["nope"]], "indexes": ["gone"]})), "zh-CN", &[]).await.expect(422);
    cjk(&form);
    let trigger = call(&s, Method::POST, "/api/v1/triggers", Some(json!({"key": "t1", "form": "customer", "when": {"date": "nope", "offset": "soon", "at": "25:00"}, "actions": [{"notify": "role:pilot", "title": "x"}]})), "zh-CN", &[]).await.expect(422);
    cjk(&trigger);
    let dash = call(&s, Method::POST, "/api/v1/dashboards", Some(json!({"key": "d1", "title": "x", "widgets": [{"key": "w", "kind": "pie", "form": "nope", "measure": {"op": "count"}}]})), "zh-CN", &[]).await.expect(422);
    cjk(&dash);

    // A script error: its line in `line`, said once, the same in both languages.
    let mut form = s.get("/api/v1/forms/customer").await.expect(200).body["definition"].clone();
    form["segments"] = json!({"tier": {"kind": "label", "script": "let x = 1;\nif x > { \"A\" }"}});
    for lang in ["zh-CN", "en"] {
        let e = call(&s, Method::PUT, "/api/v1/forms/customer", Some(form.clone()), lang, &[("if-match", "\"1\"")]).await.expect(422);
        let err = &e.body["errors"][0];
        assert_eq!(err["line"], 2, "{}", e.body);
        assert!(!err["message"].as_str().unwrap().contains("line"), "{}", e.body);
        assert_eq!(e.body["detail"].as_str().unwrap().matches("line 2").count() + e.body["detail"].as_str().unwrap().matches("第 2 行").count(), 1, "{}", e.body);
    }
    s.stop().await;
}

async fn users_have_names_and_everyone_reads_the_directory(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    let u = s.post("/api/v1/users", json!({"email": "wang.fang@example.com", "name": " 王芳 ", "role": "staff", "password": "correct horse battery"})).await.expect(201).body;
    assert_eq!(u["name"], "王芳", "trimmed");
    let token = s.call(Method::POST, "/api/v1/auth/token", None, Some(&json!({"email": "wang.fang@example.com", "password": "correct horse battery"})), &[]).await.expect(200).body;
    assert_eq!(token["user"]["name"], "王芳");
    let staff = token["token"].as_str().unwrap().to_owned();
    // Staff read the directory (names, to show people), not only admins.
    let dir = s.get_as(&staff, "/api/v1/users").await.expect(200).body;
    assert!(dir["items"].as_array().unwrap().iter().any(|x| x["name"] == "王芳"), "{dir}");
    assert_eq!(s.get_as(&staff, "/api/v1/auth/me").await.expect(200).body["name"], "王芳");
    // Anyone renames themself; only admins rename others; a name has at most 50 characters.
    s.call(Method::PATCH, "/api/v1/users/wang.fang@example.com", Some(&staff), Some(&json!({"name": "王小芳"})), &[]).await.expect(200);
    s.call(Method::PATCH, "/api/v1/users/admin@example.com", Some(&staff), Some(&json!({"name": "x"})), &[]).await.expect(403);
    let long = s.call(Method::PATCH, "/api/v1/users/wang.fang@example.com", Some(&s.token), Some(&json!({"name": "名".repeat(51)})), &[]).await.expect(422);
    assert_eq!(long.pointers(), ["/name"]);
    s.call(Method::PATCH, "/api/v1/users/nobody@example.com", Some(&s.token), Some(&json!({"name": "x"})), &[]).await.expect(404);
    let cleared = s.call(Method::PATCH, "/api/v1/users/wang.fang@example.com", Some(&s.token), Some(&json!({"name": ""})), &[]).await.expect(200).body;
    assert!(cleared.get("name").is_none(), "an empty name clears it: {cleared}");
    // Mark all read: notifications of the caller only.
    let read = s.call(Method::POST, "/api/v1/notifications/read", Some(&staff), None, &[]).await.expect(200).body;
    assert_eq!(read["marked"], 0);
    s.stop().await;
}

/// Imports a CSV as `lang` (a dry run) and returns its refused rows' messages, by row.
async fn refused(s: &Server, csv: &str, lang: &str) -> Vec<(i64, String)> {
    let res = s.http.post(format!("{}/api/v1/forms/customer/imports?dry_run=true&name=x.csv", s.base)).bearer_auth(&s.token).header("accept-language", lang).body(csv.to_owned()).send().await.unwrap();
    assert_eq!(res.status(), 202);
    let job: Value = res.json().await.unwrap();
    let id = job["id"].as_str().unwrap().to_owned();
    for _ in 0..400 {
        if s.get(&format!("/api/v1/jobs/{id}")).await.expect(200).body["status"] == "done" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let errors = s.get(&format!("/api/v1/jobs/{id}/errors?format=json")).await.expect(200).body["items"].clone();
    errors.as_array().unwrap().iter().map(|e| (e["row"].as_i64().unwrap(), e["message"].as_str().unwrap().to_owned())).collect()
}

async fn import_row_errors_speak_the_importers_language(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    s.post("/api/v1/forms/customer/records", json!({"name": "甲", "phone": "13800138000"})).await.expect(201);
    let csv = "名称,phone,level,annual_spend\n,13900000001,A,100\n乙,13900000002,D,100\n丙,13900000003,A,很多\n丁,13800138000,A,1\n";
    let zh = refused(&s, csv, "zh-CN").await;
    let en = refused(&s, csv, "en").await;
    assert_eq!(zh.iter().map(|e| e.0).collect::<Vec<_>>(), en.iter().map(|e| e.0).collect::<Vec<_>>(), "the same rows: {zh:?} {en:?}");
    let at = |list: &[(i64, String)], row: i64| list.iter().find(|e| e.0 == row).map(|e| e.1.clone()).unwrap_or_default();
    assert_eq!(at(&zh, 2), "请填写「名称」", "{zh:?}");
    assert!(at(&zh, 3).contains("不是可选的值（A、B、C）"), "{zh:?}");
    assert!(at(&zh, 4).contains("「很多」不是数字"), "{zh:?}");
    assert!(at(&zh, 5).contains("已有客户"), "{zh:?}");
    assert_eq!(at(&en, 2), "'name' is required");
    assert!(at(&en, 4).contains("is not a number"), "{en:?}");
    s.stop().await;
}
