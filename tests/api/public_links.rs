//! Public form links (外链表单) through the API: a staff member makes a
//! create link and an update link on a form where their role hides
//! `budget` and makes `level` read-only; anonymous callers submit through
//! them. Covered: create, update, an extra field, bad values, tampered
//! tokens, expiry, revocation, a flood from one address, the page itself,
//! and the history and audit entries naming the link and its maker.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::harness::{Backend, Response, Server};

both!(anyone_with_a_create_link_adds_a_record_with_only_its_fields, an_update_link_is_signed_for_one_record, links_expire_are_revoked_and_throttle_a_flood);

const START: &str = "2026-05-01T08:00:00Z";

fn lead_form() -> Value {
    json!({
        "key": "lead", "title": "线索",
        "schema": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "title": "姓名", "minLength": 1},
            "phone": {"type": "string", "title": "手机", "pattern": "^1[0-9]{10}$"},
            "email": {"type": "string", "title": "邮箱"},
            "budget": {"type": "number", "title": "预算"},
            "level": {"type": "string", "title": "等级"}
        }},
        "permissions": {"staff": {"create": true, "read": "own", "write": "own", "hidden": ["budget"], "readonly": ["level"]}}
    })
}

/// An anonymous call: no token, as a customer's phone makes it.
async fn anon(s: &Server, method: Method, path: &str, body: Option<Value>) -> Response {
    s.call(method, path, None, body.as_ref(), &[]).await
}

fn token_of(url: &Value) -> String {
    url.as_str().and_then(|u| u.strip_prefix("/f/")).unwrap_or_else(|| panic!("a link URL is /f/TOKEN, not {url}")).to_owned()
}

async fn user_id(s: &Server, email: &str) -> String {
    let users = s.get("/api/v1/users").await.expect(200).body;
    users["items"].as_array().unwrap().iter().find(|u| u["email"] == email).unwrap()["id"].as_str().unwrap().to_owned()
}

async fn setup(b: Backend) -> Option<(Server, String)> {
    let s = Server::start_at(b, START).await?;
    s.post("/api/v1/forms", lead_form()).await.expect(201);
    let staff = s.user("sales@t.cn", "staff").await;
    Some((s, staff))
}

