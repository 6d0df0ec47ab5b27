//! The workspace in a real Chromium (see `browser.rs`): a record edited in
//! place and its change on the timeline; an edit conflict that keeps both
//! values; delete with undo, and restore from the trash; one record per
//! double-clicked 提交; 20 records assigned at once; staff, a manager and
//! the admin each meeting no refused call, no design menu for the first two,
//! people by name and no raw key or id on any page; no page wider than a
//! phone. Screenshots go to `target/tmp/screenshots/`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::harness::{ADMIN, Backend, PASSWORD, Server};

const ENTER: &str = "\u{E007}";

async fn crm(s: &Server) {
    s.call(reqwest::Method::POST, "/api/v1/packs?bundled=crm-starter", Some(&s.token), None, &[]).await.expect(200);
}

/// A user with a display name, through the users API; their id.
async fn person(s: &Server, email: &str, name: &str, role: &str, manager: Option<&str>) -> String {
    let u = s.post("/api/v1/users", json!({"email": email, "name": name, "role": role, "password": PASSWORD, "manager": manager})).await.expect(201).body;
    assert_eq!(u["name"], name);
    u["id"].as_str().unwrap().to_owned()
}

async fn count(s: &Server, filter: Value) -> i64 {
    let q = format!("/api/v1/forms/customer/records/count?filter={}", urlencoding(&filter.to_string()));
    s.get(&q).await.expect(200).body["count"].as_i64().unwrap()
}

