//! Safe publishing: a new version that requires a field stored records lack
//! shows its impact in the dry run, is refused without a fix, and is
//! published with a default that a resumable job fills into every record
//! (issue 24, item 7).

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use trellis_engine::Actor;
use trellis_engine::forms::Backfill;

use crate::both;
use crate::harness::{Backend, Server};

both!(
    a_new_required_field_shows_its_impact_and_is_refused_without_a_choice,
    required_for_new_asks_new_records_only,
    a_default_is_backfilled_into_every_record_by_a_job,
    a_backfill_cut_off_is_taken_over_and_finishes
);

fn member(extra: Value) -> Value {
    let mut def = json!({"key": "member", "title": "会员", "title_field": "name", "schema": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string", "minLength": 1, "title": "姓名"},
        "note": {"type": "string", "title": "备注"},
        "score": {"type": "number", "title": "积分"},
        "level": {"type": "string", "title": "等级", "enum": ["A", "B", "C"]}}}});
    if let (Some(d), Some(e)) = (def.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            d.insert(k.clone(), v.clone());
        }
    }
    def
}

/// The member form with `level` required; `default` gives it a default.
fn level_required(default: Option<&str>) -> Value {
    let mut def = member(json!({}));
    def["schema"]["required"] = json!(["name", "level"]);
    if let Some(d) = default {
        def["schema"]["properties"]["level"]["default"] = json!(d);
    }
    def
}

const NAMES: [&str; 5] = ["甲", "乙", "丙", "丁", "戊"];

