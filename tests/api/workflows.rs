//! Workflows and tasks through the API, with the manual clock: the
//! follow-up pipeline and its guards (S10), the golden 72 hours (S12), lead
//! assignment (S13), the handoff (S14), the revisit plan (S15), a low NPS
//! opening a complaint (S16), and a timer that survives a restart.

use serde_json::{Value, json};

use crate::both;
use crate::harness::{PASSWORD, Server, customer_form};

const T0: &str = "2026-03-02T01:00:00Z";

both!(
    definitions_are_checked_with_pointers,
    pipeline_moves_through_its_guards,
    golden_72_hours_escalates_once_and_not_for_a_contacted_lead,
    leads_are_assigned_in_turn_or_by_region,
    handoff_task_carries_the_history_and_revisits_come_on_their_days,
    low_nps_opens_the_complaint_workflow,
    a_pending_timer_survives_a_restart,
    a_loop_of_automatic_transitions_is_refused_and_nothing_is_written,
    tasks_can_be_reassigned_commented_and_are_private,
    two_instances_fire_each_timer_once,
    deleting_a_record_ends_its_workflows_and_batches_start_them,
    a_timer_creates_and_sets_records_and_other_workflows_react,
    a_condition_starts_a_workflow_each_time_it_becomes_true,
    emails_go_out_over_smtp_once,
    a_webhook_is_retried_signed_and_delivered_once,
    private_webhook_targets_are_refused_until_a_dead_letter,
    ipv6_forms_of_loopback_webhook_targets_are_refused,
);

/// The CRM forms these scenarios use: customers, their follow-ups (rolled up
/// into `last_contact_at`) and revisits.
async fn crm(s: &Server) {
    s.crm_forms().await;
    let mut customer = customer_form();
    let props = customer["schema"]["properties"].as_object_mut().unwrap();
    props.insert("quote_amount".into(), json!({"type": "number", "format": "money"}));
    props.insert("region".into(), json!({"type": "string"}));
    customer["rollups"] = json!({"last_contact_at": {"from": "follow_up", "via": "customer", "op": "max", "field": "at"}});
    s.post("/api/v1/forms", json!({"key": "follow_up", "title": "跟进记录", "schema": {"type": "object", "required": ["customer", "at"], "properties": {
        "customer": {"type": "string", "x-link": "customer"}, "at": {"type": "string", "format": "date-time"}, "topic": {"type": "string"}}}}))
        .await
        .expect(201);
    s.put("/api/v1/forms/customer", customer).await.expect(200);
    s.post("/api/v1/forms", json!({"key": "revisit", "title": "回访", "schema": {"type": "object", "required": ["satisfaction", "nps"], "properties": {
        "customer": {"type": "string", "x-link": "customer"},
        "satisfaction": {"type": "integer", "minimum": 1, "maximum": 5, "title": "满意度"},
        "nps": {"type": "integer", "minimum": 0, "maximum": 10, "title": "NPS"},
        "comment": {"type": "string"}}}}))
        .await
        .expect(201);
    for (key, template) in [
        ("escalation", include_str!("../../templates/crm-starter/messages/escalation.jinja")),
        ("welcome", include_str!("../../templates/crm-starter/messages/welcome.jinja")),
    ] {
        s.post("/api/v1/messages", json!({"key": key, "template": template})).await.expect(201);
    }
}

/// The bundled CRM pack's definitions: the tests run exactly what ships.
fn pack(name: &str) -> Value {
    let text = match name {
        "pipeline" => include_str!("../../templates/crm-starter/workflows/pipeline.json"),
        "revisit_plan" => include_str!("../../templates/crm-starter/workflows/revisit_plan.json"),
        "complaint" => include_str!("../../templates/crm-starter/workflows/complaint.json"),
        "lead_assignment" => include_str!("../../templates/crm-starter/workflows/lead_assignment.json"),
        other => panic!("no workflow {other} in the pack"),
    };
    serde_json::from_str(text).unwrap()
}

fn revisit_plan() -> Value {
    pack("revisit_plan")
}

fn pipeline() -> Value {
    pack("pipeline")
}

async fn workflows(s: &Server) {
    crm(s).await;
    s.post("/api/v1/workflows", revisit_plan()).await.expect(201);
    s.post("/api/v1/workflows", pipeline()).await.expect(201);
}

async fn customer(s: &Server, token: &str, name: &str, phone: &str) -> String {
    let r = s.post_as(token, "/api/v1/forms/customer/records", json!({"name": name, "phone": phone, "email": format!("{phone}@example.com")})).await.expect(201);
    r.body["id"].as_str().unwrap().to_owned()
}

/// The record's instance of `workflow`.
async fn instance(s: &Server, form: &str, id: &str, workflow: &str) -> Value {
    let list = s.get(&format!("/api/v1/forms/{form}/records/{id}/workflows")).await.expect(200);
    list.body["items"].as_array().unwrap().iter().find(|i| i["workflow"] == workflow).cloned().unwrap_or(Value::Null)
}

async fn take(s: &Server, inst: &Value, key: &str) -> crate::harness::Response {
    s.post(&format!("/api/v1/instances/{}/transitions/{key}", inst["id"].as_str().unwrap()), json!({})).await
}

async fn tasks(s: &Server, token: &str, query: &str) -> Vec<Value> {
    s.get_as(token, &format!("/api/v1/tasks{query}")).await.expect(200).body["items"].as_array().unwrap().clone()
}

async fn notifications(s: &Server, token: &str) -> Vec<Value> {
    s.get_as(token, "/api/v1/notifications").await.expect(200).body["items"].as_array().unwrap().clone()
}

/// A staff user in a manager's team; returns (staff token, manager token).
async fn team(s: &Server, staff: &str, manager: &str) -> (String, String) {
    let m = s.user(manager, "manager").await;
    let t = s.user(staff, "staff").await;
    s.put(&format!("/api/v1/users/{staff}/manager"), json!({"manager": manager})).await.expect(204);
    (t, m)
}

