//! Saved list views on the server: mine by name (the same name replaces),
//! shared ones offered to my team only, deleted by their owner or an admin.

use reqwest::Method;
use serde_json::json;

use crate::both;
use crate::harness::{Backend, Server};

both!(saved_views_follow_the_user_and_shared_ones_reach_the_team);

async fn saved_views_follow_the_user_and_shared_ones_reach_the_team(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    let boss = s.user("boss@example.com", "manager").await;
    let mine = s.user("a@example.com", "staff").await;
    let mate = s.user("b@example.com", "staff").await;
    let other = s.user("c@example.com", "staff").await;
    for u in ["a@example.com", "b@example.com"] {
        s.call(Method::PUT, &format!("/api/v1/users/{u}/manager"), Some(&s.token), Some(&json!({"manager": "boss@example.com"})), &[]).await.expect(204);
    }
    let config = json!({"columns": ["name", "level"], "conds": [{"target": "level", "op": "_eq", "value": "A"}], "sort": "-annual_spend"});
    let save = |token: &str, name: &str, shared: bool| {
        let body = json!({"name": name, "config": config.clone(), "shared": shared});
        let token = token.to_owned();
        let s = &s;
        async move { s.call(Method::POST, "/api/v1/forms/customer/views", Some(&token), Some(&body), &[]).await }
    };
    let private = save(&mine, "A 级", false).await.expect(201).body;
    assert_eq!(private["config"], config);
    let shared = save(&mine, "团队 A 级", true).await.expect(201).body;
    // The same name again replaces it.
    let again = save(&mine, "A 级", false).await.expect(201).body;
    assert_eq!(again["id"], private["id"]);

    let names = |token: String| {
        let s = &s;
        async move {
            let items = s.get_as(&token, "/api/v1/forms/customer/views").await.expect(200).body["items"].clone();
            items.as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        }
    };
    assert_eq!(names(mine.clone()).await, ["A 级", "团队 A 级"]);
    assert_eq!(names(mate.clone()).await, ["团队 A 级"], "a teammate sees the shared one");
    assert_eq!(names(boss.clone()).await, ["团队 A 级"], "the manager sees it");
    assert!(names(other.clone()).await.is_empty(), "another team does not");

    // Bad input is named; another's view cannot be deleted; the owner's can.
    let bad = s.call(Method::POST, "/api/v1/forms/customer/views", Some(&mine), Some(&json!({"name": "", "config": []})), &[]).await.expect(422);
    assert_eq!(bad.pointers(), ["/name", "/config"]);
    s.call(Method::POST, "/api/v1/forms/nope/views", Some(&mine), Some(&json!({"name": "x", "config": {}})), &[]).await.expect(404);
    let id = shared["id"].as_str().unwrap();
    s.call(Method::DELETE, &format!("/api/v1/views/{id}"), Some(&mate), None, &[]).await.expect(404);
    s.call(Method::DELETE, &format!("/api/v1/views/{id}"), Some(&mine), None, &[]).await.expect(204);
    assert!(names(mate).await.is_empty());
    s.stop().await;
}