async fn anyone_with_a_create_link_adds_a_record_with_only_its_fields(b: Backend) {
    let Some((s, staff)) = setup(b).await else { return };
    let links = "/api/v1/forms/lead/public-links";

    // A link can only carry fields its maker may write, and every field the form requires.
    for (body, pointer, code) in [
        (json!({"fields": ["name", "budget"]}), "/fields/1", "readonly"),
        (json!({"fields": ["name", "level"]}), "/fields/1", "readonly"),
        (json!({"fields": ["name", "nope"]}), "/fields/1", "unknown_field"),
        (json!({"fields": ["phone"]}), "/fields", "required"),
        (json!({"fields": [], "mode": "update"}), "/fields", "minItems"),
        (json!({"fields": ["name"], "expires_at": "2026-04-30T00:00:00Z"}), "/expires_at", "past"),
        (json!({"fields": ["name"], "mode": "delete"}), "/mode", "enum"),
    ] {
        let res = s.post_as(&staff, links, body.clone()).await.expect(422);
        assert_eq!(res.pointers(), [pointer], "{body}: {}", res.body);
        assert_eq!(res.body["errors"][0]["code"], code, "{body}: {}", res.body);
    }
    // Making links needs a session; so does listing them.
    anon(&s, Method::POST, links, Some(json!({"fields": ["name"]}))).await.expect(401);
    anon(&s, Method::GET, links, None).await.expect(401);

    let made = s.post_as(&staff, links, json!({"fields": ["name", "phone"], "title": "预约登记", "expires_at": "2026-05-08T00:00:00Z"})).await.expect(201);
    assert_eq!((made.body["mode"].as_str(), made.body["fields"].clone()), (Some("create"), json!(["name", "phone"])));
    let token = token_of(&made.body["url"]);
    let api = format!("/api/v1/public/{token}");

    // The page and its form, without signing in.
    let page = anon(&s, Method::GET, &format!("/f/{token}"), None).await.expect(200);
    assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"), "{:?}", page.headers);
    assert_eq!(page.headers["referrer-policy"], "no-referrer", "the token must not leak to other sites");
    assert!(page.body.as_str().unwrap().contains("viewport"), "a phone-sized page");
    let form = anon(&s, Method::GET, &api, None).await.expect(200).body;
    assert_eq!(form["title"], "预约登记");
    let fields: Vec<(&str, &str, bool)> = form["fields"].as_array().unwrap().iter().map(|f| (f["key"].as_str().unwrap(), f["title"].as_str().unwrap(), f["required"].as_bool().unwrap())).collect();
    assert_eq!(fields, [("name", "姓名", true), ("phone", "手机", false)]);
    assert_eq!(form["fields"][1]["schema"]["pattern"], "^1[0-9]{10}$");

    // A submission makes a record owned by the link's maker; the answer tells nothing else.
    let res = anon(&s, Method::POST, &api, Some(json!({"name": "张三", "phone": "13800000000"}))).await.expect(201);
    assert_eq!(res.body.as_object().unwrap().keys().collect::<Vec<_>>(), ["id", "mode"]);
    let id = res.body["id"].as_str().unwrap().to_owned();
    let record = s.get(&format!("/api/v1/forms/lead/records/{id}")).await.expect(200).body;
    assert_eq!(record["data"], json!({"name": "张三", "phone": "13800000000"}));
    assert_eq!(record["owner"], user_id(&s, "sales@t.cn").await);
    // …which the maker sees in their own list, as a record of theirs.
    let mine = s.get_as(&staff, "/api/v1/forms/lead/records").await.expect(200).body;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    let history = s.get(&format!("/api/v1/forms/lead/records/{id}/history")).await.expect(200).body;
    assert_eq!(history["items"][0]["actor_email"], "public link: 预约登记", "{history}");

    // Fields beyond the link's are refused by name, even ones the maker may write.
    for extra in ["budget", "email", "level"] {
        let res = anon(&s, Method::POST, &api, Some(json!({"name": "李四", extra: "x"}))).await.expect(403);
        assert_eq!(res.pointers(), [format!("/{extra}")], "{}", res.body);
        assert_eq!(res.body["errors"][0]["code"], "not_in_link");
    }
    // Values are checked as on every write path.
    let res = anon(&s, Method::POST, &api, Some(json!({"phone": "12"}))).await.expect(422);
    let mut pointers = res.pointers();
    pointers.sort();
    assert_eq!(pointers, ["/name", "/phone"], "{}", res.body);
    anon(&s, Method::POST, &api, Some(json!(["张三"]))).await.expect(422);
    assert_eq!(s.get("/api/v1/forms/lead/records/count").await.expect(200).body["count"], 1, "refused submissions store nothing");

    // A guessed or altered token opens nothing.
    let mut tampered = token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == '0' { '1' } else { '0' });
    for bad in [tampered.as_str(), "nonsense", "0190f0c0e1a27d5e8a5c3b1f2e4d6a7b.00", ""] {
        let res = anon(&s, Method::GET, &format!("/api/v1/public/{bad}"), None).await;
        assert_eq!(res.status, 404, "{bad}: {}", res.body);
        anon(&s, Method::POST, &format!("/api/v1/public/{bad}"), Some(json!({"name": "x"}))).await.expect(404);
    }

    // The maker and admins list the link; another staff member does not see it.
    let other = s.user("other@t.cn", "staff").await;
    assert!(s.get_as(&other, links).await.expect(200).body["items"].as_array().unwrap().is_empty());
    let listed = s.get_as(&staff, links).await.expect(200).body;
    assert_eq!((listed["items"][0]["id"].clone(), listed["items"][0]["url"].clone()), (made.body["id"].clone(), made.body["url"].clone()));
    assert_eq!(s.get(links).await.expect(200).body["items"].as_array().unwrap().len(), 1);

    // The audit log names who made the link, and each submission.
    let log = s.get("/api/v1/audit").await.expect(200).body;
    let entries: Vec<(&str, &str)> = log["items"].as_array().unwrap().iter().filter(|e| e["action"].as_str().unwrap().starts_with("public_")).map(|e| (e["action"].as_str().unwrap(), e["actor_email"].as_str().unwrap_or(""))).collect();
    let link_actor = format!("public link {}", made.body["id"].as_str().unwrap());
    assert_eq!(entries, [("public_submitted", link_actor.as_str()), ("public_link_created", "sales@t.cn")], "{log}");
    s.stop().await;
}