async fn definitions_are_checked_with_pointers(b: crate::harness::Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    crm(&s).await;
    let mut bad = pipeline();
    bad["initial"] = json!("start");
    bad["transitions"][0]["to"] = json!("nowhere");
    bad["transitions"][4]["guard"] = json!("record.quote_amount >");
    bad["states"]["new_lead"]["timers"][0]["actions"][0]["message"] = json!("no_such_message");
    bad["states"]["won"]["on_enter"][0]["create_task"]["assignee"] = json!("role:pilot");
    bad["states"]["won"]["on_enter"][2]["start_workflow"] = json!("missing_plan");
    bad["states"]["dormant"] = json!({});
    let res = s.post("/api/v1/workflows", bad.clone()).await.expect(422);
    let pointers = res.pointers();
    // The same problems for a zh-CN reader: the same pointers, each said in Chinese (a script's own error is framed, not translated).
    let zh = s.call(reqwest::Method::POST, "/api/v1/workflows", Some(&s.token), Some(&bad), &[("accept-language", "zh-CN")]).await.expect(422);
    assert_eq!(zh.pointers(), pointers);
    for e in zh.body["errors"].as_array().unwrap().iter().filter(|e| e["code"] != "script" && e["code"] != "template") {
        assert!(e["message"].as_str().unwrap().chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "not in Chinese: {e}");
    }
    for p in [
        "/initial",
        "/transitions/0/to",
        "/transitions/4/guard",
        "/states/new_lead/timers/0/actions/0/message",
        "/states/won/on_enter/0/create_task/assignee",
        "/states/won/on_enter/2/start_workflow",
    ] {
        assert!(pointers.contains(&p.to_owned()), "{p} missing: {}", res.body);
    }
    let guard = res.body["errors"].as_array().unwrap().iter().find(|e| e["pointer"] == "/transitions/4/guard").unwrap();
    assert_eq!(guard["line"], 1, "{guard}");
    assert!(!guard["message"].as_str().unwrap().contains("line 1"), "the line is said once: {guard}");

    // Unreachable states are named once the rest checks.
    s.post("/api/v1/workflows", revisit_plan()).await.expect(201);
    let mut unreachable = pipeline();
    unreachable["states"]["dormant"] = json!({"title": "沉睡"});
    let res = s.post("/api/v1/workflows", unreachable).await.expect(422);
    assert_eq!(res.pointers(), vec!["/states/dormant"], "{}", res.body);
    assert!(res.body["errors"][0]["message"].as_str().unwrap().contains("no transition leads"));

    // A good one is saved; a bad change is refused and the version in force stays.
    s.post("/api/v1/workflows", pipeline()).await.expect(201);
    s.post("/api/v1/workflows", pipeline()).await.expect(409);
    let mut broken = pipeline();
    broken["transitions"][2]["from"] = json!(["contacted", "won"]);
    s.put("/api/v1/workflows/pipeline", broken).await.expect(422);
    let current = s.get("/api/v1/workflows/pipeline").await.expect(200);
    assert_eq!(current.body["version"], 1);
    assert_eq!(current.body["definition"]["transitions"][2]["from"], "contacted");
    let mut changed = pipeline();
    changed["title"] = json!("销售漏斗");
    assert_eq!(s.put("/api/v1/workflows/pipeline", changed).await.expect(200).body["version"], 2);
    let list = s.get("/api/v1/workflows").await.expect(200);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);

    // Staff cannot change workflows; a message that does not parse names its line.
    let staff = s.user("li@example.com", "staff").await;
    s.call(reqwest::Method::PUT, "/api/v1/workflows/pipeline", Some(&staff), Some(&pipeline()), &[]).await.expect(403);
    let res = s.post("/api/v1/messages", json!({"key": "broken", "template": "subject: hi\n{% if record.name %}unclosed"})).await.expect(422);
    assert_eq!(res.pointers(), vec!["/template"]);
    assert!(res.body["errors"][0]["message"].as_str().unwrap().starts_with("line 2"), "{}", res.body);
    s.stop().await;
}

async fn pipeline_moves_through_its_guards(b: crate::harness::Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    workflows(&s).await;
    let id = customer(&s, &s.token, "华为技术", "13800000001").await;
    let inst = instance(&s, "customer", &id, "pipeline").await;
    assert_eq!(inst["state"], "new_lead");
    assert_eq!(inst["state_title"], "新线索");
    let offered: Vec<&str> = inst["transitions"].as_array().unwrap().iter().map(|t| t["key"].as_str().unwrap()).collect();
    assert_eq!(offered, vec!["contact", "auto_contact", "lose"]);
    assert!(inst["next_timer_at"].as_str().unwrap().starts_with("2026-03-05T01:00:00"), "{inst}");

    // Not from here: 409 naming what is open; unknown: 404.
    let res = take(&s, &inst, "quote").await.expect(409);
    assert!(res.body["detail"].as_str().unwrap().contains("contact, auto_contact, lose"), "{}", res.body);
    take(&s, &inst, "fly").await.expect(404);

    for step in ["contact", "discover", "propose"] {
        take(&s, &inst, step).await.expect(200);
    }
    let inst = instance(&s, "customer", &id, "pipeline").await;
    assert_eq!(inst["state"], "proposal");
    assert_eq!(inst["next_timer_at"], Value::Null, "leaving new_lead cancelled its timer");
    let quote = inst["transitions"].as_array().unwrap().iter().find(|t| t["key"] == "quote").unwrap();
    assert_eq!(quote["blocked"], "报价需要填写金额", "the record page can show why: {quote}");

    // The guard blocks with its message, then passes once the amount is there.
    let res = take(&s, &inst, "quote").await.expect(422);
    assert_eq!(res.body["type"], "https://trellis.dev/problems/guard-failed");
    assert_eq!(res.body["detail"], "报价需要填写金额");
    s.patch(&format!("/api/v1/forms/customer/records/{id}"), json!({"quote_amount": 58000}), None).await.expect(200);
    assert_eq!(take(&s, &inst, "quote").await.expect(200).body["state"], "negotiation");
    let won = take(&s, &inst, "win").await.expect(200);
    assert_eq!(won.body["status"], "finished");
    take(&s, &inst, "lose").await.expect(409);

    // Every move is in the record's history, with the actor and the time.
    let history = s.get(&format!("/api/v1/forms/customer/records/{id}/history")).await.expect(200);
    let moves: Vec<(String, String)> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["op"] == "transition" && h["changes"].get("workflows.pipeline").is_some())
        .map(|h| (h["changes"]["workflows.pipeline"]["to"].as_str().unwrap().to_owned(), h["actor_email"].as_str().unwrap_or_default().to_owned()))
        .collect();
    let states: Vec<&str> = moves.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(states, vec!["new_lead", "contacted", "needs", "proposal", "negotiation", "won"]);
    assert!(moves.iter().all(|(_, who)| who == crate::harness::ADMIN), "{moves:?}");

    // Winning started the revisit plan and handed a welcome email to the outbox.
    assert_eq!(instance(&s, "customer", &id, "revisit_plan").await["state"], "maintaining");
    let outbox = s.get(&format!("/api/v1/deliveries?record={id}")).await.expect(200);
    let items = outbox.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", outbox.body);
    assert_eq!(items[0]["channel"], "email");
    assert_eq!(items[0]["target"], "13800000001@example.com");
    assert_eq!(items[0]["subject"], "欢迎，华为技术");
    assert_eq!(items[0]["status"], "pending");
    s.stop().await;
}

