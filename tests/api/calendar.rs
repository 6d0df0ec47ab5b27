//! The calendar and the inbox: `GET /api/v1/reminders` lists the next moments
//! of moment triggers in a window, for the records the caller may read only;
//! a task completed by mistake is taken back with `reopen`.

use serde_json::json;

use crate::both;
use crate::harness::{Backend, Server};

both!(reminders_in_a_window_are_those_of_readable_records, a_completed_task_can_be_taken_back_unless_it_wrote_a_record);

async fn reminders_in_a_window_are_those_of_readable_records(b: Backend) {
    let Some(s) = Server::start_at(b, "2026-12-01T02:00:00Z").await else { return };
    s.call(reqwest::Method::POST, "/api/v1/packs?bundled=crm-starter", Some(&s.token), None, &[]).await.expect(200);
    let staff = s.user("a@example.com", "staff").await;
    let other = s.user("b@example.com", "staff").await;
    let mine = s.post("/api/v1/forms/customer/records", json!({"name": "生日客户", "phone": "13912340011", "owner": "a@example.com", "birthday": "1990-12-10"})).await.expect(201).body["id"].as_str().unwrap().to_owned();
    s.post("/api/v1/forms/customer/records", json!({"name": "别人的客户", "phone": "13912340012", "owner": "b@example.com", "birthday": "1991-12-11"})).await.expect(201);
    let window = "/api/v1/reminders?from=2026-12-01T00:00:00Z&to=2026-12-31T00:00:00Z";

    let list = s.get_as(&staff, window).await.expect(200).body;
    let birthdays: Vec<_> = list["items"].as_array().unwrap().iter().filter(|m| m["trigger"] == "birthday").collect();
    assert_eq!(birthdays.len(), 1, "only the staff member's own customer: {list}");
    assert_eq!(birthdays[0]["record_id"], mine.as_str());
    assert_eq!(birthdays[0]["title"], "生日祝福");
    assert_eq!(birthdays[0]["at"], "2026-12-10T01:00:00Z", "09:00 in Asia/Shanghai");
    assert!(s.get_as(&other, window).await.expect(200).body["items"].as_array().unwrap().iter().all(|m| m["record_id"] != mine.as_str()));
    // The admin reads every record: both birthdays.
    assert_eq!(s.get(window).await.expect(200).body["items"].as_array().unwrap().iter().filter(|m| m["trigger"] == "birthday").count(), 2);

    // A window outside the moments is empty; a bad or too long one is 400 naming the parameter.
    assert!(s.get("/api/v1/reminders?from=2026-12-11T00:00:00Z&to=2026-12-11T00:00:01Z").await.expect(200).body["items"].as_array().unwrap().is_empty());
    assert_eq!(s.get("/api/v1/reminders?from=yesterday&to=2026-12-31T00:00:00Z").await.expect(400).body["param"], "from");
    assert_eq!(s.get("/api/v1/reminders?from=2026-01-01T00:00:00Z&to=2026-12-31T00:00:00Z").await.expect(400).body["param"], "to");
    s.stop().await;
}


async fn a_completed_task_can_be_taken_back_unless_it_wrote_a_record(b: Backend) {
    let Some(s) = Server::start_at(b, "2026-12-01T02:00:00Z").await else { return };
    s.call(reqwest::Method::POST, "/api/v1/packs?bundled=crm-starter", Some(&s.token), None, &[]).await.expect(200);
    let id = s.post("/api/v1/forms/customer/records", json!({"name": "交接客户", "phone": "13912340013", "owner": crate::harness::ADMIN, "quote_amount": 1000})).await.expect(201).body["id"].as_str().unwrap().to_owned();
    let inst = s.get(&format!("/api/v1/forms/customer/records/{id}/workflows")).await.expect(200).body["items"].as_array().unwrap().iter().find(|i| i["workflow"] == "pipeline").unwrap()["id"].as_str().unwrap().to_owned();
    for step in ["contact", "discover", "propose", "quote", "win"] {
        s.post(&format!("/api/v1/instances/{inst}/transitions/{step}"), json!({})).await.expect(200);
    }
    let tasks = s.get(&format!("/api/v1/tasks?record={id}&assignee=all")).await.expect(200).body;
    let task = tasks["items"].as_array().unwrap().iter().find(|t| t["title"].as_str().unwrap().starts_with("交接")).unwrap()["id"].as_str().unwrap().to_owned();
    let staff = s.user("a@example.com", "staff").await;

    s.post(&format!("/api/v1/tasks/{task}/complete"), json!({})).await.expect(200);
    s.call(reqwest::Method::POST, &format!("/api/v1/tasks/{task}/reopen"), Some(&staff), None, &[]).await.expect(404);
    let open = s.post(&format!("/api/v1/tasks/{task}/reopen"), json!({})).await.expect(200).body;
    assert_eq!(open["status"], "open");
    assert!(open["completed_at"].is_null(), "{open}");
    let again = s.post(&format!("/api/v1/tasks/{task}/reopen"), json!({})).await.expect(409);
    assert_eq!(again.body["type"], "https://trellis.dev/problems/conflict");
    s.post(&format!("/api/v1/tasks/{task}/complete"), json!({})).await.expect(200);
    s.stop().await;
}
