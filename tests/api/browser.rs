//! The browser UI end to end, in a real headless Chromium driven over
//! WebDriver (Debian's `chromium` and `chromium-driver`, which `.ci/run`
//! installs): sign in; design a form with three fields by drag and drop;
//! publish it; add a segment rule and test it; fill the form in the
//! record-entry view (an invalid phone first); install a pack from the
//! gallery. Screenshots of each page go to `target/tmp/screenshots/`.
//!
//! Without chromedriver the test says so and passes, unless `CI` is set: then it fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::harness::{ADMIN, Backend, PASSWORD, Server};

pub(crate) struct Browser {
    pub(crate) client: Client,
    driver: Child,
    shots: PathBuf,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Chromium under chromedriver on a free port; `None` (skip) when chromedriver is missing and `CI` is not set.
    pub(crate) async fn start() -> Option<Browser> {
        let driver_bin = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].into_iter().find(|p| Path::new(p).exists());
        let Some(driver_bin) = driver_bin else {
            assert!(std::env::var_os("CI").is_none(), "chromedriver is not installed (apt-get install chromium chromium-driver); CI needs the browser tests");
            eprintln!("skipping the browser test: chromedriver is not installed");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(driver_bin).arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("chromedriver starts");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic", "--window-size=1440,1000", "--lang=zh-CN",
        ];
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let caps = json!({"goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}});
        let caps = caps.as_object().unwrap().clone();
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Some(Browser { client, driver, shots, _profile: profile })
    }

    pub(crate) async fn shot(&self, name: &str) {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    pub(crate) async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
    }

    /// Waits until the element's text contains `want`.
    pub(crate) async fn text_of(&self, css: &str, want: &str) -> String {
        let mut last = String::new();
        for _ in 0..100 {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                last = e.text().await.unwrap_or_default();
                if last.contains(want) {
                    return last;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{css} never said {want:?}; it says {last:?}");
    }

    /// Clicks `css`, finding it again if the page redrew it in between.
    pub(crate) async fn click(&self, css: &str) {
        for _ in 0..5 {
            if self.find(css).await.click().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{css} could not be clicked");
    }

    pub(crate) async fn fill(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    /// Drags `from` with the mouse and drops it at the bottom of `to`, through pointer events as a person would.
    pub(crate) async fn drag(&self, from: &str, to: &str) {
        self.drag_to(from, to, 0.5).await;
    }

    /// Drags `from` and drops it at `at` of `to`'s height (0: its top edge, 0.5: its bottom edge).
    async fn drag_to(&self, from: &str, to: &str, at: f64) {
        let src = self.find(from).await;
        let dst = self.find(to).await;
        let (_, _, _, h) = dst.rectangle().await.unwrap();
        let mouse = MouseActions::new("mouse".into())
            .then(PointerAction::MoveToElement { element: src, duration: None, x: 0.0, y: 0.0 })
            .then(PointerAction::Down { button: MOUSE_BUTTON_LEFT })
            .then(PointerAction::MoveBy { duration: Some(Duration::from_millis(100)), x: 12.0, y: 8.0 })
            .then(PointerAction::MoveToElement { element: dst.clone(), duration: Some(Duration::from_millis(250)), x: 0.0, y: (at - 0.5) * h + if at > 0.4 { h / 2.0 - 6.0 } else { 4.0 } })
            .then(PointerAction::Up { button: MOUSE_BUTTON_LEFT });
        self.client.perform_actions(mouse).await.unwrap();
    }

    /// Signs the admin in at the app's address and waits for the forms page.
    pub(crate) async fn sign_in(&self, app: &str) {
        self.sign_in_as(app, ADMIN, "表单").await;
    }

    /// Signs `email` in (the test password) and waits for the landing page's heading to say `lands_on`.
    pub(crate) async fn sign_in_as(&self, app: &str, email: &str, lands_on: &str) {
        self.sign_in_with(app, email, PASSWORD, lands_on).await;
    }

    /// Signs `email` in with `password` and waits for the landing page's heading to say `lands_on`.
    pub(crate) async fn sign_in_with(&self, app: &str, email: &str, password: &str, lands_on: &str) {
        self.client.goto(app).await.unwrap();
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.find("button[type=submit]").await.click().await.unwrap();
        self.text_of("main h1", lands_on).await;
    }

    /// Runs a script in the page and returns what it returns.
    pub(crate) async fn eval(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Waits until the page has stopped loading (no `.loading` and no `aria-busy` main).
    pub(crate) async fn settle(&self) {
        for _ in 0..100 {
            if self.eval("return !document.querySelector('main[aria-busy], .loading')").await == Value::Bool(true) {
                tokio::time::sleep(Duration::from_millis(200)).await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the page never finished loading");
    }

    pub(crate) async fn stop(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_designs_a_form_adds_a_rule_and_enters_a_record_in_the_browser() {
    let Some(s) = Server::start(Backend::Sqlite).await else { return };
    let Some(b) = Browser::start().await else { return };
    let app = format!("{}/app/", s.base);

    // Sign in (a wrong password first).
    b.client.goto(&app).await.unwrap();
    b.fill("#email", ADMIN).await;
    b.fill("#password", "not the password").await;
    b.find("button[type=submit]").await.click().await.unwrap();
    b.text_of(".login .field-error", "不正确").await;
    b.shot("01-sign-in").await;
    b.fill("#password", PASSWORD).await;
    b.find("button[type=submit]").await.click().await.unwrap();
    b.text_of("main h1", "表单").await;

    // A new form, designed by dragging three fields from the palette onto the canvas.
    b.find("#new-form-button").await.click().await.unwrap();
    b.fill("input[name=new-key]", "member").await;
    b.fill("input[name=new-title]", "会员").await;
    b.find("#create-form").await.click().await.unwrap();
    b.find(".palette .item[data-kind=text]").await;
    b.shot("02-designer-empty").await;
    for (kind, key, label) in [("text", "name", "姓名"), ("phone", "phone", "手机"), ("number", "spend", "年消费")] {
        b.drag(&format!(".palette .item[data-kind={kind}]"), "[data-section-box='0']").await;
        // The dropped field is selected: name it.
        b.find(&format!(".fcard.selected[data-key={kind}_1]")).await;
        b.fill(".props input[name=label]", label).await;
        b.fill(".props input[name=key]", key).await;
    }
    // Reorder: the spend card dragged above the name card goes first, then back to the end.
    b.drag_to(".fcard[data-key=spend] .grip", ".fcard[data-key=name]", 0.0).await;
    b.find(".fcard:first-child[data-key=spend]").await;
    b.drag(".fcard[data-key=spend] .grip", "[data-section-box='0']").await;
    b.find(".fcard:last-child[data-key=spend]").await;
    // The first field is required; the preview shows all three.
    b.find(".fcard[data-key=name]").await.click().await.unwrap();
    b.find(".props input[name=required]").await.click().await.unwrap();
    let cards: Vec<String> = {
        let mut out = Vec::new();
        for c in b.client.find_all(Locator::Css(".fcard")).await.unwrap() {
            out.push(c.attr("data-key").await.unwrap().unwrap());
        }
        out
    };
    assert_eq!(cards, ["name", "phone", "spend"]);
    assert_eq!(b.client.find_all(Locator::Css(".preview .fld")).await.unwrap().len(), 3);
    b.shot("03-designer-three-fields").await;

    b.find("#publish").await.click().await.unwrap();
    b.text_of("#publish-dialog", "新增：姓名、手机、年消费").await;
    b.shot("04-publish-summary").await;
    b.find("#confirm-publish").await.click().await.unwrap();
    b.text_of(".notice.ok", "1").await;
    let form = s.get("/api/v1/forms/member").await.expect(200).body;
    let def = &form["definition"];
    assert_eq!(def["schema"]["properties"]["phone"]["format"], "phone");
    assert_eq!(def["schema"]["properties"]["spend"]["type"], "number");
    assert_eq!(def["schema"]["properties"]["name"]["title"], "姓名");
    assert_eq!(def["schema"]["required"], json!(["name"]));
    assert_eq!(def["ui"]["layout"][0]["fields"], json!(["name", "phone", "spend"]));

    // A computed field in the code editor: a compile error is shown at its line as you type, then it is tested.
    b.client.goto(&format!("{app}#/forms/member/rules")).await.unwrap();
    b.find("[data-add=computed]").await.click().await.unwrap();
    b.fill("input[name=rule-key]", "spend_k\u{E007}").await;
    b.find("[data-rule='computed/spend_k']").await;
    b.find("[data-to-script]").await.click().await.unwrap();
    b.fill("code-editor textarea", "let s = record.spend;\nif s >= 10000 { 1 } else {").await;
    b.text_of("#rule-result", "第 2 行").await;
    assert!(b.find(".ce .gutter .bad").await.text().await.unwrap().contains('2'), "the error is marked at line 2");
    b.fill("code-editor textarea", "let s = coalesce(record.spend, 0);\ns / 1000").await;
    b.fill("textarea[name=sample]", r#"{"name": "张三", "spend": 20000}"#).await;
    b.find("#rule-test").await.click().await.unwrap();
    b.text_of("#rule-result", "20").await;
    // A segment by picking: a tier by thresholds on spend.
    b.find("[data-add=segments]").await.click().await.unwrap();
    b.fill("input[name=rule-key]", "tier\u{E007}").await;
    b.find("[data-rule='segments/tier']").await;
    b.find("select[name=threshold-field]").await.select_by_value("record.spend").await.unwrap();
    b.find("[data-add-threshold]").await.click().await.unwrap();
    b.fill("input[name=threshold-0]", "10000").await;
    b.fill("input[name=threshold-label-0]", "A").await;
    b.fill("input[name=otherwise]", "B").await;
    b.shot("05-rules").await;
    b.find("#save-rules").await.click().await.unwrap();
    b.text_of(".notice.ok", "2").await;
    let form = s.get("/api/v1/forms/member").await.expect(200).body;
    assert_eq!(form["definition"]["segments"]["tier"], json!({"kind": "label", "script": "if record.spend >= 10000 { \"A\" } else { \"B\" }"}));
    assert_eq!(form["definition"]["computed"]["spend_k"], "let s = coalesce(record.spend, 0);\ns / 1000");

    // The record-entry view: the server refuses a bad phone at its field; a good one is saved.
    b.client.goto(&format!("{app}#/forms/member/new")).await.unwrap();
    b.fill("#f_name", "李雷").await;
    b.fill("#f_phone", "12345").await;
    b.fill("#f_spend", "25000").await;
    b.find("form.rform button[type=submit]").await.click().await.unwrap();
    let err = b.text_of(".fld[data-field=phone] .field-error", "").await;
    b.find(".fld.has-error[data-field=phone]").await;
    b.shot("06-entry-invalid-phone").await;
    b.fill("#f_phone", "13800138000").await;
    b.find("form.rform button[type=submit]").await.click().await.unwrap();
    b.text_of("#entry-done", "已创建").await;
    b.shot("07-entry-saved").await;
    let page = s.list("member", &[]).await.expect(200).body;
    assert_eq!(page["items"][0]["data"]["phone"], "13800138000", "{err}");
    assert_eq!(page["items"][0]["segments"]["tier"], "A");
    b.client.goto(&format!("{app}#/forms/member/records")).await.unwrap();
    b.text_of("table.list", "李雷").await;
    b.shot("08-records").await;

    // The pack gallery installs the bundled CRM pack.
    b.client.goto(&format!("{app}#/settings/packs")).await.unwrap();
    b.find("[data-install=crm-starter]").await.click().await.unwrap();
    b.text_of("#pack-status", "crm-starter").await;
    b.find("[data-export=crm-starter]").await;
    b.shot("09-packs").await;
    let packs: Value = s.get("/api/v1/packs").await.expect(200).body;
    assert_eq!(packs["items"][0]["name"], "crm-starter");

    // The designer writes back every form it reads unchanged: the pack's 7 forms (rollups, computed
    // fields, integers, free tags, sub-tables, widgets) survive designer → definition → designer as they are.
    let differ = b
        .client
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            (async () => {
              const d = await import('/app/static/js/designer.js');
              const api = await import('/app/static/js/api.js');
              const stable = (v) => Array.isArray(v) ? `[${v.map(stable).join(',')}]` : v && typeof v === 'object' ? `{${Object.keys(v).sort().map((k) => JSON.stringify(k) + ':' + stable(v[k])).join(',')}}` : JSON.stringify(v);
              const out = [];
              for (const f of (await api.get('/api/v1/forms')).items) {
                const def = (await api.get(`/api/v1/forms/${f.key}`)).definition;
                const again = d.definitionOf(d.modelOf(def));
                const s = d.changeSummary(def, again);
                if (stable(again) !== stable(def) || s.changed.length || s.added.length || s.removed.length || s.layout) out.push(f.key);
              }
              done(out);
            })().catch((e) => done(['error: ' + e]));"#,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(differ, json!([]), "forms the designer would change without an edit");

    // Users: an admin adds a staff member to a manager's team.
    b.client.goto(&format!("{app}#/settings/users")).await.unwrap();
    b.fill("input[name=user-email]", "wang@example.com").await;
    b.fill("input[name=user-password]", "wang-password-1").await;
    b.find("#add-user").await.click().await.unwrap();
    b.find("tr[data-user='wang@example.com']").await;
    b.shot("13-users").await;
    let users = s.get("/api/v1/users").await.expect(200).body;
    assert!(users["items"].as_array().unwrap().iter().any(|u| u["email"] == "wang@example.com" && u["role"] == "staff"), "{users}");
    b.client.goto(&format!("{app}#/dashboards")).await.unwrap();
    b.find("[data-widget=customers_total] .metric").await;

    // The workflow designer: the diagram is the editor. A hand-written guard that does not compile is
    // refused, and the problem shown at its input (the transition opened); a timer set by picking; a
    // transition drawn by dragging from one state onto another.
    b.client.goto(&format!("{app}#/workflows/pipeline")).await.unwrap();
    b.find(".wf-diagram rect[data-state=new_lead]").await;
    assert!(b.client.find_all(Locator::Css(".wf-diagram rect[data-state]")).await.unwrap().len() >= 6, "every state is drawn");
    b.click("[data-transition=quote]").await;
    b.click("[data-condition=guard] details summary").await;
    b.click("[data-condition=guard] [data-to-script]").await;
    b.fill("[data-condition=guard] code-editor textarea", "record.quote_amount >").await;
    b.click("[data-transition=win]").await;
    b.find("#publish-workflow").await.click().await.unwrap();
    b.find("[data-pointer='/transitions/4/guard'].bad-input").await;
    b.text_of(".inline-error", "第 1 行").await;
    b.shot("10-workflow-designer-error").await;
    b.fill("[data-condition=guard] code-editor textarea", "present(record.quote_amount) && record.quote_amount > 1000").await;
    b.click("[data-node=new_lead]").await;
    b.fill("input[name=timer-0-after]", "48").await;
    b.drag("[data-handle=proposal]", "[data-node=needs]").await;
    b.text_of(".wf-panel h2", "需求确认").await;
    b.find("#publish-workflow").await.click().await.unwrap();
    b.text_of(".notice.ok", "2").await;
    b.shot("10b-workflow-designer").await;
    let wf = s.get("/api/v1/workflows/pipeline").await.expect(200).body;
    assert_eq!(wf["definition"]["states"]["new_lead"]["timers"][0]["after"], "48h");
    assert_eq!(wf["definition"]["transitions"][4]["guard"], "present(record.quote_amount) && record.quote_amount > 1000");
    let added = wf["definition"]["transitions"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((&added["key"], &added["title"], &added["from"], &added["to"]), (&json!("to_needs"), &json!("需求确认"), &json!("proposal"), &json!("needs")), "{added}");

    // The trigger designer: the message previews against a sample record as it is typed; a new date trigger is published.
    b.client.goto(&format!("{app}#/triggers/birthday")).await.unwrap();
    b.text_of("#message-preview", "张三").await;
    b.fill("textarea[name=template]", "subject: 生日快乐\n{{ record.name }}，祝您生日快乐！").await;
    b.text_of("#message-preview .subject", "生日快乐").await;
    b.text_of("#message-preview .body", "张三，祝您生日快乐").await;
    b.shot("11-trigger-designer").await;
    b.client.goto(&format!("{app}#/triggers/renewal_60?new=1")).await.unwrap();
    b.find("select[name=form]").await.select_by_value("customer").await.unwrap();
    b.find("select[name=when-kind]").await.select_by_value("date").await.unwrap();
    b.find("select[name=when-date]").await.select_by_value("contract_end").await.unwrap();
    b.fill("input[name=when-offset-days]", "60").await;
    b.find("#publish-trigger").await.click().await.unwrap();
    b.text_of(".notice.ok", "1").await;
    b.shot("12-trigger-new").await;
    let tr = s.get("/api/v1/triggers/renewal_60").await.expect(200).body;
    assert_eq!(tr["definition"]["when"], json!({"date": "contract_end", "offset": "-60d", "at": "09:00"}));

    // On a phone's width the shell folds and the entry form takes one column.
    b.client.set_window_size(390, 844).await.unwrap();
    b.client.goto(&format!("{app}#/forms/member/new")).await.unwrap();
    b.find("#f_name").await;
    b.shot("14-entry-phone").await;

    b.stop().await;
    s.stop().await;
}

/// The staff workspace: a customer entered with an invalid then a valid
/// phone, its tier badge, a follow-up logged on its page and seen on the
/// timeline, the pipeline advanced by its buttons (a guard's message shown),
/// a revisit task completed with its form (satisfaction, NPS), the
/// notifications, and the dashboard's charts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_work_a_customer_from_entry_to_revisit_and_see_the_dashboard() {
    let Some(s) = Server::start_at(Backend::Sqlite, "2026-12-01T02:00:00Z").await else { return };
    let Some(b) = Browser::start().await else { return };
    s.call(reqwest::Method::POST, "/api/v1/packs?bundled=crm-starter", Some(&s.token), None, &[]).await.expect(200);
    let app = format!("{}/app/", s.base);
    b.sign_in(&app).await;

    // Entry: an invalid phone is refused at its field, a valid one saved.
    b.client.goto(&format!("{app}#/forms/customer/new")).await.unwrap();
    b.fill("#f_name", "王小明").await;
    b.fill("#f_phone", "1380013").await;
    b.fill("#f_email", "xiaoming@example.com").await;
    b.find("form.rform button[type=submit]").await.click().await.unwrap();
    b.find(".fld.has-error[data-field=phone]").await;
    b.shot("20-customer-invalid-phone").await;
    b.fill("#f_phone", "13912340000").await;
    b.find("form.rform button[type=submit]").await.click().await.unwrap();
    b.text_of("#entry-done", "已创建").await;
    let id = s.list("customer", &[]).await.expect(200).body["items"][0]["id"].as_str().unwrap().to_owned();

    // Its page: the tier badge, the pipeline at its first stage.
    b.client.goto(&format!("{app}#/forms/customer/records")).await.unwrap();
    b.find(&format!("tr[data-record='{id}']")).await.click().await.unwrap();
    b.text_of("[data-segment=tier]", "C").await;
    b.find("[data-workflow=pipeline] .stage.on[data-stage=new_lead]").await;

    // A follow-up logged on the page: on the timeline, and the pipeline moves on by itself (有跟进记录).
    b.fill(".card #f_topic", "电话沟通需求").await;
    b.client.execute("document.querySelector('.card #f_at').value = '2026-12-01T10:00'", vec![]).await.unwrap();
    b.find(".card form.rform button[type=submit]").await.click().await.unwrap();
    b.text_of("ol.timeline", "电话沟通需求").await;
    b.find("[data-workflow=pipeline] .stage.on[data-stage=contacted]").await;
    b.shot("21-record-page").await;

    // The pipeline by its buttons; the quote's guard says why it refuses until there is an amount.
    for step in ["discover", "propose"] {
        b.find(&format!("[data-transition={step}]")).await.click().await.unwrap();
        b.find(&format!("[data-workflow=pipeline] .stage.on[data-stage={}]", if step == "discover" { "needs" } else { "proposal" })).await;
    }
    // Without an amount the quote is refused: its button is disabled and the guard's message shown beside it.
    let refusal = b.text_of("[data-blocked=quote]", "").await;
    assert!(!refusal.is_empty());
    assert!(b.find("[data-transition=quote]").await.attr("disabled").await.unwrap().is_some());
    s.patch(&format!("/api/v1/forms/customer/records/{id}"), json!({"quote_amount": 80000}), None).await.expect(200);
    b.client.refresh().await.unwrap();
    b.find("[data-transition=quote]").await.click().await.unwrap();
    b.find("[data-workflow=pipeline] .stage.on[data-stage=negotiation]").await;
    // Into a final stage is asked first.
    b.find("[data-transition=win]").await.click().await.unwrap();
    b.click("dialog.confirm #confirm-ok").await;
    b.find("[data-workflow=revisit_plan]").await;
    // The welcome email the win queued is on the timeline (the admin sees the outbox).
    b.find("ol.timeline li[data-kind=email]").await;
    b.shot("22-pipeline-won").await;

    // A week later the revisit task is in the inbox; it is completed with its form.
    s.clock("2026-12-08T03:00:00Z").await;
    b.client.goto(&format!("{app}#/tasks")).await.unwrap();
    b.text_of(".task", "7天回访").await;
    b.find("[data-complete]").await.click().await.unwrap();
    b.find(".task-form .stars").await;
    b.client.execute("document.querySelector('.task-form #f_date').value = '2026-12-08'", vec![]).await.unwrap();
    b.find(".task-form .stars button:nth-child(5)").await.click().await.unwrap();
    b.find(".task-form .nps button:nth-child(10)").await.click().await.unwrap();
    b.shot("23-task-revisit-form").await;
    b.find(".task-form button[type=submit]").await.click().await.unwrap();
    b.text_of("main", "没有待办任务").await;
    let revisits = s.list("revisit", &[]).await.expect(200).body;
    assert_eq!(revisits["items"][0]["data"]["nps"], 9, "{revisits}");
    assert_eq!(revisits["items"][0]["data"]["satisfaction"], 5);
    assert_eq!(revisits["items"][0]["data"]["customer"], id.as_str());

    // The list: 60 more customers; the count, a segment filter, a sort by a column, paging, a saved view.
    let batch: Vec<Value> = (0..60).map(|i| json!({"name": format!("客户{i:02}"), "phone": format!("1390000{i:04}"), "owner": ADMIN, "annual_spend": if i % 3 == 0 { 50000 } else { 1000 + i }})).collect();
    s.post("/api/v1/forms/customer/records", Value::Array(batch)).await.expect(201);
    b.client.goto(&format!("{app}#/forms/customer/records")).await.unwrap();
    b.text_of("#record-count", "61").await;
    assert_eq!(b.client.find_all(Locator::Css("tbody tr[data-record]")).await.unwrap().len(), 50, "a page is 50");
    b.find("#more").await.click().await.unwrap();
    for _ in 0..50 {
        if b.client.find_all(Locator::Css("tbody tr[data-record]")).await.unwrap().len() == 61 { break; }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(b.client.find_all(Locator::Css("tbody tr[data-record]")).await.unwrap().len(), 61, "more loads the rest");
    b.find("#add-cond").await.click().await.unwrap();
    b.find("select[name=cond-target-0]").await.select_by_value("segments.tier").await.unwrap();
    // The tier's values are offered by their titles.
    b.text_of("select[name=cond-value-0]", "B 重要").await;
    b.find("select[name=cond-value-0]").await.select_by_value("B").await.unwrap();
    b.find("#apply-filter").await.click().await.unwrap();
    b.text_of("#record-count", "20").await;
    b.click(".cols-pick summary").await;
    b.click("input[data-column=annual_spend]").await;
    b.click(".cols-pick summary").await;
    b.click("th[data-sort=annual_spend]").await;
    b.text_of("th[data-sort=annual_spend]", "↑").await;
    b.click("th[data-sort=annual_spend]").await;
    b.text_of("th[data-sort=annual_spend]", "↓").await;
    b.fill("input[name=view-name]", "B级客户").await;
    b.find("#save-view").await.click().await.unwrap();
    b.shot("26-list-filtered").await;
    // Kept on the server: the view is there after a reload, in any browser.
    let views = s.get("/api/v1/forms/customer/views").await.expect(200).body;
    assert_eq!(views["items"][0]["name"], "B级客户", "{views}");
    b.client.refresh().await.unwrap();
    b.find("select[name=view]").await.select_by_label("B级客户").await.unwrap();
    b.text_of("#record-count", "20").await;

    // A link field searches the linked form by its title.
    b.client.goto(&format!("{app}#/forms/follow_up/new")).await.unwrap();
    b.fill("input[name=customer-search]", "王小").await;
    b.text_of("#f_customer", "王小明").await;
    assert_eq!(b.client.find_all(Locator::Css("#f_customer option")).await.unwrap().len(), 2, "only the match (and the empty choice)");

    // Notifications: the bell's inbox lists them.
    b.client.goto(&format!("{app}#/notifications")).await.unwrap();
    b.find("main h1").await;
    b.shot("24-notifications").await;

    // The dashboard draws its charts from the records.
    b.client.goto(&format!("{app}#/dashboards")).await.unwrap();
    b.find("[data-widget=customers_by_tier]").await;
    b.shot("25-dashboard").await;
    b.find("[data-widget=customers_by_tier] svg.chart.pie path").await;
    b.find("[data-widget=pipeline_funnel] svg.chart.funnel rect").await;
    let won = b.find("[data-widget=pipeline_funnel] text:nth-of-type(6)").await.text().await.unwrap();
    assert_eq!(won.split_whitespace().collect::<Vec<_>>(), ["成交", "1"], "the won deal counts in the funnel");
    b.find("[data-widget=follow_ups_per_week] svg.chart.line circle").await;
    b.text_of("[data-widget=customers_total] .metric", "1").await;
    b.shot("25-dashboard").await;
    b.stop().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_checks_a_spreadsheet_maps_a_column_imports_it_and_exports_the_list() {
    let Some(s) = Server::start(Backend::Sqlite).await else { return };
    let Some(b) = Browser::start().await else { return };
    s.crm_forms().await;
    // 200 customers from Chinese Excel (GBK); the phone column's header matches no field, three levels are wrong.
    let mut csv = String::from("名称,电话,level,annual_spend\n");
    for i in 0..200 {
        csv.push_str(&format!("客户{i},1350000{i:04},{},\"{},000\"\n", if i % 70 == 5 { "金卡" } else { ["A", "B", "C"][i % 3] }, i + 1));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("客户名单.csv");
    std::fs::write(&path, encoding_rs::GBK.encode(&csv).0).unwrap();

    let app = format!("{}/app/", s.base);
    b.sign_in(&app).await;
    b.client.goto(&format!("{app}#/forms/customer/records")).await.unwrap();
    b.click("#import").await;
    b.find("#import-file").await.send_keys(&path.display().to_string()).await.unwrap();

    // The check reads the file and shows the mapping: 电话 matches nothing, so phone is missing everywhere.
    b.click("#import-check").await;
    b.text_of("#import-status", "检查了 200 行").await;
    b.text_of("#import-errors", "200 行未通过").await;
    b.shot("30-import-check-unmapped").await;
    // Map 电话 to the phone field by hand and check again.
    let pick = b.find("select[data-column='电话']").await;
    pick.select_by_value("phone").await.unwrap();
    b.text_of("#import-status", "重新检查").await;
    b.click("#import-check").await;
    b.text_of("#import-status", "将新增 197").await;
    b.text_of("#import-errors", "3 行未通过").await;
    b.text_of("tr[data-error-row='7']", "金卡").await;
    b.shot("31-import-check-mapped").await;
    assert_eq!(s.list("customer", &[]).await.expect(200).body["items"].as_array().unwrap().len(), 0, "a check writes nothing");

    // The import: the progress bar fills, the summary says what happened.
    b.click("#import-run").await;
    b.text_of("#import-status", "导入了 200 行：新增 197").await;
    let filled = b.client.execute("const p = document.querySelector('#import-progress'); return [p.value, p.max];", vec![]).await.unwrap();
    assert_eq!(filled, json!([200, 200]), "the progress bar is full");
    b.text_of("#import-progress-text", "200 / 200").await;
    b.shot("32-import-done").await;

    // The list holds them; a filtered export is offered in both formats.
    b.client.goto(&format!("{app}#/forms/customer/records")).await.unwrap();
    b.text_of("#record-count", "共 197 条").await;
    let exported: Value = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch('/api/v1/forms/customer/export?format=csv&filter=' + encodeURIComponent(JSON.stringify({level: {_eq: 'A'}})))
               .then(r => r.text()).then(t => done(t.split('\\n').filter(Boolean).length));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(exported, json!(67), "a header and the 66 level-A customers");
    b.find("#export-xlsx").await;
    b.click("#export-csv").await;
    b.shot("33-list-with-import-export").await;
    assert!(b.client.find(Locator::Css(".notice.error")).await.is_err(), "the export ran without an error");

    // The admin's tokens (the harness's and this tab's), and the audit log of what happened.
    b.client.goto(&format!("{app}#/settings/tokens")).await.unwrap();
    b.text_of("main h1", "登录令牌").await;
    b.text_of("main table", "当前使用").await;
    assert_eq!(b.client.find_all(Locator::Css("tr[data-token]")).await.unwrap().len(), 2);
    b.client.goto(&format!("{app}#/settings/audit")).await.unwrap();
    b.text_of("#audit", "保存表单").await;
    b.find("#audit tr[data-action=login]").await;
    b.shot("34-audit-log").await;
    b.stop().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_fills_a_public_link_on_a_phone_and_updates_their_details_through_a_signed_one() {
    let Some(s) = Server::start_at(Backend::Sqlite, "2026-12-01T02:00:00Z").await else { return };
    let Some(b) = Browser::start().await else { return };
    s.call(reqwest::Method::POST, "/api/v1/packs?bundled=crm-starter", Some(&s.token), None, &[]).await.expect(200);
    let app = format!("{}/app/", s.base);
    b.sign_in(&app).await;

    // A create link with the required fields (ticked already) and the company.
    b.client.goto(&format!("{app}#/forms/customer/links")).await.unwrap();
    b.text_of("#new-link h2", "新建外链").await;
    b.fill("input[name=link-title]", "到店登记").await;
    b.click("[data-link-field=company] input").await;
    b.click("#new-link button[type=submit]").await;
    let url = b.find("#made-link .share-url").await.prop("value").await.unwrap().unwrap();
    assert!(url.starts_with(&format!("{}/f/", s.base)), "{url}");
    b.find("#links tr[data-link]").await;
    b.shot("40-public-links").await;

    // On a phone, without an account: a bad phone is refused at its field, then it goes through.
    b.client.set_window_size(390, 844).await.unwrap();
    b.client.goto(&url).await.unwrap();
    b.text_of("#public h1", "到店登记").await;
    assert_eq!(b.client.find_all(Locator::Css("#public .field")).await.unwrap().len(), 3);
    b.fill("#f-name", "陈女士").await;
    b.fill("#f-phone", "12345").await;
    b.fill("#f-company", "星河贸易").await;
    b.click("#public button[type=submit]").await;
    b.find(".field.has-error[data-field=phone]").await;
    b.shot("41-public-form-phone-error").await;
    b.fill("#f-phone", "13912345678").await;
    b.click("#public button[type=submit]").await;
    b.text_of("#public .notice.ok", "提交成功").await;
    b.shot("42-public-form-done").await;
    assert_eq!(s.names("customer", &[("filter", r#"{"name":{"_eq":"陈女士"}}"#)]).await, ["陈女士"]);
    let id = s.list("customer", &[("filter", r#"{"name":{"_eq":"陈女士"}}"#)]).await.body["items"][0]["id"].as_str().unwrap().to_owned();

    // An update link for the phone and email; the record's page makes this customer's own URL.
    b.client.set_window_size(1440, 1000).await.unwrap();
    b.client.goto(&format!("{app}#/forms/customer/links")).await.unwrap();
    b.find("#new-link").await;
    b.fill("input[name=link-title]", "更新联系方式").await;
    b.find("select[name=link-mode] option[value=update]").await.click().await.unwrap();
    for f in ["name", "phone"] {
        b.click(&format!("[data-link-field={f}] input")).await; // untick the defaults
    }
    for f in ["phone", "email"] {
        b.click(&format!("[data-link-field={f}] input")).await;
    }
    b.click("#new-link button[type=submit]").await;
    b.text_of("#made-link", "记录页").await;
    b.client.goto(&format!("{app}#/forms/customer/records/{id}")).await.unwrap();
    b.click("#make-record-link").await;
    let own = b.find("#record-links .share-url").await.prop("value").await.unwrap().unwrap();
    b.shot("43-record-self-service-link").await;

    b.client.set_window_size(390, 844).await.unwrap();
    b.client.goto(&own).await.unwrap();
    b.text_of("#public h1", "更新联系方式").await;
    assert_eq!(b.find("#f-phone").await.prop("value").await.unwrap().as_deref(), Some("13912345678"));
    b.fill("#f-phone", "13700001111").await;
    b.fill("#f-email", "chen@example.com").await;
    b.click("#public button[type=submit]").await;
    b.text_of("#public .notice.ok", "已保存").await;
    b.shot("44-public-update-phone").await;
    let r = s.get(&format!("/api/v1/forms/customer/records/{id}")).await.expect(200).body;
    assert_eq!((r["data"]["phone"].as_str(), r["data"]["email"].as_str(), r["data"]["company"].as_str()), (Some("13700001111"), Some("chen@example.com"), Some("星河贸易")));

    // Switched off, the link says so.
    b.client.set_window_size(1440, 1000).await.unwrap();
    b.client.goto(&format!("{app}#/forms/customer/links")).await.unwrap();
    let links = s.get("/api/v1/forms/customer/public-links").await.expect(200).body;
    let first = links["items"].as_array().unwrap().iter().find(|l| l["title"] == "到店登记").unwrap()["id"].as_str().unwrap().to_owned();
    b.click(&format!("[data-revoke-link='{first}']")).await;
    b.click("dialog.confirm #confirm-ok").await;
    b.text_of(&format!("tr[data-link='{first}']"), "已停用").await;
    b.shot("45-public-link-revoked").await;
    b.client.goto(&url).await.unwrap();
    b.text_of("#public h1", "链接已失效").await;

    // An admin asks what a salesperson may do with this customer, and why.
    s.user("sales@example.com", "staff").await;
    b.client.goto(&format!("{app}#/settings/roles")).await.unwrap();
    b.find("select[name=explain-user] option[value='sales@example.com']").await.click().await.unwrap();
    b.find("select[name=explain-form] option[value=customer]").await.click().await.unwrap();
    b.fill("input[name=explain-record]", &id).await;
    b.click("#explain button[type=submit]").await;
    b.find("#explain-operations tr[data-op=read]").await;
    b.find("#explain-fields tr[data-field=name]").await;
    b.shot("46-explain").await;
    b.stop().await;
    s.stop().await;
}