async fn golden_72_hours_escalates_once_and_not_for_a_contacted_lead(b: crate::harness::Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    workflows(&s).await;
    let (staff, manager) = team(&s, "li@example.com", "wang@example.com").await;
    let silent = customer(&s, &staff, "沉默客户", "13800000002").await;
    let touched = customer(&s, &staff, "已跟进客户", "13800000003").await;

    // A follow-up 10 hours in rolls `last_contact_at` up to the customer, whose
    // pipeline moves on by itself (`when`), cancelling its 72-hour timer.
    s.clock("2026-03-02T11:00:00Z").await;
    s.post_as(&staff, "/api/v1/forms/follow_up/records", json!({"customer": touched, "at": "2026-03-02T11:00:00Z", "topic": "首次电话"})).await.expect(201);
    assert_eq!(instance(&s, "customer", &touched, "pipeline").await["state"], "contacted");
    assert_eq!(instance(&s, "customer", &silent, "pipeline").await["state"], "new_lead");

    s.clock("2026-03-05T00:59:00Z").await;
    assert!(notifications(&s, &manager).await.is_empty(), "not yet 72 hours");
    let moved = s.clock("2026-03-05T01:00:00Z").await;
    assert_eq!(moved["timers_fired"], 1, "{moved}");
    // The escalation, and the new task's own notice.
    let notes = notifications(&s, &manager).await;
    let titles: Vec<&str> = notes.iter().map(|n| n["title"].as_str().unwrap()).collect();
    assert_eq!(titles, vec!["新任务：72小时未联系：沉默客户", "黄金72小时：沉默客户 仍未联系"], "{notes:?}");
    assert!(notes.iter().all(|n| n["record_id"] == silent.as_str()));
    assert!(notes[1]["body"].as_str().unwrap().contains("13800000002"));
    let mine = tasks(&s, &manager, "").await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["title"], "72小时未联系：沉默客户");
    assert_eq!(mine[0]["assignee"], "wang@example.com");
    assert_eq!(mine[0]["due_at"].as_str().unwrap(), "2026-03-06T01:00:00Z");

    // Fired once: later ticks send nothing more.
    assert_eq!(s.clock("2026-03-12T01:00:00Z").await["timers_fired"], 0);
    assert_eq!(notifications(&s, &manager).await.len(), 2);
    assert!(notifications(&s, &staff).await.is_empty(), "the escalation goes to the manager, not the owner");
    let overdue = tasks(&s, &manager, "").await;
    assert_eq!(overdue[0]["overdue"], true);
    s.stop().await;
}

async fn leads_are_assigned_in_turn_or_by_region(b: crate::harness::Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    crm(&s).await;
    let mut staff = Vec::new();
    for e in ["a@example.com", "b@example.com", "c@example.com"] {
        s.user(e, "staff").await;
        staff.push(s.engine.store().find_user(e).await.unwrap().unwrap().id.to_string());
    }
    let east = s.user("east@example.com", "manager").await;
    let _ = east;
    let east_id = s.engine.store().find_user("east@example.com").await.unwrap().unwrap().id.to_string();
    // A one-shot workflow: its initial state is final, so starting it just runs on_enter.
    s.post("/api/v1/workflows", pack("lead_assignment")).await.expect(201);
    let mut owners = Vec::new();
    for (i, region) in ["华南", "华北", "华东", "西南", "华南"].iter().enumerate() {
        let r = s.post("/api/v1/forms/customer/records", json!({"name": format!("线索{i}"), "phone": format!("1390000000{i}"), "region": region})).await.expect(201);
        // The answer to the write already shows what the workflow did.
        assert_eq!(r.body["owner"], r.body["data"]["owner"], "the owner field and the owner agree");
        let now = s.get(&format!("/api/v1/forms/customer/records/{}", r.body["id"].as_str().unwrap())).await.expect(200);
        assert_eq!(now.body["rev"], r.body["rev"]);
        assert_eq!(now.headers["etag"], r.headers["etag"]);
        owners.push(r.body["data"]["owner"].as_str().unwrap().to_owned());
    }
    assert_eq!(owners, vec![staff[0].clone(), staff[1].clone(), east_id, staff[2].clone(), staff[0].clone()]);
    let b_token = s.engine.login("b@example.com", PASSWORD).await.unwrap().0;
    let notes = notifications(&s, &b_token).await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["title"], "新线索：线索1");
    s.stop().await;
}

