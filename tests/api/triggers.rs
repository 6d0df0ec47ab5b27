//! Reminder triggers through the API, with the manual clock: birthdays at
//! 09:00 where the customer is (S17), festivals (S18), contract expiry 30
//! and 7 days before (S19), inactivity (S20), VIP entry and exit (S21), the
//! Monday churn-risk digest (S24), working days and quiet hours, missed
//! moments, and definitions checked on save.

use serde_json::{Value, json};

use crate::both;
use crate::harness::{Backend, PASSWORD, Server, customer_form};

const T0: &str = "2026-03-02T01:00:00Z";

both!(
    birthdays_come_at_nine_local_time_every_year,
    contract_reminders_come_30_and_7_days_before_and_follow_the_date,
    silence_for_30_days_reminds_the_owner_once_per_silence,
    a_moment_found_too_late_is_missed_not_sent,
    entering_and_leaving_tier_a_fire_event_triggers,
    triggers_are_checked_when_saved,
    festival_greetings_go_to_a_segment_on_the_lunar_date,
    a_failing_moment_is_recorded_and_the_next_one_still_comes,
    two_processes_one_killed_send_every_reminder_once,
    a_monday_digest_lists_each_owners_at_risk_customers,
    moments_keep_to_working_days_and_quiet_hours,
    a_cron_trigger_acts_on_each_record_it_picks_once,
    a_trigger_switched_off_sends_nothing_and_switched_on_counts_from_then,
);

async fn crm(s: &Server) -> (String, String) {
    s.crm_forms().await;
    let mut customer = customer_form();
    let props = customer["schema"]["properties"].as_object_mut().unwrap();
    props.insert("contract_end".into(), json!({"type": "string", "format": "date"}));
    props.insert("tz".into(), json!({"type": "string"}));
    customer["segments"] = json!({"tier": {"kind": "label", "script": "if record.annual_spend >= 100000 { \"A\" } else { \"B\" }"}});
    s.put("/api/v1/forms/customer", customer).await.expect(200);
    s.post("/api/v1/messages", json!({"key": "birthday", "template": "subject: 生日快乐，{{ record.name }}\n亲爱的{{ record.name }}，祝您生日快乐！"})).await.expect(201);
    let manager = s.user("wang@example.com", "manager").await;
    let staff = s.user("li@example.com", "staff").await;
    s.put("/api/v1/users/li@example.com/manager", json!({"manager": "wang@example.com"})).await.expect(204);
    (staff, manager)
}

async fn add(s: &Server, token: &str, data: Value) -> String {
    s.post_as(token, "/api/v1/forms/customer/records", data).await.expect(201).body["id"].as_str().unwrap().to_owned()
}

async fn notes(s: &Server, token: &str) -> Vec<String> {
    let list = s.get_as(token, "/api/v1/notifications?limit=500").await.expect(200);
    list.body["items"].as_array().unwrap().iter().map(|n| n["title"].as_str().unwrap().to_owned()).collect()
}

async fn occurrences(s: &Server, trigger: &str) -> Vec<Value> {
    s.get(&format!("/api/v1/occurrences?trigger={trigger}")).await.expect(200).body["items"].as_array().unwrap().clone()
}

