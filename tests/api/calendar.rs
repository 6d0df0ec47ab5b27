//! The calendar's reminders: `GET /api/v1/reminders` lists the next moments
//! of moment triggers in a window, for the records the caller may read only.

use serde_json::json;

use crate::both;
use crate::harness::{Backend, Server};

both!(reminders_in_a_window_are_those_of_readable_records);

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