async fn handoff_task_carries_the_history_and_revisits_come_on_their_days(b: crate::harness::Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    workflows(&s).await;
    let (staff, manager) = team(&s, "li@example.com", "wang@example.com").await;
    let id = customer(&s, &staff, "万科", "13800000004").await;
    s.patch(&format!("/api/v1/forms/customer/records/{id}"), json!({"quote_amount": 120000}), None).await.expect(200);
    let inst = instance(&s, "customer", &id, "pipeline").await;
    for step in ["contact", "discover", "propose", "quote", "win"] {
        take(&s, &inst, step).await.expect(200);
    }

    // S14: the handoff waits for the managers, with the whole story attached.
    let handoff = tasks(&s, &manager, "").await;
    assert_eq!(handoff.len(), 1, "{handoff:?}");
    assert_eq!(handoff[0]["title"], "交接：万科");
    assert_eq!(handoff[0]["assignee_role"], "manager");
    assert_eq!(handoff[0]["description"], "成交金额 120000");
    let detail = s.get_as(&manager, &format!("/api/v1/tasks/{}", handoff[0]["id"].as_str().unwrap())).await.expect(200);
    let ops: Vec<&str> = detail.body["history"].as_array().unwrap().iter().map(|h| h["op"].as_str().unwrap()).collect();
    assert_eq!(ops.first(), Some(&"create"));
    assert!(ops.iter().filter(|o| **o == "transition").count() >= 7, "pipeline moves and the revisit plan's start: {ops:?}");
    s.post_as(&manager, &format!("/api/v1/tasks/{}/complete", handoff[0]["id"].as_str().unwrap()), json!({})).await.expect(200);
    assert!(tasks(&s, &manager, "").await.is_empty());

    // S15: revisits at +7, +30 and +90 days, then every quarter, for the owner.
    let revisits = |q: &'static str| {
        let s = &s;
        let staff = staff.clone();
        async move { tasks(s, &staff, q).await }
    };
    s.clock("2026-03-08T23:00:00Z").await;
    assert!(revisits("?status=any").await.is_empty(), "day 6: nothing yet");
    s.clock("2026-03-09T01:00:00Z").await;
    let first = revisits("").await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["title"], "7天回访：万科");
    assert_eq!(first[0]["form"], "revisit");
    assert_eq!(first[0]["due_at"], "2026-03-12T01:00:00Z");
    let done = s.post_as(&staff, &format!("/api/v1/tasks/{}/complete", first[0]["id"].as_str().unwrap()), json!({"data": {"satisfaction": 5, "nps": 9}})).await.expect(200);
    let outcome = done.body["outcome_id"].as_str().unwrap().to_owned();
    let revisit = s.get(&format!("/api/v1/forms/revisit/records/{outcome}")).await.expect(200);
    assert_eq!(revisit.body["data"]["customer"], id.as_str(), "the outcome links to the customer");
    s.post_as(&staff, &format!("/api/v1/tasks/{}/complete", first[0]["id"].as_str().unwrap()), json!({"data": {"satisfaction": 5, "nps": 9}})).await.expect(409);

    s.clock("2026-04-01T01:00:00Z").await;
    assert_eq!(revisits("").await.iter().map(|t| t["title"].as_str().unwrap().to_owned()).collect::<Vec<_>>(), vec!["30天回访：万科"]);
    s.clock("2026-05-31T01:00:00Z").await;
    assert_eq!(revisits("").await.len(), 2, "day 90: the first quarterly revisit");
    s.clock("2026-08-29T01:00:00Z").await;
    let open = revisits("").await;
    assert_eq!(open.len(), 3, "day 180: the second");
    assert_eq!(open.iter().filter(|t| t["title"] == "季度回访：万科").count(), 2);
    // Due-date filters.
    assert_eq!(revisits("?due_before=2026-06-05").await.len(), 2);
    assert_eq!(revisits("?due_after=2026-08-01").await.len(), 1);
    assert_eq!(revisits("?status=done").await.len(), 1);

    // Ending the plan cancels its timers: no more revisits.
    let plan = instance(&s, "customer", &id, "revisit_plan").await;
    take(&s, &plan, "stop").await.expect(200);
    s.clock("2027-03-01T01:00:00Z").await;
    assert_eq!(revisits("").await.len(), 3);
    s.stop().await;
}

async fn low_nps_opens_the_complaint_workflow(b: crate::harness::Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    workflows(&s).await;
    s.post("/api/v1/workflows", pack("complaint")).await.expect(201);
    let (staff, manager) = team(&s, "li@example.com", "wang@example.com").await;
    let happy = customer(&s, &staff, "满意客户", "13800000005").await;
    let unhappy = customer(&s, &staff, "不满客户", "13800000006").await;
    for id in [&happy, &unhappy] {
        s.post(&format!("/api/v1/forms/customer/records/{id}/workflows"), json!({"workflow": "revisit_plan"})).await.expect(201);
    }
    s.post(&format!("/api/v1/forms/customer/records/{happy}/workflows"), json!({"workflow": "revisit_plan"})).await.expect(409);
    s.clock("2026-03-09T01:00:00Z").await;
    let open = tasks(&s, &staff, "").await;
    assert_eq!(open.len(), 2);
    for t in &open {
        let nps = if t["record_id"] == happy.as_str() { 9 } else { 6 };
        // A revisit out of range is refused at its field, and the task stays open.
        let bad = s.post_as(&staff, &format!("/api/v1/tasks/{}/complete", t["id"].as_str().unwrap()), json!({"data": {"satisfaction": 9, "nps": nps}})).await.expect(422);
        assert_eq!(bad.pointers(), vec!["/data/satisfaction"]);
        s.post_as(&staff, &format!("/api/v1/tasks/{}/complete", t["id"].as_str().unwrap()), json!({"data": {"satisfaction": 3, "nps": nps}})).await.expect(200);
    }
    let done = tasks(&s, &staff, "?status=done").await;
    let outcome = |cust: &str| done.iter().find(|t| t["record_id"] == cust).unwrap()["outcome_id"].as_str().unwrap().to_owned();
    let (good, bad) = (outcome(&happy), outcome(&unhappy));
    assert_eq!(instance(&s, "revisit", &good, "complaint").await, Value::Null, "NPS 9 opens nothing");
    let complaint = instance(&s, "revisit", &bad, "complaint").await;
    assert_eq!(complaint["state"], "open", "NPS 6 opens the complaint workflow");
    // (The manager also has the pipeline's 72-hour escalations of these two leads.)
    let handling: Vec<Value> = tasks(&s, &manager, "").await.into_iter().filter(|t| t["title"].as_str().unwrap().contains("投诉")).collect();
    assert_eq!(handling.len(), 1);
    assert_eq!(handling[0]["title"], "处理投诉（NPS 6）");
    assert_eq!(handling[0]["record_form"], "revisit");

    // The SLA: 24 hours later the admins hear of it; only a manager may resolve it.
    s.clock("2026-03-10T01:00:00Z").await;
    let notes = notifications(&s, &s.token).await;
    assert_eq!(notes.iter().filter(|n| n["title"] == "投诉超过24小时未处理").count(), 1);
    let id = complaint["id"].as_str().unwrap();
    s.post_as(&staff, &format!("/api/v1/instances/{id}/transitions/resolve"), json!({})).await.expect(403);
    assert_eq!(s.post_as(&manager, &format!("/api/v1/instances/{id}/transitions/resolve"), json!({})).await.expect(200).body["state"], "resolved");
    s.stop().await;
}