async fn birthdays_come_at_nine_local_time_every_year(b: Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    let (staff, _) = crm(&s).await;
    let shanghai = add(&s, &staff, json!({"name": "王芳", "phone": "13800000001", "email": "wf@example.com", "birthday": "1990-03-15"})).await;
    let _ny = add(&s, &staff, json!({"name": "Amy", "phone": "13800000002", "birthday": "1985-03-15", "tz": "America/New_York"})).await;
    // Saved after the customers exist: their moments are computed at once.
    s.post("/api/v1/triggers", json!({
        "key": "birthday", "form": "customer", "title": "生日祝福",
        "when": {"anniversary": "birthday", "at": "09:00", "tz": "Asia/Shanghai", "tz_field": "tz"},
        "actions": [{"notify": "owner", "message": "birthday"}, {"email": {"to": "field:email", "message": "birthday"}}],
        "max_lateness": "6h"
    }))
    .await
    .expect(201);

    let next = s.get(&format!("/api/v1/forms/customer/records/{shanghai}/reminders")).await.expect(200);
    assert_eq!(next.body["items"], json!([{"trigger": "birthday", "at": "2026-03-15T01:00:00Z"}]));
    assert_eq!(s.clock("2026-03-15T00:59:00Z").await["triggers_fired"], 0);
    let at_nine = s.clock("2026-03-15T01:00:00Z").await;
    assert_eq!(at_nine["triggers_fired"], 1, "09:00 in Shanghai: {at_nine}");
    assert_eq!(notes(&s, &staff).await, vec!["生日快乐，王芳"]);
    let mail = s.get(&format!("/api/v1/deliveries?record={shanghai}")).await.expect(200);
    assert_eq!(mail.body["items"][0]["target"], "wf@example.com");
    assert_eq!(mail.body["items"][0]["subject"], "生日快乐，王芳");
    // 09:00 in New York (EDT since 8 March) is 13:00 UTC.
    let next = s.get(&format!("/api/v1/forms/customer/records/{shanghai}/reminders")).await.expect(200);
    assert_eq!(next.body["items"][0]["at"], "2027-03-15T01:00:00Z", "next year's, once this one is handled");
    assert_eq!(s.clock("2026-03-15T12:59:00Z").await["triggers_fired"], 0);
    assert_eq!(s.clock("2026-03-15T13:00:00Z").await["triggers_fired"], 1);
    assert_eq!(notes(&s, &staff).await.len(), 2);
    // Once a year: nothing more until next year's.
    assert_eq!(s.clock("2026-12-31T00:00:00Z").await["triggers_fired"], 0);
    assert_eq!(s.clock("2027-03-15T01:00:00Z").await["triggers_fired"], 1);
    assert_eq!(s.clock("2027-03-15T13:00:00Z").await["triggers_fired"], 1);
    let fired = occurrences(&s, "birthday").await;
    assert_eq!(fired.len(), 4);
    assert!(fired.iter().all(|o| o["status"] == "fired"));
    // A NUL in a query parameter is a clear 400, never the database's error (found by schemathesis).
    let refused = s.get("/api/v1/occurrences?trigger=birth%00day").await.expect(400).body;
    assert_eq!(refused["type"], "https://trellis.dev/problems/invalid-parameter", "{refused}");
    s.stop().await;
}

async fn contract_reminders_come_30_and_7_days_before_and_follow_the_date(b: Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    let (staff, _) = crm(&s).await;
    for (key, offset) in [("contract_30", "-30d"), ("contract_7", "-7d")] {
        s.post("/api/v1/triggers", json!({
            "key": key, "form": "customer", "title": "合同到期",
            "when": {"date": "contract_end", "offset": offset, "at": "09:00"},
            "condition": "record.vip != true",
            "actions": [{"notify": "owner", "title": format!("合同{}天后到期：{{{{ record.name }}}}", &offset[1..offset.len() - 1])}]
        }))
        .await
        .expect(201);
    }
    let id = add(&s, &staff, json!({"name": "万科", "phone": "13800000003", "contract_end": "2026-06-30"})).await;
    let vip = add(&s, &staff, json!({"name": "贵宾", "phone": "13800000004", "contract_end": "2026-06-30", "vip": true})).await;
    // The contract is extended before the first reminder: the moments follow the new date.
    s.patch(&format!("/api/v1/forms/customer/records/{id}"), json!({"contract_end": "2026-07-31"}), None).await.expect(200);
    assert_eq!(s.clock("2026-05-31T01:00:00Z").await["triggers_fired"], 0, "the old date's reminder is gone; the VIP's is skipped");
    assert_eq!(s.clock("2026-07-01T01:00:00Z").await["triggers_fired"], 1);
    assert_eq!(s.clock("2026-07-24T01:00:00Z").await["triggers_fired"], 1);
    assert_eq!(notes(&s, &staff).await, vec!["合同7天后到期：万科", "合同30天后到期：万科"]);
    let skipped: Vec<Value> = occurrences(&s, "contract_30").await.into_iter().filter(|o| o["record_id"] == vip.as_str()).collect();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["status"], "skipped", "the condition kept the VIP's quiet");
    assert_eq!(s.clock("2026-12-01T01:00:00Z").await["triggers_fired"], 0, "a date fires once");
    s.stop().await;
}

