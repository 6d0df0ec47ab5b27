//! Form permissions through the API: role × operation × scope × field.
//!
//! Two staff in a manager's team, one staff outside it, a second manager
//! with no team, and an admin. The account form lets staff read and write
//! their own records with `annual_spend` (and the tier segment computed from
//! it) hidden and `level` read-only; managers read and write their team's.
//! Every path is asked: list, count, get, filter, sort, patch, create,
//! delete, restore, history, export, import, dashboards, notifications, and
//! the explanation an admin reads.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::harness::{Backend, Response, Server};

both!(the_permission_matrix_holds_on_every_path, a_role_a_form_does_not_name_gets_nothing_and_read_only_roles_cannot_write);

fn account_form() -> Value {
    json!({
        "key": "account", "title": "客户",
        "schema": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "title": "名称"},
            "annual_spend": {"type": "number", "title": "年消费"},
            "level": {"type": "string", "title": "等级"},
            "owner": {"type": "string", "format": "user", "title": "负责人"}
        }},
        "segments": {"tier": {"kind": "label", "script": "if record.annual_spend >= 100000 { \"A\" } else { \"C\" }"}},
        "permissions": {
            "staff": {"create": true, "read": "own", "write": "own", "hidden": ["annual_spend", "segments.tier"], "readonly": ["level"]},
            "manager": {"read": "team", "write": "team"}
        }
    })
}

struct People {
    s1: String,
    s2: String,
    s3: String,
    boss: String,
    lonely: String,
}

async fn as_(s: &Server, token: &str, method: Method, path: &str, body: Option<Value>) -> Response {
    s.call(method, path, Some(token), body.as_ref(), &[]).await
}

async fn names(s: &Server, token: &str, query: &str) -> Vec<String> {
    names_in(s, "account", token, query).await
}

async fn names_in(s: &Server, form: &str, token: &str, query: &str) -> Vec<String> {
    let res = as_(s, token, Method::GET, &format!("/api/v1/forms/{form}/records?sort=name{query}"), None).await.expect(200);
    res.body["items"].as_array().unwrap().iter().map(|r| r["data"]["name"].as_str().unwrap().to_owned()).collect()
}

fn urlencode(s: &str) -> String {
    reqwest::Url::parse_with_params("http://x/", &[("q", s)]).unwrap().query().unwrap()[2..].to_owned()
}

async fn people(s: &Server) -> People {
    let p = People {
        s1: s.user("s1@t.cn", "staff").await,
        s2: s.user("s2@t.cn", "staff").await,
        s3: s.user("s3@t.cn", "staff").await,
        boss: s.user("boss@t.cn", "manager").await,
        lonely: s.user("lonely@t.cn", "manager").await,
    };
    for u in ["s1@t.cn", "s2@t.cn"] {
        s.call(Method::PUT, &format!("/api/v1/users/{u}/manager"), Some(&s.token), Some(&json!({"manager": "boss@t.cn"})), &[]).await.expect(204);
    }
    p
}