async fn a_pending_timer_survives_a_restart(b: crate::harness::Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    workflows(&s).await;
    let (staff, _) = team(&s, "li@example.com", "wang@example.com").await;
    let id = customer(&s, &staff, "重启客户", "13800000007").await;
    s.clock("2026-03-03T01:00:00Z").await;
    // The process goes away a day in, and comes back (a new engine, empty caches) two days later.
    let s = s.restart_at("2026-03-04T01:00:00Z").await;
    let manager = s.engine.login("wang@example.com", PASSWORD).await.unwrap().0;
    assert!(notifications(&s, &manager).await.is_empty());
    assert_eq!(s.clock("2026-03-05T02:00:00Z").await["timers_fired"], 1);
    let escalations = |notes: Vec<Value>| notes.into_iter().filter(|n| n["title"].as_str().unwrap().starts_with("黄金72小时")).collect::<Vec<_>>();
    let notes = escalations(notifications(&s, &manager).await);
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["record_id"], id.as_str());
    assert_eq!(s.clock("2026-03-06T02:00:00Z").await["timers_fired"], 0);
    assert_eq!(escalations(notifications(&s, &manager).await).len(), 1);
    s.stop().await;
}

async fn a_loop_of_automatic_transitions_is_refused_and_nothing_is_written(b: crate::harness::Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    crm(&s).await;
    s.post("/api/v1/workflows", json!({
        "key": "pingpong", "form": "customer", "start": {"on": "created"}, "initial": "ping",
        "states": {"ping": {}, "pong": {}},
        "transitions": [
            {"key": "to_pong", "from": "ping", "to": "pong", "when": "true"},
            {"key": "to_ping", "from": "pong", "to": "ping", "when": "true"}
        ]
    }))
    .await
    .expect(201);
    let res = s.post("/api/v1/forms/customer/records", json!({"name": "循环", "phone": "13800000008"})).await.expect(422);
    assert_eq!(res.body["type"], "https://trellis.dev/problems/workflow-failed");
    assert!(res.body["detail"].as_str().unwrap().contains("pingpong"), "{}", res.body);
    assert!(s.names("customer", &[]).await.is_empty(), "the write was rolled back");

    // A `when` that fails to run refuses the write with the script's position.
    let mut broken = s.get("/api/v1/workflows/pingpong").await.expect(200).body["definition"].clone();
    broken["transitions"][0]["when"] = json!("record.name.len() > (1 / 0)");
    broken["transitions"][1]["when"] = json!("false");
    s.put("/api/v1/workflows/pingpong", broken).await.expect(200);
    let res = s.post("/api/v1/forms/customer/records", json!({"name": "出错", "phone": "13800000009"})).await.expect(422);
    assert_eq!(res.body["type"], "https://trellis.dev/problems/rule-failed");
    assert_eq!(res.body["errors"][0]["pointer"], "/transitions/0/when", "{}", res.body);
    s.stop().await;
}

async fn tasks_can_be_reassigned_commented_and_are_private(b: crate::harness::Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    workflows(&s).await;
    let (staff, manager) = team(&s, "li@example.com", "wang@example.com").await;
    let other = s.user("zhao@example.com", "staff").await;
    let id = customer(&s, &staff, "转交客户", "13800000010").await;
    s.post(&format!("/api/v1/forms/customer/records/{id}/workflows"), json!({"workflow": "revisit_plan"})).await.expect(201);
    s.clock("2026-03-09T01:00:00Z").await;
    let task = tasks(&s, &staff, "").await.remove(0);
    let tid = task["id"].as_str().unwrap();

    // Another staff member neither sees nor completes it.
    assert!(tasks(&s, &other, "").await.is_empty());
    s.get_as(&other, &format!("/api/v1/tasks/{tid}")).await.expect(404);
    s.get_as(&other, "/api/v1/tasks?assignee=all").await.expect(403);
    assert_eq!(tasks(&s, &manager, "?assignee=li@example.com").await.len(), 1);

    s.post_as(&staff, &format!("/api/v1/tasks/{tid}/comments"), json!({"body": "客户出差，下周再约"})).await.expect(201);
    s.post_as(&staff, &format!("/api/v1/tasks/{tid}/comments"), json!({"body": "  "})).await.expect(422);
    let moved = s.post_as(&manager, &format!("/api/v1/tasks/{tid}/reassign"), json!({"assignee": "zhao@example.com"})).await.expect(200);
    assert_eq!(moved.body["assignee"], "zhao@example.com");
    let comments: Vec<&str> = moved.body["comments"].as_array().unwrap().iter().map(|c| c["body"].as_str().unwrap()).collect();
    assert_eq!(comments, vec!["客户出差，下周再约", "转交给 zhao@example.com"]);
    assert!(tasks(&s, &staff, "").await.is_empty());
    let notes = notifications(&s, &other).await;
    assert_eq!(notes[0]["task_id"], tid);
    let unread = s.get_as(&other, "/api/v1/notifications?unread=true").await.expect(200);
    assert_eq!(unread.body["unread"], 1);
    s.post_as(&other, &format!("/api/v1/notifications/{}/read", notes[0]["id"].as_str().unwrap()), json!({})).await.expect(204);
    assert_eq!(s.get_as(&other, "/api/v1/notifications").await.expect(200).body["unread"], 0);
    s.post_as(&staff, &format!("/api/v1/notifications/{}/read", notes[0]["id"].as_str().unwrap()), json!({})).await.expect(404);

    // A task with a form is completed with its data; cancelling works once.
    s.post_as(&other, &format!("/api/v1/tasks/{tid}/complete"), json!({})).await.expect(422);
    s.post_as(&other, &format!("/api/v1/tasks/{tid}/cancel"), json!({})).await.expect(200);
    s.post_as(&other, &format!("/api/v1/tasks/{tid}/cancel"), json!({})).await.expect(409);
    assert_eq!(tasks(&s, &other, "?status=cancelled").await.len(), 1);
    s.get_as(&other, "/api/v1/tasks?status=later").await.expect(400);
    s.stop().await;
}