async fn silence_for_30_days_reminds_the_owner_once_per_silence(b: Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    let (staff, _) = crm(&s).await;
    s.post("/api/v1/triggers", json!({
        "key": "silent_30", "form": "customer", "title": "30天未跟进",
        "when": {"inactive": "last_contact", "for": "30d", "at": "09:00"},
        "actions": [{"notify": "owner", "title": "30天未跟进：{{ record.name }}"}]
    }))
    .await
    .expect(201);
    let id = add(&s, &staff, json!({"name": "沉默", "phone": "13800000005", "last_contact": "2026-03-02T01:00:00Z"})).await;
    // A contact on day 20 restarts the silence.
    s.clock("2026-03-22T01:00:00Z").await;
    s.patch(&format!("/api/v1/forms/customer/records/{id}"), json!({"last_contact": "2026-03-22T01:00:00Z"}), None).await.expect(200);
    assert_eq!(s.clock("2026-04-02T01:00:00Z").await["triggers_fired"], 0);
    assert_eq!(s.clock("2026-04-21T01:00:00Z").await["triggers_fired"], 1);
    assert_eq!(s.clock("2026-06-30T01:00:00Z").await["triggers_fired"], 0, "once per silence");
    assert_eq!(notes(&s, &staff).await, vec!["30天未跟进：沉默"]);
    s.stop().await;
}

async fn a_moment_found_too_late_is_missed_not_sent(b: Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    let (staff, _) = crm(&s).await;
    s.post("/api/v1/triggers", json!({
        "key": "birthday", "form": "customer", "when": {"anniversary": "birthday", "at": "09:00"},
        "actions": [{"notify": "owner", "message": "birthday"}], "max_lateness": "6h"
    }))
    .await
    .expect(201);
    add(&s, &staff, json!({"name": "迟到", "phone": "13800000006", "birthday": "1990-03-15"})).await;
    // The server was down over the birthday and comes back two days later.
    let back = s.clock("2026-03-17T01:00:00Z").await;
    assert_eq!(back["triggers_fired"], 0, "{back}");
    assert!(notes(&s, &staff).await.is_empty());
    let missed = occurrences(&s, "birthday").await;
    assert_eq!(missed.len(), 1);
    assert_eq!(missed[0]["status"], "missed");
    assert_eq!(missed[0]["at"], "2026-03-15T01:00:00Z");
    // Next year's is scheduled as usual.
    assert_eq!(s.clock("2027-03-15T01:00:00Z").await["triggers_fired"], 1);
    s.stop().await;
}

async fn entering_and_leaving_tier_a_fire_event_triggers(b: Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    let (staff, manager) = crm(&s).await;
    s.post("/api/v1/triggers", json!({
        "key": "vip_in", "form": "customer", "title": "VIP 入会",
        "when": {"event": "segment_changed", "segment": "tier", "to": "A"},
        "actions": [{"create_task": {"title": "VIP 欢迎：{{ record.name }}", "assignee": "owner", "due": "2d"}}]
    }))
    .await
    .expect(201);
    s.post("/api/v1/triggers", json!({
        "key": "vip_out", "form": "customer", "title": "VIP 降级",
        "when": {"event": "segment_changed", "segment": "tier", "from": "A"},
        "actions": [{"notify": "manager", "title": "{{ record.name }} 离开 A 级"}]
    }))
    .await
    .expect(201);
    s.post("/api/v1/triggers", json!({
        "key": "handover", "form": "customer", "when": {"event": "changed", "field": "owner"},
        "actions": [{"notify": "owner", "title": "你接手了客户 {{ record.name }}"}]
    }))
    .await
    .expect(201);
    let id = add(&s, &staff, json!({"name": "大客户", "phone": "13800000007", "annual_spend": 50000})).await;
    let path = format!("/api/v1/forms/customer/records/{id}");
    assert!(s.get_as(&staff, "/api/v1/tasks").await.expect(200).body["items"].as_array().unwrap().is_empty());
    s.patch(&path, json!({"annual_spend": 150000}), None).await.expect(200);
    let tasks = s.get_as(&staff, "/api/v1/tasks").await.expect(200);
    assert_eq!(tasks.body["items"][0]["title"], "VIP 欢迎：大客户");
    s.patch(&path, json!({"annual_spend": 160000}), None).await.expect(200);
    assert_eq!(s.get_as(&staff, "/api/v1/tasks").await.expect(200).body["items"].as_array().unwrap().len(), 1, "staying A fires nothing");
    s.patch(&path, json!({"annual_spend": 20000}), None).await.expect(200);
    assert_eq!(notes(&s, &manager).await, vec!["大客户 离开 A 级"]);
    s.patch(&path, json!({"owner": "wang@example.com"}), None).await.expect(200);
    assert_eq!(notes(&s, &manager).await, vec!["你接手了客户 大客户", "大客户 离开 A 级"]);
    let _ = PASSWORD;
    s.stop().await;
}