async fn the_permission_matrix_holds_on_every_path(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.post("/api/v1/forms", account_form()).await.expect(201);
    let p = people(&s).await;
    // A notification about each new account goes to its owner, naming the spend.
    s.post("/api/v1/triggers", json!({"key": "new_account", "form": "account", "when": {"event": "created"},
        "actions": [{"notify": "owner", "title": "新客户 {{ record.name }} 年消费 {{ record.annual_spend }}"},
            {"create_task": {"title": "回访 {{ record.name }} 年消费 {{ record.annual_spend }}", "assignee": "owner", "form": "account"}}]})).await.expect(201);

    let mut ids = std::collections::HashMap::new();
    for (name, owner, spend) in [("A1", "s1@t.cn", 200000), ("A2", "s2@t.cn", 5000), ("A3", "s3@t.cn", 300000)] {
        let r = s.post("/api/v1/forms/account/records", json!({"name": name, "owner": owner, "annual_spend": spend, "level": "VIP"})).await.expect(201);
        ids.insert(name, r.body["id"].as_str().unwrap().to_owned());
    }
    // Staff create with neither hidden nor read-only fields; what they create is theirs.
    let res = as_(&s, &p.s1, Method::POST, "/api/v1/forms/account/records", Some(json!({"name": "A4"}))).await.expect(201);
    assert!(res.body["data"].get("annual_spend").is_none() && res.body["segments"].get("tier").is_none(), "{}", res.body);
    ids.insert("A4", res.body["id"].as_str().unwrap().to_owned());
    for (field, code) in [("annual_spend", "hidden"), ("level", "readonly")] {
        let res = as_(&s, &p.s1, Method::POST, "/api/v1/forms/account/records", Some(json!({"name": "A5", field: "x"}))).await.expect(403);
        assert_eq!(res.body["type"], "https://trellis.dev/problems/forbidden-field", "{}", res.body);
        assert_eq!(res.pointers(), [format!("/{field}")]);
        assert_eq!(res.body["errors"][0]["code"], code);
        assert!(res.body["detail"].as_str().unwrap().contains(&format!("'{field}'")), "{}", res.body);
    }
    // A batch names the item.
    let res = as_(&s, &p.s1, Method::POST, "/api/v1/forms/account/records", Some(json!([{"name": "B1"}, {"name": "B2", "level": "x"}]))).await.expect(403);
    assert_eq!(res.pointers(), ["/1/level"]);

    // List: own, team, nobody's, everyone's.
    assert_eq!(names(&s, &p.s1, "").await, ["A1", "A4"]);
    assert_eq!(names(&s, &p.s2, "").await, ["A2"]);
    assert_eq!(names(&s, &p.s3, "").await, ["A3"]);
    assert_eq!(names(&s, &p.boss, "").await, ["A1", "A2", "A4"]);
    assert!(names(&s, &p.lonely, "").await.is_empty());
    assert_eq!(names(&s, &s.token, "").await, ["A1", "A2", "A3", "A4"]);
    let count = |t: String| {
        let s = &s;
        async move { as_(s, &t, Method::GET, "/api/v1/forms/account/records/count", None).await.expect(200).body["count"].as_i64().unwrap() }
    };
    assert_eq!((count(p.s1.clone()).await, count(p.boss.clone()).await, count(s.token.clone()).await), (2, 3, 4));

    // Hidden fields: absent from staff's answers, present for the manager.
    let res = as_(&s, &p.s1, Method::GET, "/api/v1/forms/account/records", None).await.expect(200);
    for item in res.body["items"].as_array().unwrap() {
        assert!(item["data"].get("annual_spend").is_none() && item["segments"].get("tier").is_none(), "{item}");
    }
    let a1 = as_(&s, &p.boss, Method::GET, &format!("/api/v1/forms/account/records/{}", ids["A1"]), None).await.expect(200);
    assert_eq!((a1.body["data"]["annual_spend"].as_i64(), a1.body["segments"]["tier"].as_str()), (Some(200000), Some("A")));
    // …and cannot be filtered or sorted on, so their values cannot be probed.
    for query in [format!("&filter={}", urlencode(r#"{"annual_spend":{"_gt":100000}}"#)), format!("&filter={}", urlencode(r#"{"_or":[{"name":{"_eq":"A1"}},{"segments.tier":{"_eq":"A"}}]}"#)), "&sort=-annual_spend".into()] {
        let res = as_(&s, &p.s1, Method::GET, &format!("/api/v1/forms/account/records?limit=5{query}"), None).await.expect(403);
        assert!(res.body["detail"].as_str().unwrap().contains("is hidden for role staff"), "{}", res.body);
    }
    as_(&s, &p.s1, Method::GET, &format!("/api/v1/forms/account/records/count?filter={}", urlencode(r#"{"annual_spend":{"_gt":1}}"#)), None).await.expect(403);
    assert_eq!(names(&s, &p.boss, &format!("&filter={}", urlencode(r#"{"annual_spend":{"_gt":100000}}"#))).await, ["A1"]);
    // Filters narrow within the scope, never beyond it.
    assert!(names(&s, &p.s1, &format!("&filter={}", urlencode(r#"{"name":{"_eq":"A3"}}"#))).await.is_empty());

    // Get: outside the read scope a record is not there.
    let a1 = as_(&s, &p.s1, Method::GET, &format!("/api/v1/forms/account/records/{}", ids["A1"]), None).await.expect(200);
    assert_eq!(a1.body["data"], json!({"name": "A1", "level": "VIP", "owner": a1.body["owner"]}));
    as_(&s, &p.s1, Method::GET, &format!("/api/v1/forms/account/records/{}", ids["A2"]), None).await.expect(404);
    as_(&s, &p.boss, Method::GET, &format!("/api/v1/forms/account/records/{}", ids["A3"]), None).await.expect(404);

    // Write: own fields yes; read-only and hidden ones no, even unchanged; others' records are not there.
    let a1_path = format!("/api/v1/forms/account/records/{}", ids["A1"]);
    let res = as_(&s, &p.s1, Method::PATCH, &a1_path, Some(json!({"name": "A1 改"}))).await.expect(200);
    assert!(res.body["data"].get("annual_spend").is_none(), "{}", res.body);
    for (field, value) in [("level", json!("VIP")), ("annual_spend", json!(200000)), ("annual_spend", Value::Null)] {
        let res = as_(&s, &p.s1, Method::PATCH, &a1_path, Some(json!({ field: value }))).await.expect(403);
        assert_eq!(res.pointers(), [format!("/{field}")], "{}", res.body);
    }
    as_(&s, &p.s1, Method::PATCH, &format!("/api/v1/forms/account/records/{}", ids["A2"]), Some(json!({"name": "x"}))).await.expect(404);
    as_(&s, &p.boss, Method::PATCH, &format!("/api/v1/forms/account/records/{}", ids["A2"]), Some(json!({"level": "普通"}))).await.expect(200);
    as_(&s, &p.boss, Method::PATCH, &format!("/api/v1/forms/account/records/{}", ids["A3"]), Some(json!({"level": "普通"}))).await.expect(404);
    s.patch(&a1_path, json!({"annual_spend": 90000}), None).await.expect(200);

    // Delete and restore: own only.
    as_(&s, &p.s1, Method::DELETE, &format!("/api/v1/forms/account/records/{}", ids["A2"]), None).await.expect(404);
    as_(&s, &p.s1, Method::DELETE, &format!("/api/v1/forms/account/records/{}", ids["A4"]), None).await.expect(204);
    as_(&s, &p.s2, Method::POST, &format!("/api/v1/forms/account/records/{}/restore", ids["A4"]), None).await.expect(404);
    as_(&s, &p.s1, Method::POST, &format!("/api/v1/forms/account/records/{}/restore", ids["A4"]), None).await.expect(200);

    // History: with each change's actor, without the hidden fields' changes.
    let h = as_(&s, &p.s1, Method::GET, &format!("{a1_path}/history"), None).await.expect(200);
    let entries = h.body["items"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "{}", h.body);
    assert_eq!(entries[1]["actor_email"], "s1@t.cn");
    assert_eq!(entries[1]["changes"]["name"], json!({"from": "A1", "to": "A1 改"}));
    assert_eq!(entries[2]["actor_email"], crate::harness::ADMIN, "{}", entries[2]);
    assert!(entries.iter().all(|e| e["changes"].get("annual_spend").is_none() && e["changes"].get("segments.tier").is_none()), "{}", h.body);
    let h = as_(&s, &p.boss, Method::GET, &format!("{a1_path}/history"), None).await.expect(200);
    assert_eq!(h.body["items"][2]["changes"]["annual_spend"], json!({"from": 200000, "to": 90000}));
    as_(&s, &p.s1, Method::GET, &format!("/api/v1/forms/account/records/{}/history", ids["A3"]), None).await.expect(404);

    // Export: the rows and columns the user may read.
    let csv = |t: String| {
        let s = &s;
        async move {
            let res = s.http.get(format!("{}/api/v1/forms/account/export", s.base)).bearer_auth(&t).send().await.unwrap();
            assert_eq!(res.status(), 200);
            res.text().await.unwrap().trim_start_matches('\u{feff}').to_owned()
        }
    };
    let staff_csv = csv(p.s1.clone()).await;
    let lines: Vec<&str> = staff_csv.lines().collect();
    assert!(!lines[0].contains("年消费") && !lines[0].contains("tier") && lines[0].contains("等级"), "{}", lines[0]);
    assert_eq!(lines.len(), 3, "{staff_csv}");
    assert!(lines[1..].iter().all(|l| !l.contains("90000")), "{staff_csv}");
    let boss_csv = csv(p.boss.clone()).await;
    assert!(boss_csv.lines().next().unwrap().contains("年消费") && boss_csv.lines().count() == 4, "{boss_csv}");
    let res = as_(&s, &p.s1, Method::GET, "/api/v1/forms/account/export?sort=annual_spend", None).await.expect(403);
    assert!(res.body["detail"].as_str().unwrap().contains("annual_spend"));

    // Import: a column filling a hidden or read-only field is refused before anything runs.
    let res = s.http.post(format!("{}/api/v1/forms/account/imports", s.base)).bearer_auth(&p.s1).body("名称,年消费\nI1,5\n").send().await.unwrap();
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["pointer"], "/columns/年消费", "{body}");

    // Dashboards count the user's records, and withhold what reads a hidden field.
    s.post("/api/v1/dashboards", json!({"key": "accounts", "title": "客户", "widgets": [
        {"key": "n", "title": "客户数", "kind": "metric", "form": "account", "measure": {"op": "count"}},
        {"key": "spend", "title": "年消费", "kind": "metric", "form": "account", "measure": {"op": "sum", "field": "annual_spend"}},
        {"key": "tiers", "title": "等级", "kind": "pie", "form": "account", "measure": {"op": "count"}, "group_by": "segments.tier"}
    ]})).await.expect(201);
    let d = as_(&s, &p.s1, Method::GET, "/api/v1/dashboards/accounts/data", None).await.expect(200);
    assert_eq!(d.body["widgets"][0]["value"], 2.0, "{}", d.body);
    for w in [1, 2] {
        assert!(d.body["widgets"][w]["withheld"].as_str().unwrap().contains("hidden for role staff"), "{}", d.body);
        assert!(d.body["widgets"][w].get("value").is_none() && d.body["widgets"][w].get("points").is_none());
    }
    let d = as_(&s, &p.boss, Method::GET, "/api/v1/dashboards/accounts/data", None).await.expect(200);
    assert_eq!((d.body["widgets"][0]["value"].as_f64(), d.body["widgets"][1]["value"].as_f64()), (Some(3.0), Some(95000.0)), "{}", d.body);

    // Notifications render each recipient's view: staff never read the spend.
    let n = as_(&s, &p.s1, Method::GET, "/api/v1/notifications", None).await.expect(200);
    let titles: Vec<&str> = n.body["items"].as_array().unwrap().iter().map(|x| x["title"].as_str().unwrap()).collect();
    assert!(titles.contains(&"新客户 A1 年消费 ") && titles.iter().all(|t| !t.contains("200000")), "{titles:?}");

    // The form tells each user what they may do, for the browser to follow.
    let f = as_(&s, &p.s1, Method::GET, "/api/v1/forms/account", None).await.expect(200);
    assert_eq!((f.body["access"]["read"].as_str(), f.body["access"]["hidden"][0].as_str()), (Some("own"), Some("annual_spend")));

    // Explain: which role, scope and rule decide, record by record, field by field.
    let ex = s.get(&format!("/api/v1/permissions/explain?user=s1@t.cn&form=account&record={}", ids["A2"])).await.expect(200).body;
    assert_eq!((ex["role"].as_str(), ex["relation"].as_str(), ex["rule"].as_str()), (Some("staff"), Some("other"), Some("/permissions/staff")));
    assert_eq!(ex["operations"]["read"]["allowed"], false);
    assert!(ex["operations"]["read"]["why"].as_str().unwrap().contains("their own"), "{ex}");
    let ex = s.get(&format!("/api/v1/permissions/explain?user=boss@t.cn&form=account&record={}", ids["A2"])).await.expect(200).body;
    assert_eq!((ex["relation"].as_str(), ex["operations"]["write"]["allowed"].as_bool()), (Some("team"), Some(true)));
    let ex = s.get(&format!("/api/v1/permissions/explain?user=s1@t.cn&form=account&record={}", ids["A1"])).await.expect(200).body;
    assert_eq!(ex["fields"]["annual_spend"]["read"], false);
    assert!(ex["fields"]["annual_spend"]["why"].as_str().unwrap().contains("hidden"), "{ex}");
    assert_eq!((ex["fields"]["level"]["read"].as_bool(), ex["fields"]["level"]["write"].as_bool()), (Some(true), Some(false)));
    assert_eq!(ex["fields"]["name"]["write"], true);
    as_(&s, &p.s1, Method::GET, "/api/v1/permissions/explain?user=s1@t.cn&form=account", None).await.expect(403);

    // Tasks: their text names no hidden field (it may pass to others), and their outcome is written as the completer may.
    let tasks = as_(&s, &p.s1, Method::GET, "/api/v1/tasks", None).await.expect(200).body;
    let task = tasks["items"].as_array().unwrap().iter().find(|t| t["title"].as_str().unwrap().contains("A1")).unwrap_or_else(|| panic!("{tasks}")).clone();
    assert_eq!(task["title"], "回访 A1 年消费 ");
    let done = format!("/api/v1/tasks/{}/complete", task["id"].as_str().unwrap());
    let res = as_(&s, &p.s1, Method::POST, &done, Some(json!({"data": {"name": "A1 回访", "level": "VIP"}}))).await.expect(403);
    assert_eq!(res.pointers(), ["/data/level"]);
    as_(&s, &p.s1, Method::POST, &done, Some(json!({"data": {"name": "A1 回访"}}))).await.expect(200);
    s.stop().await;
}

async fn a_role_a_form_does_not_name_gets_nothing_and_read_only_roles_cannot_write(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.post("/api/v1/forms", json!({"key": "notice", "schema": {"type": "object", "properties": {"name": {"type": "string"}}},
        "permissions": {"staff": {"create": false, "read": "all", "write": "none"}}})).await.expect(201);
    let staff = s.user("s@t.cn", "staff").await;
    let manager = s.user("m@t.cn", "manager").await;
    let id = s.post("/api/v1/forms/notice/records", json!({"name": "N1"})).await.expect(201).body["id"].as_str().unwrap().to_owned();
    assert_eq!(names_in(&s, "notice", &staff, "").await, ["N1"]);
    let res = as_(&s, &staff, Method::POST, "/api/v1/forms/notice/records", Some(json!({"name": "N2"}))).await.expect(403);
    assert!(res.body["detail"].as_str().unwrap().contains("may not create"), "{}", res.body);
    // Readable but not writable: forbidden, saying why.
    let res = as_(&s, &staff, Method::PATCH, &format!("/api/v1/forms/notice/records/{id}"), Some(json!({"name": "x"}))).await.expect(403);
    assert!(res.body["detail"].as_str().unwrap().contains("may write only no notice records"), "{}", res.body);
    as_(&s, &staff, Method::DELETE, &format!("/api/v1/forms/notice/records/{id}"), None).await.expect(403);
    // The manager is not named, so gets nothing.
    let res = as_(&s, &manager, Method::GET, "/api/v1/forms/notice/records", None).await.expect(403);
    assert!(res.body["detail"].as_str().unwrap().contains("may not read"), "{}", res.body);
    as_(&s, &manager, Method::GET, &format!("/api/v1/forms/notice/records/{id}"), None).await.expect(404);
    let ex = s.get("/api/v1/permissions/explain?user=m@t.cn&form=notice").await.expect(200).body;
    assert!(ex["rule"].as_str().unwrap().contains("do not name role 'manager'"), "{ex}");
    // A bad rule is refused at its pointer, and the form in force stays.
    let res = s.put("/api/v1/forms/notice", json!({"key": "notice", "schema": {"type": "object", "properties": {"name": {"type": "string"}}},
        "permissions": {"staff": {"read": "own", "write": "all", "hidden": ["nope"]}, "admin": {}}})).await.expect(422);
    let mut got = res.pointers();
    got.sort();
    assert_eq!(got, ["/permissions/admin", "/permissions/staff/hidden/0", "/permissions/staff/write"]);
    s.stop().await;
}