fn urlencoding(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_edits_meets_a_conflict_deletes_restores_and_assigns_twenty_records() {
    let Some(s) = Server::start_at(Backend::Sqlite, "2026-12-01T02:00:00Z").await else { return };
    let Some(b) = Browser::start().await else { return };
    crm(&s).await;
    let wang = person(&s, "wang.fang@example.com", "王芳", "staff", None).await;
    let id = s.post("/api/v1/forms/customer/records", json!({"name": "周杰", "phone": "13912340001", "owner": ADMIN, "city": "杭州", "annual_spend": 30700})).await.expect(201).body["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/forms/customer/records/{id}");
    let app = format!("{}/app/", s.base);
    b.sign_in(&app).await;

    // The record page reads as people read: the owner by name, money formatted.
    b.client.goto(&format!("{app}#/forms/customer/records/{id}")).await.unwrap();
    b.text_of("dd[data-field=annual_spend]", "¥30,700.00").await;
    b.text_of("dd[data-field=owner]", "").await;

    // Edit in place; the change is on the timeline as 城市：杭州 → 宁波.
    b.click("#edit-record").await;
    b.fill("#details #f_city", "宁波").await;
    b.click("#details button[type=submit]").await;
    b.text_of("dd[data-field=city]", "宁波").await;
    let change = b.text_of("ol.timeline [data-change=city]", "宁波").await;
    assert!(change.contains("城市") && change.contains("杭州"), "{change}");
    assert_eq!(s.get(&path).await.expect(200).body["data"]["city"], "宁波");
    b.shot("30-record-edited").await;

    // Someone else saves while the form is open: both values are shown, what was typed stays, a second save keeps it.
    b.click("#edit-record").await;
    b.fill("#details #f_city", "苏州").await;
    s.patch(&path, json!({"city": "上海"}), None).await.expect(200);
    b.click("#details button[type=submit]").await;
    b.text_of("#conflict [data-conflict=city] .theirs", "上海").await;
    b.text_of("#conflict [data-conflict=city] .yours", "苏州").await;
    assert_eq!(b.find("#details #f_city").await.prop("value").await.unwrap().as_deref(), Some("苏州"));
    b.shot("31-edit-conflict").await;
    b.click("#details button[type=submit]").await;
    b.text_of("dd[data-field=city]", "苏州").await;
    assert_eq!(s.get(&path).await.expect(200).body["data"]["city"], "苏州");

    // Delete asks first; 撤销 brings it back.
    b.click("#delete-record").await;
    b.text_of("dialog.confirm", "周杰").await;
    b.shot("32-delete-confirm").await;
    b.click("dialog.confirm #confirm-ok").await;
    b.text_of("main h1", "记录").await;
    s.get(&path).await.expect(410);
    b.click("#toast-action").await;
    b.text_of("main h1", "周杰").await;
    s.get(&path).await.expect(200);

    // The trash: a record deleted elsewhere is restored from it.
    s.delete(&path).await.expect(204);
    b.client.goto(&format!("{app}#/settings/trash?form=customer")).await.unwrap();
    b.find(&format!("[data-restore='{id}']")).await;
    b.shot("33-trash").await;
    b.click(&format!("[data-restore='{id}']")).await;
    b.find("#trash-empty").await;
    s.get(&path).await.expect(200);

    // Entry: a double click on 提交 makes one record; the note links to it and the form is empty again.
    b.client.goto(&format!("{app}#/forms/customer/new")).await.unwrap();
    b.fill("#f_name", "吴双").await;
    b.fill("#f_phone", "13912340002").await;
    b.eval("const x = document.querySelector('form.rform button[type=submit]'); x.click(); x.click(); return true").await;
    b.find("#created-link").await;
    assert_eq!(b.find("#f_name").await.prop("value").await.unwrap().as_deref(), Some(""));
    assert_eq!(count(&s, json!({"name": {"_eq": "吴双"}})).await, 1, "one record per double click");

    // Bulk: 20 found by the search box, selected, assigned to 王芳 in one go.
    let batch: Vec<Value> = (0..20).map(|i| json!({"name": format!("批量客户{i:02}"), "phone": format!("1370000{i:04}"), "owner": ADMIN})).collect();
    s.post("/api/v1/forms/customer/records", Value::Array(batch)).await.expect(201);
    b.client.goto(&format!("{app}#/forms/customer/records")).await.unwrap();
    b.fill("#quick-search", "批量").await;
    b.find("#quick-search").await.send_keys(ENTER).await.unwrap();
    b.text_of("#record-count", "20").await;
    b.click("#select-all").await;
    b.text_of("#bulk", "已选 20 条").await;
    b.find("#bulk-owner").await.select_by_value(&wang).await.unwrap();
    b.click("#bulk-assign").await;
    b.click("dialog.confirm #confirm-ok").await;
    b.text_of("#bulk-summary", "成功 20 条").await;
    b.text_of("table.records", "王芳").await;
    b.shot("34-bulk-assigned").await;
    assert_eq!(count(&s, json!({"name": {"_contains": "批量"}, "owner": {"_in": [wang.as_str(), "wang.fang@example.com"]}})).await, 20);

    // A stage moved for all 20 at once; taken again, each row says why it cannot be.
    for (ok, failed) in [(20, 0), (0, 20)] {
        b.click("#select-all").await;
        b.find("#bulk-move").await.select_by_value("pipeline/contact").await.unwrap();
        b.click("#bulk-transition").await;
        b.click("dialog.confirm #confirm-ok").await;
        b.text_of("#bulk-summary", &format!("成功 {ok} 条，失败 {failed} 条")).await;
        assert_eq!(b.client.find_all(fantoccini::Locator::Css("#bulk li[data-failed]")).await.unwrap().len(), failed);
        if failed > 0 {
            b.shot("34-bulk-refused").await;
            b.click("#bulk .small").await;
            b.click("#select-all").await;
        }
    }
    let board = s.get("/api/v1/workflows/pipeline/board").await.expect(200).body;
    let contacted = board["columns"].as_array().unwrap().iter().find(|c| c["key"] == "contacted").unwrap()["count"].as_u64().unwrap();
    assert!(contacted >= 20, "{board}");
    b.stop().await;
    s.stop().await;
}

/// The pages a user visits in a day; `record` is a customer they may read.
fn pages(record: &str, admin: bool) -> Vec<String> {
    let mut p: Vec<String> = ["#/home", "#/records", "#/forms/customer/records", &format!("#/forms/customer/records/{record}"), "#/forms/customer/board/pipeline", "#/calendar?src=customer.contract_end", "#/tasks", "#/notifications", "#/dashboards", "#/settings/profile", "#/settings/tokens"]
        .iter().map(|s| s.to_string()).collect();
    if admin {
        p.extend(["#/settings/users", "#/settings/audit", "#/settings/trash", "#/settings/roles"].map(String::from));
    }
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_demo_staff_a_manager_and_the_admin_meet_no_refusal_and_read_names_not_ids() {
    let Some(s) = Server::start_at(Backend::Sqlite, "2026-12-01T02:00:00Z").await else { return };
    let Some(b) = Browser::start().await else { return };
    // The demo: the CRM pack with its sample data and its named users.
    let installed = s.call(reqwest::Method::POST, "/api/v1/packs?bundled=crm-starter&sample_data=true", Some(&s.token), None, &[]).await.expect(200).body;
    let password = installed["demo_password"].as_str().unwrap().to_owned();
    let users = s.get("/api/v1/users").await.expect(200).body;
    let id_of = |email: &str| users["items"].as_array().unwrap().iter().find(|u| u["email"] == email).map(|u| u["id"].as_str().unwrap().to_owned()).unwrap();
    assert!(users["items"].as_array().unwrap().iter().any(|u| u["name"] == "王芳"), "demo users have names: {users}");
    let wang = id_of("wang.fang@demo.trellis");
    let filter = json!({"owner": {"_in": [wang.as_str(), "wang.fang@demo.trellis"]}}).to_string();
    let mine = s.list("customer", &[("filter", filter.as_str()), ("limit", "1")]).await.expect(200).body["items"][0]["id"].as_str().unwrap().to_owned();

    // Every field key of the form that has a title, and every raw segment value with one: none may show where its title belongs.
    let form = s.get("/api/v1/forms/customer").await.expect(200).body["definition"].clone();
    let mut keys: Vec<String> = form["schema"]["properties"].as_object().unwrap().keys().filter(|k| k.len() > 2).cloned().collect();
    keys.extend(form["ui"]["widgets"].as_object().unwrap().iter().filter(|(_, w)| w.get("title").is_some()).map(|(k, _)| k.clone()));
    for seg in form["segments"].as_object().unwrap().values() {
        keys.extend(seg.get("values").and_then(Value::as_object).into_iter().flat_map(|v| v.keys().filter(|k| k.len() > 1).cloned()));
    }
    let raw = format!(r"\b({})\b", keys.join("|"));

    for (email, pass, lands_on, admin) in [("wang.fang@demo.trellis", password.as_str(), "王芳", false), ("chen.jing@demo.trellis", password.as_str(), "陈静", false), (ADMIN, PASSWORD, "表单", true)] {
        let app = format!("{}/app/", s.base);
        b.client.goto(&format!("{app}#/login")).await.unwrap();
        b.sign_in_with(&app, email, pass, lands_on).await;
        // Every script error or unhandled rejection on any page is collected (the app is one page: the listeners stay).
        b.eval("performance.setResourceTimingBufferSize(100000); performance.clearResourceTimings(); window.__errors = []; window.addEventListener('error', (e) => __errors.push(String(e.message))); window.addEventListener('unhandledrejection', (e) => __errors.push(String(e.reason))); const c = console.error; console.error = (...a) => { __errors.push(a.join(' ')); c(...a); }; return true").await;
        let nav: Vec<String> = serde_json::from_value(b.eval("return [...document.querySelectorAll('nav [data-nav]')].map(a => a.dataset.nav)").await).unwrap();
        for design in ["forms", "workflows", "triggers", "users", "packs", "roles"] {
            assert_eq!(nav.contains(&design.to_owned()), admin, "{email} and the {design} menu: {nav:?}");
        }
        let short = email.split('@').next().unwrap().replace('.', "-");
        for page in pages(&mine, admin) {
            b.client.goto(&format!("{app}{page}")).await.unwrap();
            b.settle().await;
            // What the page says, leaving out the choices of pickers (a person picker lists names with their emails, to tell apart two 王芳).
            let text = b.eval("const m = document.querySelector('main').cloneNode(true); m.querySelectorAll('select').forEach((x) => x.remove()); document.body.append(m); const t = m.innerText; m.remove(); return t").await.as_str().unwrap().to_owned();
            assert!(!b.eval("return !!document.querySelector('main > .notice.error')").await.as_bool().unwrap(), "{email} on {page}: {text}");
            let uuid = regex_find(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-", &text);
            assert!(uuid.is_none(), "{email} on {page} sees an id: {uuid:?}\n{text}");
            let key = regex_find(&raw, &text);
            assert!(key.is_none(), "{email} on {page} sees a raw key or value: {key:?}\n{text}");
            let email_shown = regex_find(r"[a-z.]+@demo\.trellis", &text);
            // The profile and the users page show emails on purpose (they are where an email is set and read).
            let shows_emails = page.ends_with("profile") || page.ends_with("users");
            assert!(shows_emails || email_shown.is_none(), "{email} on {page} sees an email where a name belongs: {email_shown:?}\n{text}");
            b.shot(&format!("40-{short}-{}", page.replace(&mine, "record").trim_start_matches("#/").replace(['/', '?', '='], "-"))).await;
        }
        let refused = b.eval("return performance.getEntriesByType('resource').filter(e => e.responseStatus >= 400).map(e => e.responseStatus + ' ' + e.name)").await;
        assert_eq!(refused, json!([]), "{email} was refused");
        assert_eq!(b.eval("return window.__errors").await, json!([]), "{email} met script errors");
        b.client.find(fantoccini::Locator::Css("#signout")).await.unwrap().click().await.unwrap();
        b.find("#email").await;
    }

    // A phone: no page is wider than the screen.
    b.client.set_window_size(390, 844).await.unwrap();
    let app = format!("{}/app/", s.base);
    b.sign_in_with(&app, "wang.fang@demo.trellis", &password, "王芳").await;
    for page in ["#/home", "#/forms/customer/records", &format!("#/forms/customer/records/{mine}"), "#/forms/customer/board/pipeline", "#/dashboards", "#/tasks", "#/calendar"] {
        b.client.goto(&format!("{app}{page}")).await.unwrap();
        b.settle().await;
        let wide = b.eval("return [document.documentElement.scrollWidth, window.innerWidth]").await;
        assert!(wide[0].as_i64() <= wide[1].as_i64(), "{page} is wider than the phone: {wide}");
        b.shot(&format!("41-phone-{}", page.replace(&mine, "record").trim_start_matches("#/").replace('/', "-"))).await;
    }
    b.client.set_window_size(1440, 1000).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    b.stop().await;
    s.stop().await;
}

fn regex_find(pattern: &str, text: &str) -> Option<String> {
    regex::Regex::new(pattern).unwrap().find(text).map(|m| m.as_str().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_dragged_on_the_board_moves_its_stage_and_a_guard_sends_it_back_and_the_calendar_shows_the_next_follow_up() {
    let Some(s) = Server::start_at(Backend::Sqlite, "2026-12-01T02:00:00Z").await else { return };
    let Some(b) = Browser::start().await else { return };
    crm(&s).await;
    let id = s.post("/api/v1/forms/customer/records", json!({"name": "看板客户", "phone": "13912340009", "owner": ADMIN, "annual_spend": 88000})).await.expect(201).body["id"].as_str().unwrap().to_owned();
    let state = |body: Value| body["items"].as_array().unwrap().iter().find(|i| i["workflow"] == "pipeline").map(|i| i["state"].as_str().unwrap().to_owned());
    let app = format!("{}/app/", s.base);
    b.sign_in(&app).await;

    // The list offers the pipeline's board; the card starts in 新线索.
    b.client.goto(&format!("{app}#/forms/customer/records")).await.unwrap();
    b.click("[data-view='board:pipeline']").await;
    let card = format!(".bcard[data-record='{id}']");
    b.find(&format!(".bcol[data-state=new_lead] {card}")).await;
    b.text_of(".bcol[data-state=new_lead] header .count", "1").await;
    b.shot("35-board").await;

    // Dragged column by column, each drop takes the transition between them.
    for (to, _) in [("contacted", "contact"), ("needs", "discover"), ("proposal", "propose")] {
        b.drag(&card, &format!(".bcol[data-state={to}] .blist")).await;
        b.find(&format!(".bcol[data-state={to}] {card}:not(.pending)")).await;
        let now = state(s.get(&format!("/api/v1/forms/customer/records/{id}/workflows")).await.expect(200).body);
        assert_eq!(now.as_deref(), Some(to));
    }
    // 谈判 needs a quote amount: the guard refuses, the card goes back to 方案报价 with the reason.
    b.drag(&card, ".bcol[data-state=negotiation] .blist").await;
    let why = b.text_of("#board-status", "").await;
    assert!(!why.is_empty());
    b.find(&format!(".bcol[data-state=proposal] {card}.refused, .bcol[data-state=proposal] {card}[data-refused]")).await;
    b.shot("36-board-refused").await;
    assert_eq!(state(s.get(&format!("/api/v1/forms/customer/records/{id}/workflows")).await.expect(200).body).as_deref(), Some("proposal"));
    // No transition leads from 方案报价 back to 新线索: refused without asking the server.
    b.drag(&card, ".bcol[data-state=new_lead] .blist").await;
    b.text_of("#board-status", "不能直接到").await;
    // With an amount, the same move goes through (by the card's menu, as a keyboard or a phone would).
    s.patch(&format!("/api/v1/forms/customer/records/{id}"), json!({"quote_amount": 50000}), None).await.expect(200);
    b.client.refresh().await.unwrap();
    b.find(&format!("{card} select.move")).await.select_by_value("negotiation").await.unwrap();
    b.find(&format!(".bcol[data-state=negotiation] {card}:not(.pending)")).await;
    assert_eq!(state(s.get(&format!("/api/v1/forms/customer/records/{id}/workflows")).await.expect(200).body).as_deref(), Some("negotiation"));
    // Into 成交, a final stage: asked first.
    b.find(&format!("{card} select.move")).await.select_by_value("won").await.unwrap();
    b.text_of("dialog.confirm", "成交").await;
    b.click("dialog.confirm #confirm-ok").await;
    b.find(&format!(".bcol[data-state=won] {card}:not(.pending)")).await;

    // The handover task the win made (for the managers): completed after a confirmation, then taken back by 撤销.
    person(&s, "chen@example.com", "陈经理", "manager", None).await;
    b.click("#signout").await;
    b.sign_in_as(&app, "chen@example.com", "陈经理").await;
    b.client.goto(&format!("{app}#/tasks")).await.unwrap();
    b.text_of(".task", "交接：看板客户").await;
    let task = b.find(".task[data-task]").await.attr("data-task").await.unwrap().unwrap();
    b.click(&format!("[data-complete='{task}']")).await;
    b.text_of("dialog.confirm", "交接：看板客户").await;
    b.click("dialog.confirm #confirm-ok").await;
    b.find("#toast-action").await;
    assert_eq!(s.get(&format!("/api/v1/tasks/{task}")).await.expect(200).body["status"], "done");
    b.click("#toast-action").await;
    b.find(&format!(".task[data-task='{task}'] [data-complete]")).await;
    assert_eq!(s.get(&format!("/api/v1/tasks/{task}")).await.expect(200).body["status"], "open");
    b.click("#signout").await;
    b.sign_in(&app).await;

    // A follow-up logged on the record page with its next date: on the calendar that day.
    let next = b.eval("const d = new Date(); d.setDate(d.getDate() + 3); return d.getFullYear() + '-' + String(d.getMonth() + 1).padStart(2, '0') + '-' + String(d.getDate()).padStart(2, '0')").await.as_str().unwrap().to_owned();
    b.client.goto(&format!("{app}#/forms/customer/records/{id}")).await.unwrap();
    b.fill(".card #f_topic", "约下周拜访").await;
    b.eval("document.querySelector('.card #f_at').value = '2026-12-01T10:00'; return true").await;
    b.eval(&format!("document.querySelector('.card #f_next_date').value = '{next}'; return true")).await;
    b.find(".card form.rform button[type=submit]").await.click().await.unwrap();
    b.text_of("ol.timeline", "约下周拜访").await;
    // The inbox by record: the record page leads to its tasks.
    b.click("#record-tasks").await;
    b.text_of("#tasks-of", "看板客户").await;
    b.text_of(".task", "交接：看板客户").await;
    // The birthday reminder of a customer is on the calendar too, at the day it goes out.
    s.patch(&format!("/api/v1/forms/customer/records/{id}"), json!({"birthday": "1990-12-10"}), None).await.expect(200);
    b.client.goto(&format!("{app}#/calendar?mode=month&d=2026-12-01")).await.unwrap();
    b.text_of(".day[data-day='2026-12-10'] .chip.reminder", "生日祝福：看板客户").await;
    b.client.goto(&format!("{app}#/calendar")).await.unwrap();
    b.find("#cal-source").await.select_by_value("follow_up.next_date").await.unwrap();
    b.text_of(&format!(".day[data-day='{next}']"), "约下周拜访").await;
    b.shot("37-calendar-month").await;
    b.click("#cal-week").await;
    b.text_of(&format!(".calendar.week .day[data-day='{next}']"), "约下周拜访").await;
    b.shot("38-calendar-week").await;
    b.stop().await;
    s.stop().await;
}

/// axe-core (installed by `.ci/run` under `target/axe`), or `None` when it is
/// not there and `CI` is not set (then the check says so and is skipped).
fn axe_source() -> Option<String> {
    let path = std::env::var("TRELLIS_AXE").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/axe/node_modules/axe-core/axe.min.js").to_owned());
    match std::fs::read_to_string(&path) {
        Ok(s) => Some(s),
        Err(e) => {
            assert!(std::env::var_os("CI").is_none(), "axe-core is not at {path} ({e}); .ci/run installs it");
            eprintln!("skipping the accessibility check: no axe-core at {path}");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workspace_pages_have_no_serious_accessibility_violations() {
    let Some(axe) = axe_source() else { return };
    let Some(s) = Server::start_at(Backend::Sqlite, "2026-12-01T02:00:00Z").await else { return };
    let Some(b) = Browser::start().await else { return };
    crm(&s).await;
    person(&s, "wang.fang@example.com", "王芳", "staff", None).await;
    let id = s.post("/api/v1/forms/customer/records", json!({"name": "无障碍客户", "phone": "13912340010", "owner": "wang.fang@example.com", "annual_spend": 5000})).await.expect(201).body["id"].as_str().unwrap().to_owned();
    let app = format!("{}/app/", s.base);
    b.sign_in_as(&app, "wang.fang@example.com", "王芳").await;
    let mut found = Vec::new();
    for page in ["#/home", "#/records", "#/forms/customer/records", &format!("#/forms/customer/records/{id}"), "#/forms/customer/board/pipeline", "#/calendar", "#/tasks", "#/notifications", "#/dashboards", "#/forms/customer/new", "#/settings/profile"] {
        b.client.goto(&format!("{app}{page}")).await.unwrap();
        b.settle().await;
        b.eval(&format!("{axe}; return true")).await;
        let result = b.client.execute_async(
            "const done = arguments[arguments.length - 1]; axe.run(document, { resultTypes: ['violations'] }).then((r) => done(r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) })))).catch((e) => done([{ id: 'axe-failed', help: String(e) }]));",
            vec![],
        ).await.unwrap();
        for v in result.as_array().unwrap() {
            found.push(format!("{page}: {v}"));
        }
    }
    assert!(found.is_empty(), "serious accessibility violations:\n{}", found.join("\n"));
    b.stop().await;
    s.stop().await;
}