/// The form with five members: three with a note, two with a score, none with a level.
async fn five_members(s: &Server) -> Vec<String> {
    s.post("/api/v1/forms", member(json!({}))).await.expect(201);
    let items: Vec<Value> = NAMES.iter().enumerate().map(|(i, n)| {
        let mut r = json!({"name": n});
        if i < 3 {
            r["note"] = json!("老客户");
        }
        if i < 2 {
            r["score"] = json!(10);
        }
        r
    }).collect();
    let made = s.post("/api/v1/forms/member/records", Value::Array(items)).await.expect(201).body;
    made["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
}

/// Waits for a job to end (bounded), and returns it.
async fn finished(s: &Server, id: &str) -> Value {
    for _ in 0..600 {
        let job = s.get(&format!("/api/v1/jobs/{id}")).await.expect(200).body;
        if job["status"] == "done" || job["status"] == "failed" {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("job {id} never ended");
}

async fn blanks(s: &Server) -> i64 {
    let filter = json!({"level": {"_null": true}}).to_string();
    let url = reqwest::Url::parse_with_params(&format!("{}/api/v1/forms/member/records/count", s.base), &[("filter", filter.as_str())]).unwrap();
    s.get(&url.as_str()[s.base.len()..]).await.expect(200).body["count"].as_i64().unwrap()
}

async fn a_new_required_field_shows_its_impact_and_is_refused_without_a_choice(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    five_members(&s).await;

    // The dry run: a new required field, a dropped field, a retyped one.
    let mut candidate = level_required(None);
    candidate["schema"]["properties"].as_object_mut().unwrap().remove("note");
    candidate["schema"]["properties"]["score"] = json!({"type": "string", "title": "积分"});
    let sim = s.call(Method::POST, "/api/v1/forms/member/simulate", Some(&s.token), Some(&candidate), &[("accept-language", "zh-CN")]).await.expect(200).body;
    let v = &sim["validation"];
    assert_eq!(sim["records"], 5);
    assert_eq!(v["required"], json!([{"field": "level", "title": "等级", "missing": 5}]), "{sim}");
    assert_eq!((v["invalid"].clone(), v["already_invalid"].clone()), (json!(5), json!(0)), "{sim}");
    assert_eq!(v["dropped"], json!([{"field": "note", "title": "备注", "records": 3}]));
    assert_eq!(v["retyped"], json!([{"field": "score", "title": "积分", "from": ["number"], "to": ["string"], "records": 2}]));
    let examples = v["examples"].as_array().unwrap();
    assert_eq!(examples.len(), 5);
    let titles: Vec<&str> = examples.iter().map(|e| e["title"].as_str().unwrap()).collect();
    assert_eq!(titles, NAMES);
    let first: Vec<(String, String)> = examples[0]["errors"].as_array().unwrap().iter().map(|e| (e["pointer"].as_str().unwrap().to_owned(), e["message"].as_str().unwrap().to_owned())).collect();
    assert!(first.contains(&("/level".to_owned(), "请填写「等级」".to_owned())), "{first:?}");
    assert!(first.iter().any(|(p, _)| p == "/note") && first.iter().any(|(p, _)| p == "/score"), "dropped and retyped data fail too: {first:?}");
    // The segment report is still there.
    assert!(sim["segments"].is_array());

    // Publishing it without a choice is refused, and the version in force stays.
    let refused = s.call(Method::PUT, "/api/v1/forms/member", Some(&s.token), Some(&level_required(None)), &[("accept-language", "zh-CN")]).await.expect(409);
    assert!(refused.body["type"].as_str().unwrap().ends_with("/records-would-fail"), "{}", refused.body);
    assert_eq!(refused.body["missing"], json!([{"field": "level", "title": "等级", "missing": 5}]));
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(detail.contains("「等级」有 5 条记录没有填写"), "{detail}");
    let en = s.put("/api/v1/forms/member", level_required(None)).await.expect(409);
    assert!(en.body["detail"].as_str().unwrap().contains("等级 (level): 5 record(s)"), "{}", en.body);
    // Asking for a backfill without a default is refused the same way.
    s.put("/api/v1/forms/member?backfill=defaults", level_required(None)).await.expect(409);
    s.put("/api/v1/forms/member?backfill=everything", level_required(Some("B"))).await.expect(400);
    assert_eq!(s.get("/api/v1/forms/member").await.expect(200).body["version"], 1);
    // Nothing was written: every record still validates against the version in force.
    assert_eq!(blanks(&s).await, 5);
    s.stop().await;
}

async fn required_for_new_asks_new_records_only(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    let ids = five_members(&s).await;
    // A field named that is not one of the form's is refused at its place.
    let bad = s.put("/api/v1/forms/member", member(json!({"required_for_new": ["level", "nope"]}))).await.expect(422);
    assert_eq!(bad.pointers(), ["/required_for_new/1"]);

    let saved = s.put("/api/v1/forms/member", member(json!({"required_for_new": ["level"]}))).await.expect(200).body;
    assert_eq!(saved["version"], 2);
    assert!(saved.get("backfill_job").is_none());
    // An old record can still be changed without the field…
    s.patch(&format!("/api/v1/forms/member/records/{}", ids[0]), json!({"note": "改过"}), None).await.expect(200);
    // …a new one cannot be made without it, in the same shape as a required field,
    let refused = s.call(Method::POST, "/api/v1/forms/member/records", Some(&s.token), Some(&json!({"name": "己"})), &[("accept-language", "zh-CN")]).await.expect(422);
    assert_eq!(refused.pointers(), ["/level"]);
    assert_eq!(refused.body["errors"][0]["code"], "required");
    assert_eq!(refused.body["errors"][0]["message"], "请填写「等级」");
    let batch = s.post("/api/v1/forms/member/records", json!([{"name": "己", "level": "A"}, {"name": "庚"}])).await.expect(422);
    assert_eq!(batch.pointers(), ["/1/level"]);
    // …and with it, it can.
    s.post("/api/v1/forms/member/records", json!({"name": "己", "level": "A"})).await.expect(201);
    // Moving it to `required` later is checked like any newly required field.
    let later = s.put("/api/v1/forms/member", level_required(None)).await.expect(409);
    assert_eq!(later.body["missing"][0]["missing"], 5);
    s.stop().await;
}

async fn a_default_is_backfilled_into_every_record_by_a_job(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    let ids = five_members(&s).await;
    // One member has a level already: it keeps it.
    s.patch(&format!("/api/v1/forms/member/records/{}", ids[4]), json!({"level": "A"}), None).await.expect(200);
    // A default the field refuses would fail every record: refused at its place.
    let bad = s.put("/api/v1/forms/member?backfill=defaults", level_required(Some("Z"))).await.expect(422);
    assert_eq!(bad.pointers(), ["/schema/properties/level/default"]);

    let saved = s.put("/api/v1/forms/member?backfill=defaults", level_required(Some("B"))).await.expect(200).body;
    assert_eq!(saved["version"], 2);
    let job_id = saved["backfill_job"].as_str().expect("a backfill job").to_owned();
    let job = finished(&s, &job_id).await;
    assert_eq!(job["kind"], "backfill");
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!((job["total"].clone(), job["done"].clone(), job["updated"].clone(), job["failed"].clone()), (json!(4), json!(4), json!(4), json!(0)), "{job}");

    let list = s.list("member", &[("limit", "100")]).await.expect(200).body;
    let levels: Vec<(String, String)> = list["items"].as_array().unwrap().iter().map(|r| (r["data"]["name"].as_str().unwrap().to_owned(), r["data"]["level"].as_str().unwrap().to_owned())).collect();
    assert_eq!(levels.len(), 5);
    for (name, level) in &levels {
        assert_eq!(level, if name == "戊" { "A" } else { "B" }, "{levels:?}");
    }
    // Every record validates: each can be written again.
    for id in &ids {
        let r = s.patch(&format!("/api/v1/forms/member/records/{id}"), json!({"note": "回访过"}), None).await.expect(200).body;
        assert_eq!(r["form_version"], 2);
    }
    // The history says the system filled it in.
    let history = s.get(&format!("/api/v1/forms/member/records/{}/history", ids[0])).await.expect(200).body;
    let filled = history["items"].as_array().unwrap().iter().find(|e| e["changes"].get("level").is_some()).expect("a history entry for the backfill");
    assert_eq!(filled["changes"]["level"]["to"], "B");
    assert_eq!(filled["actor"], uuid::Uuid::nil().to_string());
    // A new record without the field is refused, as the version requires it.
    s.post("/api/v1/forms/member/records", json!({"name": "己"})).await.expect(422);
    s.stop().await;
}

async fn a_backfill_cut_off_is_taken_over_and_finishes(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.post("/api/v1/forms", member(json!({}))).await.expect(201);
    // More records than one batch (500).
    for chunk in 0..3 {
        let items: Vec<Value> = (0..400).map(|i| json!({"name": format!("会员{}", chunk * 400 + i)})).collect();
        s.post("/api/v1/forms/member/records", Value::Array(items)).await.expect(201);
    }
    // Published as the server would, but the job is run here, by hand.
    let published = s.engine.publish_form(&Actor::system(), "member", level_required(Some("B")), Some(1), Backfill::Defaults).await.unwrap();
    let id = published.backfill_job.expect("a backfill job");
    // The process dies right after the first batch committed.
    let engine = s.engine.clone();
    let killed = tokio::spawn(async move { engine.run_job(id, &|_| panic!("the process dies after its first batch")).await }).await;
    assert!(killed.is_err(), "the worker died");
    let job = s.get(&format!("/api/v1/jobs/{id}")).await.expect(200).body;
    assert_eq!((job["status"].clone(), job["done"].clone(), job["updated"].clone(), job["total"].clone()), (json!("running"), json!(500), json!(500), json!(1200)), "{job}");
    assert_eq!(blanks(&s).await, 700, "the batch committed stays");
    // Meanwhile someone fills in a record the job has not reached.
    let last = s.list("member", &[("limit", "1")]).await.expect(200).body["items"][0]["id"].as_str().unwrap().to_owned();
    s.patch(&format!("/api/v1/forms/member/records/{last}"), json!({"level": "C"}), None).await.expect(200);

    // Another start finds the job nobody moves and takes it over (any job is stale to an idle time below zero).
    let claimed = s.engine.claim_stale_jobs(jiff::SignedDuration::from_secs(-60)).await.unwrap();
    assert_eq!(claimed, [id]);
    let done = s.engine.run_job(id, &|_| {}).await.unwrap();
    assert_eq!(done.status, "done");
    assert_eq!((done.updated, done.failed), (1199, 0));
    assert_eq!(blanks(&s).await, 0);
    let kept = s.get(&format!("/api/v1/forms/member/records/{last}")).await.expect(200).body;
    assert_eq!(kept["data"]["level"], "C", "a value filled in meanwhile is kept");
    s.stop().await;
}

/// The designer: a required field added to a form with records shows the
/// impact, 发布 waits for a choice, and a default chosen is filled into every
/// record while a progress bar follows the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_designer_shows_the_impact_and_backfills_a_default_chosen_in_the_dialog() {
    let Some(s) = Server::start(Backend::Sqlite).await else { return };
    let Some(b) = crate::browser::Browser::start().await else { return };
    five_members(&s).await;
    s.post("/api/v1/forms/member/records", json!({"name": "己"})).await.expect(201);
    let app = format!("{}/app/", s.base);
    b.sign_in(&app).await;
    b.client.goto(&format!("{app}#/forms/member/design")).await.unwrap();
    b.text_of("#form-version", "v1").await;

    // A select field 等级 (A/B/C), required.
    b.click(".palette .item[data-kind=select]").await;
    b.find(".fcard.selected[data-key=select_1]").await;
    b.fill(".props input[name=label]", "等级").await;
    b.fill(".props input[name=key]", "grade").await;
    b.fill(".props textarea[name=options]", "A\nB\nC").await;
    b.find(".props input[name=required]").await.click().await.unwrap();

    b.click("#publish").await;
    b.text_of("#publish-dialog", "6 条记录将无法通过校验").await;
    b.text_of("#publish-dialog", "「等级」有 6 条记录没有填写").await;
    let examples = b.text_of("#impact-invalid", "请填写「等级」").await;
    assert!(examples.contains("甲") && examples.contains("戊"), "examples by title: {examples}");
    let disabled = || async { b.eval("return document.querySelector('#confirm-publish').disabled").await };
    assert_eq!(disabled().await, Value::Bool(true), "发布 waits for a choice");
    b.shot("12-publish-impact").await;
    // Choosing a default without a value is not a choice yet.
    b.click("fieldset.fix[data-field=grade] input[value=default]").await;
    assert_eq!(disabled().await, Value::Bool(true));
    b.find("select[name=fix-value-grade]").await.select_by_value("B").await.unwrap();
    assert_eq!(disabled().await, Value::Bool(false));
    b.shot("13-publish-default-chosen").await;
    b.click("#confirm-publish").await;

    b.text_of("#backfill-status", "完成：已为 6 条记录填入默认值").await;
    b.text_of("#form-version", "v2").await;
    b.shot("14-backfill-done").await;
    let form = s.get("/api/v1/forms/member").await.expect(200).body;
    assert_eq!(form["version"], 2);
    assert_eq!(form["definition"]["schema"]["required"], json!(["name", "grade"]));
    assert_eq!(form["definition"]["schema"]["properties"]["grade"]["default"], "B");
    let list = s.list("member", &[("limit", "100")]).await.expect(200).body;
    let grades: Vec<&str> = list["items"].as_array().unwrap().iter().map(|r| r["data"]["grade"].as_str().unwrap_or("")).collect();
    assert_eq!(grades, ["B"; 6]);
    b.stop().await;
    s.stop().await;
}