async fn two_instances_fire_each_timer_once(b: crate::harness::Backend) {
    if b == crate::harness::Backend::Sqlite {
        return; // one process owns a SQLite file; instances share PostgreSQL.
    }
    let Some(a) = Server::start_at(b, T0).await else { return };
    workflows(&a).await;
    let (staff, manager) = team(&a, "li@example.com", "wang@example.com").await;
    for i in 0..20 {
        customer(&a, &staff, &format!("并发客户{i}"), &format!("1370000{i:04}")).await;
    }
    let other = a.second_instance_with(trellis_engine::Clock::manual(T0.parse().unwrap())).await;
    // Both instances wake at the same moment; each timer is claimed by one of them.
    let (x, y) = tokio::join!(a.clock("2026-03-05T02:00:00Z"), other.clock("2026-03-05T02:00:00Z"));
    let fired = x["timers_fired"].as_u64().unwrap() + y["timers_fired"].as_u64().unwrap();
    assert_eq!(fired, 20, "{x} {y}");
    let escalations = a.get_as(&manager, "/api/v1/notifications?limit=500").await.expect(200).body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["title"].as_str().unwrap().starts_with("黄金72小时"))
        .count();
    assert_eq!(escalations, 20);
    other.stop().await;
    a.stop().await;
}

async fn deleting_a_record_ends_its_workflows_and_batches_start_them(b: crate::harness::Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    workflows(&s).await;
    let (_, manager) = team(&s, "li@example.com", "wang@example.com").await;
    // A batch import of 300 leads starts 300 pipelines (each with its timer) in one transaction.
    let leads: Vec<Value> = (0..300).map(|i| json!({"name": format!("批量{i}"), "phone": format!("1350000{i:04}")})).collect();
    let created = s.post("/api/v1/forms/customer/records", Value::Array(leads)).await.expect(201);
    let items = created.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 300);
    assert!(items.iter().all(|r| r["rev"] == 2), "created, then the pipeline's start: the answer shows rev 2");
    let gone = items[0]["id"].as_str().unwrap().to_owned();
    let kept = items[1]["id"].as_str().unwrap().to_owned();

    // Deleting a record ends its workflows and their timers; its history keeps them.
    s.delete(&format!("/api/v1/forms/customer/records/{gone}")).await.expect(204);
    s.post(&format!("/api/v1/forms/customer/records/{gone}/restore"), json!({})).await.expect(200);
    let ended = instance(&s, "customer", &gone, "pipeline").await;
    assert_eq!(ended["status"], "cancelled");
    assert_eq!(ended["transitions"], json!([]));
    let fired = s.clock("2026-03-05T02:00:00Z").await;
    assert_eq!(fired["timers_fired"], 299, "{fired}");
    let about_gone = notifications(&s, &manager).await.into_iter().filter(|n| n["record_id"] == gone.as_str()).count();
    assert_eq!(about_gone, 0);

    // A new version may not drop a state records are in.
    let mut smaller = pipeline();
    smaller["states"].as_object_mut().unwrap().remove("new_lead");
    smaller["initial"] = json!("contacted");
    smaller["transitions"] = json!([{"key": "discover", "from": "contacted", "to": "needs"}, {"key": "propose", "from": "needs", "to": "proposal"},
        {"key": "quote", "from": "proposal", "to": "negotiation"}, {"key": "win", "from": "negotiation", "to": "won"}, {"key": "lose", "from": "*", "to": "lost"}]);
    let res = s.put("/api/v1/workflows/pipeline", smaller).await.expect(422);
    assert_eq!(res.pointers(), vec!["/states/new_lead"], "{}", res.body);
    assert!(res.body["errors"][0]["message"].as_str().unwrap().starts_with("299 record(s)"), "{}", res.body);

    // Staff read no definitions (webhook URLs carry tokens) and start no automatic workflow by hand.
    let staff = s.engine.login("li@example.com", PASSWORD).await.unwrap().0;
    s.get_as(&staff, "/api/v1/workflows").await.expect(403);
    s.get_as(&staff, "/api/v1/messages").await.expect(200);
    let other = customer(&s, &staff, "手动", "13500009999").await;
    s.post_as(&staff, &format!("/api/v1/forms/customer/records/{other}/workflows"), json!({"workflow": "pipeline"})).await.expect(403);
    s.post_as(&staff, &format!("/api/v1/forms/customer/records/{other}/workflows"), json!({"workflow": "revisit_plan"})).await.expect(201);
    s.post("/api/v1/workflows", pack("complaint")).await.expect(201);
    s.post(&format!("/api/v1/forms/customer/records/{kept}/workflows"), json!({"workflow": "complaint"})).await.expect(422);
    s.stop().await;
}

async fn a_timer_creates_and_sets_records_and_other_workflows_react(b: crate::harness::Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    workflows(&s).await;
    s.post("/api/v1/workflows", json!({
        "key": "nurture", "form": "customer", "title": "自动触达", "start": {"on": "created"}, "initial": "waiting",
        "states": {
            "waiting": {"timers": [{"after": "2h", "actions": [
                {"create_record": {"form": "follow_up", "data": {"at": "now", "topic": "\"系统自动触达\""}}},
                {"set": {"level": "\"B\""}}
            ]}]},
            "done": {"final": true}
        },
        "transitions": [{"key": "finish", "from": "waiting", "to": "done", "when": "record.level == \"B\""}]
    }))
    .await
    .expect(201);
    let (staff, _) = team(&s, "li@example.com", "wang@example.com").await;
    let id = customer(&s, &staff, "自动客户", "13600000001").await;
    let owner = s.get(&format!("/api/v1/forms/customer/records/{id}")).await.expect(200).body["owner"].clone();
    s.clock("2026-03-02T03:00:00Z").await;

    // The follow-up links back to the customer and belongs to the customer's owner, not to the system.
    let follow = s.list("follow_up", &[]).await.expect(200);
    let items = follow.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["data"]["customer"], id.as_str());
    assert_eq!(items[0]["data"]["topic"], "系统自动触达");
    assert_eq!(items[0]["owner"], owner);
    // Its rollup moved the pipeline on (`when` on a parent's write); `set` finished the nurture.
    let record = s.get(&format!("/api/v1/forms/customer/records/{id}")).await.expect(200);
    assert_eq!(record.body["data"]["level"], "B");
    assert_eq!(record.body["data"]["last_contact_at"], "2026-03-02T03:00:00Z");
    assert_eq!(instance(&s, "customer", &id, "pipeline").await["state"], "contacted");
    assert_eq!(instance(&s, "customer", &id, "nurture").await["status"], "finished");
    let history = s.get(&format!("/api/v1/forms/customer/records/{id}/history")).await.expect(200);
    let system: Vec<&Value> = history.body["items"].as_array().unwrap().iter().filter(|h| h["actor"] == "00000000-0000-0000-0000-000000000000").collect();
    assert!(system.iter().any(|h| h["changes"].get("level").is_some()), "the timer's change is the system's: {}", history.body);
    s.stop().await;
}