async fn triggers_are_checked_when_saved(b: Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    crm(&s).await;
    let res = s
        .post("/api/v1/triggers", json!({
            "key": "bad", "form": "customer",
            "when": {"anniversary": "birthdate", "at": "9 点", "tz": "Asia/Beijing"},
            "condition": "record.vip ==", "actions": [{"notify": "owner", "message": "nope"}]
        }))
        .await
        .expect(422);
    let pointers = res.pointers();
    for p in ["/when", "/when/at", "/when/tz", "/condition", "/actions/0/message"] {
        assert!(pointers.contains(&p.to_owned()), "{p}: {}", res.body);
    }
    let res = s.post("/api/v1/triggers", json!({"key": "digest", "form": "customer", "when": {"cron": "0 9 * * MONDAY-ish"}, "actions": [{"digest": {"to": "owner", "title": "周报"}}]})).await.expect(422);
    assert_eq!(res.pointers(), vec!["/when/cron"]);
    let res = s.post("/api/v1/triggers", json!({"key": "digest", "form": "customer", "when": {"cron": "0 9 * * MON", "on_day_off": "skip", "work_calendar": "moon"}, "actions": [{"digest": {"to": "owner", "title": "周报"}}]})).await.expect(422);
    assert_eq!(res.pointers(), vec!["/when/work_calendar"]);
    let res = s.put("/api/v1/calendars/cn", json!({"holidays": ["2027-02-30"], "workdays": ["soon"]})).await.expect(422);
    assert_eq!(res.pointers(), vec!["/holidays/0", "/workdays/0"]);
    let res = s.post("/api/v1/triggers", json!({"key": "digest", "form": "customer", "when": {"anniversary": "birthday"}, "actions": [{"digest": {"to": "owner", "title": "周报"}}]})).await.expect(422);
    assert_eq!(res.pointers(), vec!["/actions/0"], "a digest needs a cron: {}", res.body);
    let res = s.post("/api/v1/triggers", json!({"key": "halloween", "form": "customer", "when": {"festival": "halloween"}, "actions": [{"notify": "owner", "title": "x"}]})).await.expect(422);
    assert_eq!(res.pointers(), vec!["/when/festival"]);
    let res = s.post("/api/v1/triggers", json!({"key": "seg", "form": "customer", "when": {"event": "segment_changed", "segment": "health"}, "actions": [{"notify": "owner", "title": "x"}]})).await.expect(422);
    assert_eq!(res.pointers(), vec!["/when/segment"]);
    let staff = s.engine.login("li@example.com", PASSWORD).await.unwrap().0;
    s.get_as(&staff, "/api/v1/triggers").await.expect(403);
    s.stop().await;
}

async fn festival_greetings_go_to_a_segment_on_the_lunar_date(b: Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    let (staff, _) = crm(&s).await;
    let _vip = add(&s, &staff, json!({"name": "大客户", "phone": "13800000008", "annual_spend": 200000})).await;
    let _small = add(&s, &staff, json!({"name": "小客户", "phone": "13800000009", "annual_spend": 2000})).await;
    s.post("/api/v1/triggers", json!({
        "key": "mid_autumn", "form": "customer", "title": "中秋关怀",
        "when": {"festival": "mid_autumn", "at": "09:00", "tz": "Asia/Shanghai"},
        "condition": "segments.tier == \"A\"",
        "actions": [{"notify": "owner", "title": "中秋快乐：{{ record.name }}"}]
    }))
    .await
    .expect(201);
    // Mid-Autumn 2026 is 25 September (lunar 8/15): 09:00 in Shanghai is 01:00 UTC.
    assert_eq!(s.clock("2026-09-25T00:59:00Z").await["triggers_fired"], 0);
    assert_eq!(s.clock("2026-09-25T01:00:00Z").await["triggers_fired"], 1, "only tier A");
    assert_eq!(notes(&s, &staff).await, vec!["中秋快乐：大客户"]);
    let statuses: Vec<String> = occurrences(&s, "mid_autumn").await.iter().map(|o| o["status"].as_str().unwrap().to_owned()).collect();
    assert_eq!(statuses.iter().filter(|x| *x == "skipped").count(), 1);
    // And 2027's on 15 September.
    assert_eq!(s.clock("2027-09-15T01:00:00Z").await["triggers_fired"], 1);
    s.stop().await;
}