async fn an_update_link_is_signed_for_one_record(b: Backend) {
    let Some((s, staff)) = setup(b).await else { return };
    let mut ids = Vec::new();
    for name in ["王五", "赵六"] {
        let r = s.post_as(&staff, "/api/v1/forms/lead/records", json!({"name": name, "phone": "13900000000", "email": "old@t.cn"})).await.expect(201);
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    // A record the maker may not write cannot get a link of theirs.
    let foreign = s.post("/api/v1/forms/lead/records", json!({"name": "别人的", "budget": 9})).await.expect(201).body["id"].as_str().unwrap().to_owned();
    s.post_as(&staff, "/api/v1/forms/lead/public-links", json!({"fields": ["phone"], "mode": "update", "record": foreign})).await.expect(404);
    s.post_as(&staff, "/api/v1/forms/lead/public-links", json!({"fields": ["phone"], "record": ids[0]})).await.expect(422);

    let made = s.post_as(&staff, "/api/v1/forms/lead/public-links", json!({"fields": ["phone", "email"], "mode": "update", "record": ids[0], "title": "更新联系方式"})).await.expect(201);
    let link = made.body["id"].as_str().unwrap().to_owned();
    let token = token_of(&made.body["url"]);
    let api = format!("/api/v1/public/{token}");

    // The customer sees their own values, and only the link's fields.
    let form = anon(&s, Method::GET, &api, None).await.expect(200).body;
    assert_eq!(form["mode"], "update");
    let values: Vec<(&str, &Value)> = form["fields"].as_array().unwrap().iter().map(|f| (f["key"].as_str().unwrap(), &f["value"])).collect();
    assert_eq!(values, [("phone", &json!("13900000000")), ("email", &json!("old@t.cn"))]);

    // They change them; an emptied input removes the value.
    anon(&s, Method::POST, &api, Some(json!({"phone": "13911112222", "email": ""}))).await.expect(200);
    let record = s.get(&format!("/api/v1/forms/lead/records/{}", ids[0])).await.expect(200).body;
    assert_eq!(record["data"], json!({"name": "王五", "phone": "13911112222"}));
    let history = s.get(&format!("/api/v1/forms/lead/records/{}/history", ids[0])).await.expect(200).body;
    assert_eq!(history["items"].as_array().unwrap().iter().map(|h| h["actor_email"].as_str().unwrap()).collect::<Vec<_>>(), ["sales@t.cn", "public link: 更新联系方式"], "{history}");
    // Nothing beyond the link's fields, and values are checked.
    let res = anon(&s, Method::POST, &api, Some(json!({"name": "改名"}))).await.expect(403);
    assert_eq!(res.pointers(), ["/name"]);
    assert_eq!(anon(&s, Method::POST, &api, Some(json!({"phone": "no"}))).await.expect(422).pointers(), ["/phone"]);
    // The other record stays as it was.
    assert_eq!(s.get(&format!("/api/v1/forms/lead/records/{}", ids[1])).await.expect(200).body["data"]["phone"], "13900000000");

    // One link, one signed URL per record: the maker asks for the next customer's.
    let url = s.get_as(&staff, &format!("/api/v1/public-links/{link}/url?record={}", ids[1])).await.expect(200).body["url"].clone();
    let second = token_of(&url);
    assert_ne!(second, token);
    anon(&s, Method::POST, &format!("/api/v1/public/{second}"), Some(json!({"phone": "13733334444"}))).await.expect(200);
    assert_eq!(s.get(&format!("/api/v1/forms/lead/records/{}", ids[1])).await.expect(200).body["data"]["phone"], "13733334444");
    // Swapping the record in a signed token breaks the signature.
    let sig = token.rsplit('.').next().unwrap();
    let swapped = format!("{}.{}.{sig}", uuid::Uuid::parse_str(&link).unwrap().simple(), uuid::Uuid::parse_str(&ids[1]).unwrap().simple());
    anon(&s, Method::POST, &format!("/api/v1/public/{swapped}"), Some(json!({"phone": "13700000000"}))).await.expect(404);
    // Not for records the maker may not write, nor for others than the maker and admins.
    s.get_as(&staff, &format!("/api/v1/public-links/{link}/url?record={foreign}")).await.expect(404);
    let other = s.user("other@t.cn", "staff").await;
    s.get_as(&other, &format!("/api/v1/public-links/{link}/url?record={}", ids[1])).await.expect(404);
    s.get(&format!("/api/v1/public-links/{link}/url?record={}", ids[1])).await.expect(200);

    // A deleted record's link opens nothing; restored, it works again.
    s.delete(&format!("/api/v1/forms/lead/records/{}", ids[0])).await.expect(204);
    anon(&s, Method::GET, &api, None).await.expect(404);
    s.post(&format!("/api/v1/forms/lead/records/{}/restore", ids[0]), json!({})).await.expect(200);
    anon(&s, Method::GET, &api, None).await.expect(200);
    s.stop().await;
}

async fn links_expire_are_revoked_and_throttle_a_flood(b: Backend) {
    let Some((s, staff)) = setup(b).await else { return };
    let links = "/api/v1/forms/lead/public-links";
    let week = s.post_as(&staff, links, json!({"fields": ["name"], "expires_at": "2026-05-08T00:00:00Z"})).await.expect(201).body;
    let open = s.post_as(&staff, links, json!({"fields": ["name"]})).await.expect(201).body;
    let (week_api, open_api) = (format!("/api/v1/public/{}", token_of(&week["url"])), format!("/api/v1/public/{}", token_of(&open["url"])));

    // A flood from one address: ten a minute go through, then 429 with Retry-After.
    for i in 0..10 {
        anon(&s, Method::POST, &open_api, Some(json!({"name": format!("刷{i}")}))).await.expect(201);
    }
    let res = anon(&s, Method::POST, &open_api, Some(json!({"name": "刷10"}))).await.expect(429);
    let wait: u64 = res.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    assert_eq!(res.body["type"], "https://trellis.dev/problems/too-many-attempts", "{}", res.body);
    // Each link counts on its own; reading the form is not throttled.
    anon(&s, Method::POST, &week_api, Some(json!({"name": "另一个链接"}))).await.expect(201);
    anon(&s, Method::GET, &open_api, None).await.expect(200);
    assert_eq!(s.get("/api/v1/forms/lead/records/count").await.expect(200).body["count"], 11, "the refused one stored nothing");
    // A minute on, the address may submit again.
    s.clock("2026-05-01T08:01:01Z").await;
    anon(&s, Method::POST, &open_api, Some(json!({"name": "一分钟后"}))).await.expect(201);

    // Expired: the form and submissions answer 410; a link without expiry goes on.
    s.clock("2026-05-08T00:00:01Z").await;
    for res in [anon(&s, Method::GET, &week_api, None).await, anon(&s, Method::POST, &week_api, Some(json!({"name": "晚了"}))).await] {
        assert_eq!((res.status.as_u16(), res.body["type"].as_str()), (410, Some("https://trellis.dev/problems/link-gone")), "{}", res.body);
        assert!(res.body["detail"].as_str().unwrap().contains("expired"), "{}", res.body);
    }
    anon(&s, Method::POST, &open_api, Some(json!({"name": "还能用"}))).await.expect(201);

    // Revoked: only its maker or an admin may switch it off; then it answers 410.
    let other = s.user("other@t.cn", "staff").await;
    let open_id = open["id"].as_str().unwrap();
    s.call(Method::DELETE, &format!("/api/v1/public-links/{open_id}"), Some(&other), None, &[]).await.expect(404);
    s.call(Method::DELETE, &format!("/api/v1/public-links/{open_id}"), Some(&staff), None, &[]).await.expect(204);
    let res = anon(&s, Method::POST, &open_api, Some(json!({"name": "撤了"}))).await.expect(410);
    assert!(res.body["detail"].as_str().unwrap().contains("switched off"), "{}", res.body);
    anon(&s, Method::GET, &open_api, None).await.expect(410);
    let listed = s.get_as(&staff, links).await.expect(200).body;
    assert!(listed["items"].as_array().unwrap().iter().any(|l| l["id"] == open["id"] && l["revoked_at"].is_string()), "{listed}");
    let log = s.get("/api/v1/audit").await.expect(200).body;
    assert!(log["items"].as_array().unwrap().iter().any(|e| e["action"] == "public_link_revoked" && e["actor_email"] == "sales@t.cn"), "{log}");

    // A link acts with its maker's rights as they are now: it stops when they lose the right to create.
    let later = s.post_as(&staff, links, json!({"fields": ["name"]})).await.expect(201).body;
    let mut form = lead_form();
    form["permissions"]["staff"]["create"] = json!(false);
    s.put("/api/v1/forms/lead", form).await.expect(200);
    anon(&s, Method::POST, &format!("/api/v1/public/{}", token_of(&later["url"])), Some(json!({"name": "没权限了"}))).await.expect(403);
    let admins = s.post(links, json!({"fields": ["name"]})).await.expect(201).body;
    anon(&s, Method::POST, &format!("/api/v1/public/{}", token_of(&admins["url"])), Some(json!({"name": "管理员的链接"}))).await.expect(201);
    s.stop().await;
}