async fn a_condition_starts_a_workflow_each_time_it_becomes_true(b: crate::harness::Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    workflows(&s).await;
    s.post("/api/v1/workflows", json!({
        "key": "vip_watch", "form": "customer", "title": "VIP 关注",
        "start": {"on": "condition", "condition": "record.level == \"A\""},
        "initial": "vip",
        "states": {
            "vip": {"on_enter": [
                {"webhook": {"url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=demo", "message": "welcome", "format": "wecom"}},
                {"transition": {"workflow": "pipeline", "transition": "contact"}}
            ]},
            "normal": {"final": true}
        },
        "transitions": [{"key": "drop", "from": "vip", "to": "normal", "when": "record.level != \"A\""}]
    }))
    .await
    .expect(201);
    let id = customer(&s, &s.token, "重点客户", "13600000002").await;
    let path = format!("/api/v1/forms/customer/records/{id}");
    assert_eq!(instance(&s, "customer", &id, "vip_watch").await, Value::Null, "level is not A yet");

    // Becoming A starts it; its actions queue a WeCom robot message and move the pipeline on.
    s.patch(&path, json!({"level": "A"}), None).await.expect(200);
    assert_eq!(instance(&s, "customer", &id, "vip_watch").await["state"], "vip");
    assert_eq!(instance(&s, "customer", &id, "pipeline").await["state"], "contacted");
    let outbox = s.get(&format!("/api/v1/deliveries?record={id}")).await.expect(200);
    let hook = &outbox.body["items"][0];
    assert_eq!(hook["channel"], "webhook");
    assert_eq!(hook["format"], "wecom");
    assert_eq!(serde_json::from_str::<Value>(hook["body"].as_str().unwrap()).unwrap(), json!({"msgtype": "text", "text": {"content": "感谢您的信任。"}}));

    // Staying A starts nothing more; leaving ends it; becoming A again starts it again.
    s.patch(&path, json!({"name": "重点客户（集团）"}), None).await.expect(200);
    s.patch(&path, json!({"level": "B"}), None).await.expect(200);
    s.patch(&path, json!({"level": "A"}), None).await.expect(200);
    let list = s.get(&format!("{path}/workflows")).await.expect(200);
    let vip: Vec<&str> = list.body["items"].as_array().unwrap().iter().filter(|i| i["workflow"] == "vip_watch").map(|i| i["status"].as_str().unwrap()).collect();
    assert_eq!(vip, vec!["finished", "active"]);
    // The second start's `transition` action does not apply from `contacted`: it is skipped, not an error.
    assert_eq!(instance(&s, "customer", &id, "pipeline").await["state"], "contacted");
    assert_eq!(s.get(&format!("/api/v1/deliveries?record={id}")).await.expect(200).body["items"].as_array().unwrap().len(), 2);
    s.stop().await;
}

fn delivery(smtp: Option<&crate::fakes::SmtpSink>, allow_private: bool, max_attempts: i64) -> trellis_engine::delivery::DeliveryConfig {
    trellis_engine::delivery::DeliveryConfig {
        smtp_url: smtp.map(|s| format!("smtp://{}", s.addr)),
        smtp_from: smtp.map(|_| "Trellis CRM <crm@example.com>".to_owned()),
        allow_private_webhooks: allow_private,
        webhook_secret: Some("s3cret".into()),
        max_attempts,
    }
}

async fn deliveries(s: &Server, record: &str) -> Vec<Value> {
    s.get(&format!("/api/v1/deliveries?record={record}")).await.expect(200).body["items"].as_array().unwrap().clone()
}

async fn emails_go_out_over_smtp_once(b: crate::harness::Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    let smtp = crate::fakes::SmtpSink::start().await;
    s.engine.configure_delivery(delivery(Some(&smtp), false, 6)).unwrap();
    workflows(&s).await;
    let id = customer(&s, &s.token, "邮件客户", "13800000011").await;
    s.patch(&format!("/api/v1/forms/customer/records/{id}"), json!({"quote_amount": 9000}), None).await.expect(200);
    let inst = instance(&s, "customer", &id, "pipeline").await;
    for step in ["contact", "discover", "propose", "quote", "win"] {
        take(&s, &inst, step).await.expect(200);
    }
    assert!(smtp.mails().is_empty(), "queued in the write, sent after it");
    // Another instance leased it and died mid-send: the lease runs out and the delivery is taken over.
    let now: jiff::Timestamp = T0.parse().unwrap();
    let leased = s.engine.store().claim_deliveries(now, now + jiff::SignedDuration::from_secs(120), 50).await.unwrap();
    assert_eq!(leased.len(), 1);
    assert_eq!(s.clock("2026-03-02T01:01:00Z").await["delivered"], 0, "still leased");
    let moved = s.clock("2026-03-02T01:02:01Z").await;
    assert_eq!(moved["delivered"], 1, "{moved}");
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, vec!["<13800000011@example.com>"]);
    assert!(mails[0].from.contains("crm@example.com"));
    let out = &deliveries(&s, &id).await[0];
    assert!(mails[0].data.contains(&format!("Message-ID: <{}@trellis>", out["id"].as_str().unwrap())), "{}", mails[0].data);
    // The subject is RFC 2047 encoded: decode it.
    let subject = mails[0].data.lines().find(|l| l.starts_with("Subject: ")).unwrap();
    let encoded = subject.trim_start_matches("Subject: =?utf-8?b?").trim_end_matches("?=");
    use base64::Engine as _;
    let decoded = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap()).unwrap();
    assert_eq!(decoded, "欢迎，邮件客户");
    assert_eq!(out["status"], "sent");
    assert_eq!(out["attempts"], 1);
    assert_eq!(out["attempt_log"][0]["ok"], true);
    assert!(out["attempt_log"][0]["detail"].as_str().unwrap().starts_with("SMTP 250"), "{out}");
    // Sent once: later ticks send nothing more.
    assert_eq!(s.clock("2026-03-02T02:00:00Z").await["delivered"], 0);
    assert_eq!(s.clock("2026-03-02T03:00:00Z").await["delivered"], 0);
    assert_eq!(smtp.mails().len(), 1);
    s.stop().await;
}