async fn a_failing_moment_is_recorded_and_the_next_one_still_comes(b: Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    let (staff, _) = crm(&s).await;
    add(&s, &staff, json!({"name": "幽灵", "phone": "13800000010", "birthday": "1990-03-15"})).await;
    // The greeting goes to a user who does not exist: the action fails when the moment comes.
    s.post("/api/v1/triggers", json!({
        "key": "birthday", "form": "customer", "when": {"anniversary": "birthday", "at": "09:00"},
        "actions": [{"notify": "ghost@example.com", "title": "生日快乐"}]
    }))
    .await
    .expect(201);
    s.clock("2026-03-15T01:00:00Z").await;
    s.clock("2027-03-15T01:00:00Z").await;
    let list = occurrences(&s, "birthday").await;
    let seen: Vec<(&str, &str)> = list.iter().map(|o| (o["at"].as_str().unwrap(), o["status"].as_str().unwrap())).collect();
    assert_eq!(seen, vec![("2027-03-15T01:00:00Z", "failed"), ("2026-03-15T01:00:00Z", "failed")]);
    s.post("/api/v1/triggers", json!({"key": "zero", "form": "customer", "when": {"inactive": "last_contact", "for": "0d"},
        "actions": [{"notify": "owner", "title": "x"}], "max_lateness": "0s"})).await.expect(422);
    s.stop().await;
}

/// Issue 5's fault test: two `trellis serve` processes on one PostgreSQL,
/// 10,000 reminders falling due together, one process killed with SIGKILL
/// mid-run — every reminder is handled, and none twice.
async fn two_processes_one_killed_send_every_reminder_once(b: Backend) {
    if b == Backend::Sqlite {
        return; // several processes share PostgreSQL; one process owns a SQLite file.
    }
    const N: usize = 10_000;
    let Some(s) = Server::start(b).await else { return };
    let (_, _) = crm(&s).await;
    let staff = s.engine.store().find_user("li@example.com").await.unwrap().unwrap().id;
    s.post("/api/v1/triggers", json!({
        "key": "nudge", "form": "customer", "when": {"inactive": "last_contact", "for": "20s"},
        "actions": [{"notify": "owner", "title": "跟进提醒：{{ record.name }}"}]
    }))
    .await
    .expect(201);
    let now = jiff::Timestamp::now().to_string();
    for batch in 0..N / 1000 {
        let items: Vec<Value> = (0..1000)
            .map(|i| json!({"name": format!("客户{}", batch * 1000 + i), "phone": format!("139{:08}", batch * 1000 + i), "owner": "li@example.com", "last_contact": now}))
            .collect();
        s.post("/api/v1/forms/customer/records", Value::Array(items)).await.expect(201);
    }
    let spawn = |name: &str| {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = std::fs::File::create(std::env::temp_dir().join(format!("trellis-fault-{name}.log"))).unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_trellis"))
            .args(["serve", "--db", &s.db_url, "--bind", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap()
    };
    /// A child process killed however the test ends.
    struct Child(std::process::Child);
    impl Drop for Child {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let (mut doomed, survivor) = (Child(spawn("doomed")), Child(spawn("survivor")));
    let handled = || async { s.engine.store().occurrences(Some("nudge"), None, (2 * N) as i64).await.unwrap() };
    let started = std::time::Instant::now();
    // Kill one process once the work is under way.
    loop {
        let n = handled().await.len();
        if n >= N / 5 {
            assert!(n < N, "the kill must come mid-run ({n} of {N} were already handled)");
            doomed.0.kill().unwrap(); // SIGKILL: no shutdown, transactions cut off mid-way
            doomed.0.wait().unwrap();
            break;
        }
        assert!(started.elapsed().as_secs() < 240, "the reminders did not start within 4 minutes ({n} handled)");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let occurrences = loop {
        let list = handled().await;
        if list.len() >= N || started.elapsed().as_secs() > 400 {
            break list;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    drop(survivor);
    assert_eq!(occurrences.len(), N, "every reminder handled");
    assert!(occurrences.iter().all(|o| o.status == "fired"), "none missed or failed");
    let records: std::collections::HashSet<_> = occurrences.iter().map(|o| o.record_id).collect();
    assert_eq!(records.len(), N, "one occurrence per customer");
    let inbox = s.engine.store().notifications(staff, false, (2 * N) as i64).await.unwrap();
    assert_eq!(inbox.len(), N, "one notification per reminder: none lost, none twice");
    let distinct: std::collections::HashSet<_> = inbox.iter().map(|n| n.record_id).collect();
    assert_eq!(distinct.len(), N);
    s.stop().await;
}

/// S24: every Monday at 09:00, each owner gets one notification (and an
/// email) listing their at-risk customers, and their manager one for the team.
async fn a_monday_digest_lists_each_owners_at_risk_customers(b: Backend) {
    // Monday 2 March 2026, 09:00 in Shanghai.
    let Some(s) = Server::start_at(b, T0).await else { return };
    let (li, wang) = crm(&s).await;
    let zhao = s.user("zhao@example.com", "staff").await;
    s.put("/api/v1/users/zhao@example.com/manager", json!({"manager": "wang@example.com"})).await.expect(204);
    let mut customer = s.get("/api/v1/forms/customer").await.expect(200).body["definition"].clone();
    customer["segments"]["churn_risk"] = json!({"kind": "label", "script": "let s = record.annual_spend; if s == () || s < 1000 { \"high\" } else { \"low\" }"});
    s.put("/api/v1/forms/customer", customer).await.expect(200);
    s.post("/api/v1/messages", json!({"key": "churn_digest", "template": include_str!("../../templates/crm-starter/messages/churn_digest.jinja")})).await.expect(201);
    let mut risky = Vec::new();
    for (i, name) in ["甲", "乙", "丙"].iter().enumerate() {
        risky.push(add(&s, &li, json!({"name": name, "phone": format!("1390000000{i}"), "annual_spend": 500})).await);
    }
    add(&s, &li, json!({"name": "稳", "phone": "13900000010", "annual_spend": 50000})).await;
    add(&s, &zhao, json!({"name": "丁", "phone": "13900000011"})).await;
    add(&s, &zhao, json!({"name": "戊", "phone": "13900000012", "annual_spend": 80000})).await;
    let weekly: Value = serde_json::from_str(include_str!("../../templates/crm-starter/triggers/weekly_churn.json")).unwrap();
    s.post("/api/v1/triggers", weekly).await.expect(201);

    // Saved at 09:00 on Monday 2 March: the first run is the next Monday.
    assert_eq!(s.clock("2026-03-09T00:59:00Z").await["triggers_fired"], 0);
    let run = s.clock("2026-03-09T01:00:00Z").await;
    assert_eq!(run["triggers_fired"], 1, "{run}");
    assert_eq!(notes(&s, &li).await, vec!["本周流失风险客户 3 位"]);
    assert_eq!(notes(&s, &zhao).await, vec!["本周流失风险客户 1 位"]);
    assert_eq!(notes(&s, &wang).await, vec!["团队本周流失风险客户 4 位"]);
    let body = s.get_as(&li, "/api/v1/notifications").await.expect(200).body["items"][0]["body"].as_str().unwrap().to_owned();
    assert_eq!(body, "- 甲（high）\n- 乙（high）\n- 丙（high）\n");
    let mails = s.get("/api/v1/deliveries").await.expect(200).body["items"].as_array().unwrap().clone();
    let mut to: Vec<&str> = mails.iter().filter(|d| d["subject"].as_str().is_some_and(|t| t.starts_with("本周"))).map(|d| d["target"].as_str().unwrap()).collect();
    to.sort();
    assert_eq!(to, vec!["li@example.com", "zhao@example.com"]);
    // One occurrence per customer picked, and one (the nil record) for the run.
    let occ = occurrences(&s, "weekly_churn").await;
    assert_eq!(occ.len(), 5);
    assert_eq!(occ.iter().filter(|o| o["record_id"] == "00000000-0000-0000-0000-000000000000").count(), 1);

    // Next week 乙 has spent enough: li's digest lists two.
    s.patch(&format!("/api/v1/forms/customer/records/{}", risky[1]), json!({"annual_spend": 20000}), None).await.expect(200);
    assert_eq!(s.clock("2026-03-16T01:00:00Z").await["triggers_fired"], 1);
    assert_eq!(notes(&s, &li).await, vec!["本周流失风险客户 2 位", "本周流失风险客户 3 位"]);

    // Monday 23 March is made a day off (a team outing): that week's digest is skipped, the next one comes.
    s.put("/api/v1/calendars/cn", json!({"key": "cn", "title": "公司日历", "holidays": ["2026-03-23"]})).await.expect(201);
    assert_eq!(s.clock("2026-03-23T01:00:00Z").await["triggers_fired"], 0);
    assert_eq!(s.clock("2026-03-30T01:00:00Z").await["triggers_fired"], 1);
    assert_eq!(notes(&s, &li).await.len(), 3);
    // Three weeks without the engine. 6 April is a day off (清明, 4–6 April 2026), so the next run was
    // 13 April's: found a week late, it is missed, and 20 April's, due as the engine wakes, comes once.
    assert_eq!(s.clock("2026-04-20T01:00:00Z").await["triggers_fired"], 1);
    assert_eq!(notes(&s, &li).await.len(), 4);
    let runs: Vec<(String, String)> = occurrences(&s, "weekly_churn")
        .await
        .into_iter()
        .filter(|o| o["record_id"] == "00000000-0000-0000-0000-000000000000")
        .map(|o| (o["at"].as_str().unwrap().to_owned(), o["status"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(runs[..2], [("2026-04-20T01:00:00Z".to_owned(), "fired".to_owned()), ("2026-04-13T01:00:00Z".to_owned(), "missed".to_owned())]);
    s.stop().await;
}

/// Moments that fall on a day off move to the next working day (China's
/// statutory holidays and make-up days built in, more added as data); quiet
/// hours hold a moment until they end.
async fn moments_keep_to_working_days_and_quiet_hours(b: Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    let (staff, _) = crm(&s).await;
    // National Day 2026: 1–7 October off, Saturday 10 October worked (调休).
    let days = s.get("/api/v1/calendars/cn/days?from=2026-10-01&to=2026-10-11").await.expect(200);
    let working: Vec<&str> = days.body["days"].as_array().unwrap().iter().filter(|d| d["working"] == true).map(|d| d["date"].as_str().unwrap()).collect();
    assert_eq!(working, vec!["2026-10-08", "2026-10-09", "2026-10-10"]);
    assert!(days.body["last_year"].as_i64().unwrap() >= 2026);
    let bad = s.get("/api/v1/calendars/cn/days?from=2026-13-01&to=2026-10-11").await.expect(400);
    assert_eq!(bad.body["param"], "from");
    s.get("/api/v1/calendars/moon/days?from=2026-10-01&to=2026-10-11").await.expect(404);

    s.post("/api/v1/triggers", json!({
        "key": "birthday", "form": "customer",
        "when": {"anniversary": "birthday", "at": "09:00", "on_day_off": "next_working_day"},
        "actions": [{"notify": "owner", "title": "生日：{{ record.name }}"}]
    }))
    .await
    .expect(201);
    s.post("/api/v1/triggers", json!({
        "key": "late_call", "form": "customer",
        "when": {"date": "birthday", "offset": "-1d", "at": "23:30", "quiet_hours": "21:00-08:00"},
        "actions": [{"notify": "owner", "title": "明天是生日：{{ record.name }}"}]
    }))
    .await
    .expect(201);
    add(&s, &staff, json!({"name": "国庆", "phone": "13700000001", "birthday": "1990-10-01"})).await;
    add(&s, &staff, json!({"name": "周三", "phone": "13700000002", "birthday": "2026-11-25"})).await;

    assert_eq!(s.clock("2026-10-01T01:00:00Z").await["triggers_fired"], 0, "National Day is a day off");
    assert_eq!(s.clock("2026-10-08T01:00:00Z").await["triggers_fired"], 1, "the first working day after it");
    assert_eq!(notes(&s, &staff).await, vec!["生日：国庆"]);
    // 23:30 on 24 November is quiet: the reminder waits until 08:00 (00:00 UTC) on the 25th.
    assert_eq!(s.clock("2026-11-24T15:30:00Z").await["triggers_fired"], 0);
    assert_eq!(s.clock("2026-11-25T00:00:00Z").await["triggers_fired"], 1);
    assert_eq!(s.clock("2026-11-25T01:00:00Z").await["triggers_fired"], 1, "the birthday itself, a Wednesday, at 09:00");
    assert_eq!(notes(&s, &staff).await, vec!["生日：周三", "明天是生日：周三", "生日：国庆"]);
    s.stop().await;
}

/// A cron trigger's per-record actions run once for each record its
/// condition picks, as the system actor, and not again when the run repeats.
async fn a_cron_trigger_acts_on_each_record_it_picks_once(b: Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    let (staff, _) = crm(&s).await;
    for i in 0..3 {
        add(&s, &staff, json!({"name": format!("客户{i}"), "phone": format!("1360000000{i}"), "vip": i == 0})).await;
    }
    s.post("/api/v1/triggers", json!({
        "key": "monthly_call", "form": "customer",
        "when": {"cron": "0 10 1 * *", "tz": "Asia/Shanghai"},
        "condition": "record.vip == true",
        "actions": [{"create_task": {"title": "月度回访：{{ record.name }}", "assignee": "owner", "due": "3d"}}, {"set": {"level": "\"A\""}}]
    }))
    .await
    .expect(201);
    // 10:00 on 1 April in Shanghai: one record picked (1), and the run (1).
    assert_eq!(s.clock("2026-04-01T02:00:00Z").await["triggers_fired"], 2);
    let tasks = s.get_as(&staff, "/api/v1/tasks").await.expect(200);
    let titles: Vec<&str> = tasks.body["items"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap()).collect();
    assert_eq!(titles, vec!["月度回访：客户0"]);
    let all = s.get("/api/v1/forms/customer/records").await.expect(200);
    let levels: Vec<(&str, &Value)> = all.body["items"].as_array().unwrap().iter().map(|r| (r["data"]["name"].as_str().unwrap(), &r["data"]["level"])).collect();
    assert_eq!(levels, vec![("客户2", &Value::Null), ("客户1", &Value::Null), ("客户0", &json!("A"))], "newest first");
    assert_eq!(s.clock("2026-04-30T00:00:00Z").await["triggers_fired"], 0);
    assert_eq!(s.clock("2026-05-01T02:00:00Z").await["triggers_fired"], 2, "once a month");
    assert_eq!(s.get_as(&staff, "/api/v1/tasks").await.expect(200).body["items"].as_array().unwrap().len(), 2);
    s.stop().await;
}

async fn a_trigger_switched_off_sends_nothing_and_switched_on_counts_from_then(b: Backend) {
    let Some(s) = Server::start_at(b, T0).await else { return };
    let (staff, _) = crm(&s).await;
    let id = add(&s, &staff, json!({"name": "王芳", "phone": "13800000001", "birthday": "1990-03-15"})).await;
    let birthday = json!({"key": "birthday", "form": "customer", "when": {"anniversary": "birthday", "at": "09:00"}, "actions": [{"notify": "owner", "title": "生日：{{ record.name }}"}], "enabled": false});
    s.post("/api/v1/triggers", birthday.clone()).await.expect(201);
    s.post("/api/v1/triggers", json!({"key": "welcome", "form": "customer", "when": {"event": "created"}, "actions": [{"notify": "owner", "title": "新客户：{{ record.name }}"}], "enabled": false})).await.expect(201);
    assert_eq!(s.get("/api/v1/triggers/birthday").await.expect(200).body["definition"]["enabled"], false);
    // Off: no next moment, nothing on its day, no event.
    let next = s.get(&format!("/api/v1/forms/customer/records/{id}/reminders")).await.expect(200).body;
    assert_eq!(next["items"], json!([]));
    add(&s, &staff, json!({"name": "李雷", "phone": "13800000002"})).await;
    assert_eq!(s.clock("2026-03-15T02:00:00Z").await["triggers_fired"], 0);
    assert_eq!(notes(&s, &staff).await, Vec::<String>::new());
    assert_eq!(occurrences(&s, "birthday").await.len(), 0);
    // On again (the key left out means on): the next moment is next year's, today's is not sent late.
    let mut on = birthday.clone();
    on.as_object_mut().unwrap().remove("enabled");
    s.put("/api/v1/triggers/birthday", on).await.expect(200);
    assert!(s.get("/api/v1/triggers/birthday").await.expect(200).body["definition"].get("enabled").is_none());
    let next = s.get(&format!("/api/v1/forms/customer/records/{id}/reminders")).await.expect(200).body;
    assert_eq!(next["items"], json!([{"trigger": "birthday", "at": "2027-03-15T01:00:00Z"}]));
    assert_eq!(s.clock("2027-03-15T01:00:00Z").await["triggers_fired"], 1);
    assert_eq!(notes(&s, &staff).await, vec!["生日：王芳"]);
    s.stop().await;
}