async fn webhook_workflow(s: &Server, url: &str) {
    s.post("/api/v1/workflows", json!({
        "key": "vip_hook", "form": "customer", "start": {"on": "condition", "condition": "record.level == \"A\""}, "initial": "vip",
        "states": {"vip": {"final": true, "on_enter": [{"webhook": {"url": url, "message": "welcome"}}]}}
    }))
    .await
    .expect(201);
}

async fn a_webhook_is_retried_signed_and_delivered_once(b: crate::harness::Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    let hook = crate::fakes::HttpSink::start(vec![500, 200]).await;
    s.engine.configure_delivery(delivery(None, true, 6)).unwrap();
    crm(&s).await;
    webhook_workflow(&s, &format!("http://{}/hook", hook.addr)).await;
    let id = customer(&s, &s.token, "钩子客户", "13800000012").await;
    s.patch(&format!("/api/v1/forms/customer/records/{id}"), json!({"level": "A"}), None).await.expect(200);

    let first = s.clock("2026-03-02T01:00:01Z").await;
    assert_eq!((first["delivered"].as_u64(), first["delivery_failures"].as_u64()), (Some(0), Some(1)), "{first}");
    let pending = &deliveries(&s, &id).await[0];
    assert_eq!(pending["status"], "pending");
    let retry_at: jiff::Timestamp = pending["next_attempt_at"].as_str().unwrap().parse().unwrap();
    let wait = retry_at.duration_since("2026-03-02T01:00:01Z".parse().unwrap()).as_secs();
    assert!((24..=36).contains(&wait), "the first retry waits 30 s ± 20 %: {wait}");
    assert_eq!(s.clock("2026-03-02T01:00:10Z").await["delivery_failures"], 0, "not due yet: no attempt");
    let second = s.clock("2026-03-02T01:01:00Z").await;
    assert_eq!(second["delivered"], 1, "{second}");
    assert_eq!(s.clock("2026-03-02T02:00:00Z").await["delivered"], 0);

    // One delivery, two attempts, the same id each time, signed.
    let hits = hook.hits();
    assert_eq!(hits.len(), 2);
    let sent = &deliveries(&s, &id).await[0];
    assert_eq!(sent["status"], "sent");
    assert_eq!(sent["attempts"], 2);
    let log: Vec<(bool, String)> = sent["attempt_log"].as_array().unwrap().iter().map(|a| (a["ok"].as_bool().unwrap(), a["detail"].as_str().unwrap().to_owned())).collect();
    assert!(!log[0].0 && log[0].1.starts_with("HTTP 500"), "{log:?}");
    assert!(log[1].0 && log[1].1.starts_with("HTTP 200"), "{log:?}");
    for h in &hits {
        assert_eq!(h.path, "/hook");
        assert_eq!(h.header("x-trellis-delivery"), sent["id"].as_str());
        let signature = trellis_engine::delivery::sign("s3cret", h.body.as_bytes()).unwrap();
        assert_eq!(h.header("x-trellis-signature"), Some(format!("sha256={signature}").as_str()));
        let body: Value = serde_json::from_str(&h.body).unwrap();
        assert_eq!(body["text"], "感谢您的信任。");
        assert_eq!(body["id"], id.as_str());
    }
    s.stop().await;
}

async fn private_webhook_targets_are_refused_until_a_dead_letter(b: crate::harness::Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    let hook = crate::fakes::HttpSink::start(vec![200]).await;
    s.engine.configure_delivery(delivery(None, false, 2)).unwrap();
    crm(&s).await;
    webhook_workflow(&s, &format!("http://{}/hook", hook.addr)).await;
    let id = customer(&s, &s.token, "内网客户", "13800000013").await;
    s.patch(&format!("/api/v1/forms/customer/records/{id}"), json!({"level": "A"}), None).await.expect(200);
    s.clock("2026-03-02T01:00:01Z").await;
    s.clock("2026-03-02T01:05:00Z").await;
    assert!(hook.hits().is_empty(), "nothing reached the loopback address");
    let dead = &deliveries(&s, &id).await[0];
    assert_eq!(dead["status"], "failed", "two attempts, then the dead letter: {dead}");
    assert_eq!(dead["attempts"], 2);
    assert!(dead["last_error"].as_str().unwrap().contains("--allow-private-webhooks"), "{dead}");
    assert_eq!(s.clock("2026-03-03T01:00:00Z").await["delivery_failures"], 0, "a dead letter is not tried again");
    s.stop().await;
}

/// Every IPv6 spelling of a loopback IPv4 address is as private as 127.0.0.1.
async fn ipv6_forms_of_loopback_webhook_targets_are_refused(b: crate::harness::Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    let hook = crate::fakes::HttpSink::start(vec![200]).await;
    s.engine.configure_delivery(delivery(None, false, 1)).unwrap();
    crm(&s).await;
    let port = hook.addr.port();
    let hosts = ["[::ffff:127.0.0.1]", "[::127.0.0.1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::1]", "[2001:0:7f00:1::1]"];
    for (i, host) in hosts.iter().enumerate() {
        s.post("/api/v1/workflows", json!({
            "key": format!("hook_{i}"), "form": "customer", "start": {"on": "condition", "condition": "record.level == \"A\""}, "initial": "vip",
            "states": {"vip": {"final": true, "on_enter": [{"webhook": {"url": format!("http://{host}:{port}/hook"), "message": "welcome"}}]}}
        }))
        .await
        .expect(201);
    }
    let id = customer(&s, &s.token, "映射客户", "13800000014").await;
    s.patch(&format!("/api/v1/forms/customer/records/{id}"), json!({"level": "A"}), None).await.expect(200);
    s.clock("2026-03-02T01:00:01Z").await;
    assert!(hook.hits().is_empty(), "nothing reached the loopback address");
    let all = deliveries(&s, &id).await;
    assert_eq!(all.len(), hosts.len(), "{all:?}");
    for d in &all {
        assert_eq!(d["status"], "failed", "{d}");
        assert!(d["last_error"].as_str().unwrap().contains("--allow-private-webhooks"), "{d}");
    }
    s.stop().await;
}
