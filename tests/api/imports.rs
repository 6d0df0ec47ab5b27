//! Imports and exports: a 10,000-row CSV with bad rows and repeated keys
//! (a dry run names them and writes nothing, the import creates the rest,
//! importing again changes nothing), GBK and XLSX files, an export that
//! imports back cleanly, an import killed midway that resumes without losing
//! or repeating a row, and event triggers kept quiet on request.

use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::harness::{Backend, Db, Server};

const BIN: &str = env!("CARGO_BIN_EXE_trellis");

both!(
    a_10000_row_csv_with_bad_rows_and_repeated_keys,
    an_export_imports_back_cleanly,
    a_killed_import_resumes_without_losing_or_repeating_a_row,
    gbk_and_xlsx_files_import,
    event_triggers_stay_quiet_when_asked,
    link_cells_name_records_by_id_key_or_title,
);

/// Posts a file to the imports route.
async fn upload(s: &Server, form: &str, query: &str, body: Vec<u8>) -> (u16, Value) {
    let res = s.http.post(format!("{}/api/v1/forms/{form}/imports?{query}", s.base)).bearer_auth(&s.token).body(body).send().await.unwrap();
    let status = res.status().as_u16();
    let is_problem = res.headers().get("content-type").is_some_and(|v| v == "application/problem+json");
    let body: Value = res.json().await.unwrap();
    if status >= 400 {
        assert!(is_problem, "errors are problem+json: {body}");
    }
    (status, body)
}

/// Waits for a job to end and returns it.
async fn finished(s: &Server, id: &str) -> Value {
    for _ in 0..1200 {
        let job = s.get(&format!("/api/v1/jobs/{id}")).await.expect(200).body;
        if job["status"] == "done" || job["status"] == "failed" {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} did not finish");
}

async fn import(s: &Server, form: &str, query: &str, body: Vec<u8>) -> Value {
    let (status, job) = upload(s, form, query, body).await;
    assert_eq!(status, 202, "{job}");
    finished(s, job["id"].as_str().unwrap()).await
}

async fn count(s: &Server, form: &str) -> i64 {
    s.get(&format!("/api/v1/forms/{form}/records/count")).await.expect(200).body["count"].as_i64().unwrap()
}

/// 10,000 customers under Chinese headers, some of them wrong in known ways.
/// Returns the file and the rows (as the spreadsheet numbers them) that must be refused, with the column at fault.
fn customers_csv() -> (String, Vec<(usize, &'static str)>) {
    let mut out = String::from("名称,phone,邮箱地址,level,annual_spend,birthday,tags,vip,备注\n");
    let mut bad = Vec::new();
    // A row that is wrong in one of the first four ways (a repeat must repeat a row that is fine).
    let broken = |i: usize| i % 400 == 17 || i % 500 == 33 || i % 700 == 41 || i % 900 == 55;
    for i in 0..10_000usize {
        let row = i + 2;
        let mut phone = format!("139{:08}", i);
        let mut level = ["A", "B", "C"][i % 3].to_owned();
        let mut birthday = format!("{}/{}/{}", 1970 + i % 30, 1 + i % 12, 1 + i % 28);
        let mut spend = format!("\"{},{:03}.50\"", i / 10 % 999 + 1, i % 1000);
        if i % 400 == 17 {
            phone = "12345".into();
            bad.push((row, "phone"));
        } else if i % 500 == 33 {
            level = "Z".into();
            bad.push((row, "level"));
        } else if i % 700 == 41 {
            birthday = "2026-02-30".into();
            bad.push((row, "birthday"));
        } else if i % 900 == 55 {
            spend = "很多".into();
            bad.push((row, "annual_spend"));
        } else if i % 450 == 99 && !broken(i - 50) {
            // Repeats the phone of the row 50 rows above (which is fine itself).
            phone = format!("139{:08}", i - 50);
            bad.push((row, "phone"));
        }
        out.push_str(&format!("客户{i},{phone},c{i}@example.com,{level},{spend},{birthday},重要|华东,{},第 {i} 行\n", if i % 2 == 0 { "是" } else { "否" }));
    }
    (out, bad)
}

async fn a_10000_row_csv_with_bad_rows_and_repeated_keys(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    let (csv, bad) = customers_csv();
    let good = 10_000 - bad.len() as i64;
    let map = json!({"邮箱地址": "email"}).to_string();
    let query = format!("name=customers.csv&upsert_on=phone&map={}", urlencode(&map));

    // The dry run names every bad row and writes nothing.
    let dry = import(&s, "customer", &format!("{query}&dry_run=true"), csv.clone().into_bytes()).await;
    assert_eq!(dry["status"], "done");
    assert_eq!((dry["total"].as_i64(), dry["created"].as_i64(), dry["failed"].as_i64()), (Some(10_000), Some(good), Some(bad.len() as i64)), "{dry}");
    assert_eq!(count(&s, "customer").await, 0, "a dry run writes nothing");
    let columns: Vec<(String, Value)> = dry["columns"].as_array().unwrap().iter().map(|c| (c["column"].as_str().unwrap().to_owned(), c["field"].clone())).collect();
    assert_eq!(columns[0], ("名称".to_owned(), json!("name")), "mapped by title");
    assert_eq!(columns[2], ("邮箱地址".to_owned(), json!("email")), "mapped by hand");
    assert_eq!(columns[8], ("备注".to_owned(), Value::Null), "a column the form lacks is left out");
    let errors = s.get(&format!("/api/v1/jobs/{}/errors?format=json", dry["id"].as_str().unwrap())).await.expect(200).body["items"].as_array().unwrap().clone();
    let found: Vec<(usize, String)> = errors.iter().map(|e| (e["row"].as_u64().unwrap() as usize, e["field"].as_str().unwrap_or("").to_owned())).collect();
    let want: Vec<(usize, String)> = bad.iter().map(|(r, f)| (*r, (*f).to_owned())).collect();
    assert_eq!(found, want, "every bad row, at its field, in file order");
    let repeat = errors.iter().find(|e| e["message"].as_str().unwrap().contains("repeats")).unwrap();
    assert!(repeat["message"].as_str().unwrap().contains(&format!("of row {}", repeat["row"].as_u64().unwrap() - 50)), "{repeat}");
    assert_eq!(repeat["column"], "phone");

    // The report downloads as a CSV a spreadsheet opens.
    let res = s.http.get(format!("{}/api/v1/jobs/{}/errors", s.base, dry["id"].as_str().unwrap())).bearer_auth(&s.token).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let report = res.text().await.unwrap();
    assert!(report.starts_with('\u{feff}'), "a BOM for Excel");
    assert_eq!(report.lines().count(), bad.len() + 1);
    assert!(report.contains(&format!("{},level,level,\"'Z' is not one of the options (A, B, C)\"", bad.iter().find(|(_, f)| *f == "level").unwrap().0)), "{report}");

    // The import creates the good rows, typed by their fields.
    let job = import(&s, "customer", &query, csv.clone().into_bytes()).await;
    assert_eq!((job["created"].as_i64(), job["failed"].as_i64(), job["done"].as_i64()), (Some(good), Some(bad.len() as i64), Some(10_000)), "{job}");
    assert_eq!(count(&s, "customer").await, good);
    let first = s.list("customer", &[("filter", r#"{"phone": {"_eq": "13900000000"}}"#)]).await.expect(200).body["items"][0]["data"].clone();
    assert_eq!(first, json!({"name": "客户0", "phone": "13900000000", "email": "c0@example.com", "level": "A", "annual_spend": 1000.5, "birthday": "1970-01-01", "tags": ["重要", "华东"], "vip": true}));

    // Importing it again changes nothing.
    let db = Db::open(&s.db_url).await;
    let history = db.number("SELECT count(*) FROM record_history").await;
    let again = import(&s, "customer", &query, csv.into_bytes()).await;
    assert_eq!((again["created"].as_i64(), again["updated"].as_i64(), again["unchanged"].as_i64(), again["failed"].as_i64()), (Some(0), Some(0), Some(good), Some(bad.len() as i64)), "{again}");
    assert_eq!(count(&s, "customer").await, good);
    assert_eq!(db.number("SELECT count(*) FROM record_history").await, history, "no history entry either");

    // One changed row updates one record.
    let edited = "名称,phone,level\n客户零,13900000000,B\n";
    let one = import(&s, "customer", "upsert_on=phone", edited.as_bytes().to_vec()).await;
    assert_eq!((one["created"].as_i64(), one["updated"].as_i64()), (Some(0), Some(1)), "{one}");
    let rec = &s.list("customer", &[("filter", r#"{"phone": {"_eq": "13900000000"}}"#)]).await.expect(200).body["items"][0];
    assert_eq!((rec["data"]["name"].as_str(), rec["data"]["level"].as_str(), rec["data"]["email"].as_str()), (Some("客户零"), Some("B"), Some("c0@example.com")), "cells left out keep their values");
    db.close().await;
    s.stop().await;
}

fn urlencode(s: &str) -> String {
    reqwest::Url::parse_with_params("http://x/", &[("v", s)]).unwrap().query().unwrap()[2..].to_owned()
}

async fn an_export_imports_back_cleanly(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    s.user("sales@example.com", "staff").await;
    let items: Vec<Value> = (0..2500)
        .map(|i| {
            json!({"name": format!("导出{i}"), "phone": format!("137{:08}", i), "level": (["A", "B", "C"][i % 3]), "annual_spend": (i as f64 * 10.25),
                   "birthday": "1990-05-17", "last_contact": "2026-11-20T08:30:00Z", "owner": "sales@example.com", "tags": ["老客户", "华南"], "vip": (i % 2 == 0),
                   "satisfaction": (1 + i % 5), "nps": (i % 11), "email": format!("e{i}@example.com")})
        })
        .collect();
    for chunk in items.chunks(500) {
        s.post("/api/v1/forms/customer/records", Value::Array(chunk.to_vec())).await.expect(201);
    }
    for format in ["csv", "xlsx"] {
        let res = s.http.get(format!("{}/api/v1/forms/customer/export?format={format}&sort=phone", s.base)).bearer_auth(&s.token).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-disposition"].to_str().unwrap().contains(&format!("customer.{format}")));
        let bytes = res.bytes().await.unwrap().to_vec();
        if format == "csv" {
            let text = String::from_utf8(bytes.clone()).unwrap();
            assert!(text.starts_with('\u{feff}'), "a BOM for Excel");
            assert_eq!(text.lines().count(), 2501);
            let header: Vec<&str> = text.lines().next().unwrap().trim_start_matches('\u{feff}').split(',').collect();
            let first: Vec<&str> = text.lines().nth(1).unwrap().split(',').collect();
            let cell = |h: &str| first[header.iter().position(|x| *x == h).unwrap_or_else(|| panic!("no column {h} in {header:?}"))];
            let got: Vec<&str> = ["名称", "phone", "email", "birthday", "last_contact", "owner", "vip", "tags", "记录 ID"].iter().map(|h| cell(h)).collect();
            assert_eq!(&got[..8], ["导出0", "13700000000", "e0@example.com", "1990-05-17", "2026-11-20T16:30:00+08:00", "sales@example.com", "是", "老客户|华南"]);
        } else {
            assert!(bytes.starts_with(b"PK\x03\x04"), "a workbook");
        }
        let job = import(&s, "customer", &format!("name=back.{format}&upsert_on=phone"), bytes).await;
        assert_eq!((job["total"].as_i64(), job["unchanged"].as_i64(), job["failed"].as_i64(), job["created"].as_i64()), (Some(2500), Some(2500), Some(0), Some(0)), "{format}: {job}");
        let ignored: Vec<&str> = job["columns"].as_array().unwrap().iter().filter(|c| c["field"].is_null()).map(|c| c["by"].as_str().unwrap()).collect();
        assert!(ignored.iter().all(|b| *b == "bookkeeping"), "only the id and times are left out: {ignored:?}");
    }

    // A filtered export holds what the list holds; a bad filter is refused before any byte.
    let res = s.http.get(format!("{}/api/v1/forms/customer/export?filter={}", s.base, urlencode(r#"{"level":{"_eq":"A"}}"#))).bearer_auth(&s.token).send().await.unwrap();
    assert_eq!(res.text().await.unwrap().lines().count(), 834 + 1);
    s.call(Method::GET, "/api/v1/forms/customer/export?filter=%7Bnope", Some(&s.token), None, &[]).await.expect(400);
    s.call(Method::GET, "/api/v1/forms/customer/export?format=pdf", Some(&s.token), None, &[]).await.expect(400);

    // The export imports into an empty database as the same data.
    let t = Server::start(b).await.unwrap();
    t.crm_forms().await;
    t.user("sales@example.com", "staff").await;
    let res = s.http.get(format!("{}/api/v1/forms/customer/export?format=xlsx", s.base)).bearer_auth(&s.token).send().await.unwrap();
    let job = import(&t, "customer", "name=c.xlsx", res.bytes().await.unwrap().to_vec()).await;
    assert_eq!((job["created"].as_i64(), job["failed"].as_i64()), (Some(2500), Some(0)), "{job}");
    let a = s.list("customer", &[("sort", "phone"), ("limit", "5")]).await.expect(200).body["items"].clone();
    let c = t.list("customer", &[("sort", "phone"), ("limit", "5")]).await.expect(200).body["items"].clone();
    let data = |v: &Value| v.as_array().unwrap().iter().map(|r| r["data"].clone()).collect::<Vec<_>>();
    let owners = |v: &Value| v.as_array().unwrap().iter().map(|r| r["data"]["owner"].is_string()).collect::<Vec<_>>();
    assert_eq!(owners(&c), vec![true; 5]);
    let strip = |mut d: Vec<Value>| {
        for x in &mut d {
            x.as_object_mut().unwrap().remove("owner");
        }
        d
    };
    assert_eq!(strip(data(&a)), strip(data(&c)), "the same data (owners are each database's own ids)");
    t.stop().await;
    s.stop().await;
}

async fn a_killed_import_resumes_without_losing_or_repeating_a_row(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    // No unique key: only the job's progress keeps a second run from importing rows twice.
    s.post("/api/v1/forms", json!({"key": "visit", "title": "拜访", "schema": {"type": "object", "required": ["who"], "properties": {
        "who": {"type": "string", "title": "客户"}, "at": {"type": "string", "format": "date", "title": "日期"}, "n": {"type": "integer"}}}}))
        .await
        .expect(201);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("visits.csv");
    let mut csv = String::from("客户,日期,n\n");
    for i in 0..10_000 {
        csv.push_str(&format!("客户{i},2026-{:02}-{:02},{i}\n", 1 + i % 12, 1 + i % 28));
    }
    std::fs::write(&file, csv).unwrap();
    let db = Db::open(&s.db_url).await;
    let run = || {
        let mut c = Command::new(BIN);
        c.args(["import", "visit"]).arg(&file).args(["--batch", "100", "--db", &s.db_url]);
        c
    };
    let mut child = run().stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let mut killed_at = None;
    for _ in 0..6000 {
        if let Some(n) = db.number("SELECT done FROM jobs").await.filter(|n| *n > 0) {
            child.kill().unwrap();
            killed_at = Some(n);
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let _ = child.wait();
    let killed_at = killed_at.expect("the import was seen midway and killed");
    assert!(killed_at < 10_000, "killed after {killed_at} rows");
    let stored = db.number("SELECT count(*) FROM records__visit").await.unwrap();
    let done = db.number("SELECT done FROM jobs").await.unwrap();
    assert_eq!(stored, done, "the job's progress moved with the rows it committed");

    let out = run().output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("resuming the unfinished import of visits.csv") && text.contains("10000 rows into visit"), "{text}");
    assert_eq!(db.number("SELECT count(*) FROM records__visit").await, Some(10_000), "no row lost, none twice");
    let n = if b == Backend::Sqlite { "json_extract(data, '$.n')" } else { "(data->>'n')" };
    assert_eq!(db.number(&format!("SELECT count(DISTINCT {n}) FROM records__visit")).await, Some(10_000), "each row once");
    assert_eq!(db.number("SELECT count(*) FROM jobs").await, Some(1), "the second run went on with the first job");
    assert_eq!(db.text("SELECT status FROM jobs").await.as_deref(), Some("done"));
    assert_eq!(db.number("SELECT count(*) FROM job_sources").await, Some(0), "a finished job lets its file go");
    db.close().await;
    s.stop().await;
}

async fn gbk_and_xlsx_files_import(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    // Chinese Excel's "CSV": GBK, with a date the Excel way and money with separators.
    let (gbk, _, _) = encoding_rs::GBK.encode("名称,phone,birthday,annual_spend,level\n张三,13800000001,1988/6/18,\"12,000\",A\n李四,13800000002,1990年1月2日,￥800,b\n");
    let job = import(&s, "customer", "name=gbk.csv", gbk.into_owned()).await;
    assert_eq!((job["created"].as_i64(), job["failed"].as_i64(), job["encoding"].as_str()), (Some(2), Some(0), Some("GBK")), "{job}");
    let names = s.names("customer", &[("sort", "phone")]).await;
    assert_eq!(names, ["张三", "李四"]);
    let li = &s.list("customer", &[("filter", r#"{"phone": {"_eq": "13800000002"}}"#)]).await.expect(200).body["items"][0]["data"];
    assert_eq!((li["birthday"].as_str(), li["annual_spend"].as_f64(), li["level"].as_str()), (Some("1990-01-02"), Some(800.0), Some("B")));

    // An XLSX with real date cells, numbers and a boolean, from the CLI.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("客户.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let date = rust_xlsxwriter::Format::new().set_num_format("yyyy/m/d");
    for (c, h) in ["名称", "phone", "birthday", "annual_spend", "vip", "satisfaction"].iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for r in 1..=3u32 {
        sheet.write_string(r, 0, format!("王{r}")).unwrap();
        sheet.write_number(r, 1, 13900000000.0 + r as f64).unwrap();
        sheet.write_datetime_with_format(r, 2, rust_xlsxwriter::ExcelDateTime::from_ymd(1985, 3, r as u8).unwrap(), &date).unwrap();
        sheet.write_number(r, 3, 1234.5 * r as f64).unwrap();
        sheet.write_boolean(r, 4, r % 2 == 1).unwrap();
        sheet.write_number(r, 5, r as f64).unwrap();
    }
    sheet.write_string(4, 0, "坏行").unwrap();
    sheet.write_string(4, 1, "13900000009").unwrap();
    sheet.write_number(4, 5, 9.0).unwrap();
    book.save(&path).unwrap();
    let out = Command::new(BIN).args(["import", "customer"]).arg(&path).args(["--db", &s.db_url, "--errors"]).arg(dir.path().join("errors.csv")).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "a refused row makes the exit code 1: {text}");
    assert!(text.contains("4 rows into customer: 3 created, 0 updated, 0 unchanged, 1 refused"), "{text}");
    assert!(text.contains("row 5, satisfaction:"), "the bad cell's row as Excel numbers it: {text}");
    assert!(std::fs::read_to_string(dir.path().join("errors.csv")).unwrap().contains("5,satisfaction,satisfaction,"));
    let wang = &s.list("customer", &[("filter", r#"{"phone": {"_eq": "13900000002"}}"#)]).await.expect(200).body["items"][0]["data"];
    assert_eq!(wang, &json!({"name": "王2", "phone": "13900000002", "birthday": "1985-03-02", "annual_spend": 2469.0, "vip": false, "satisfaction": 2}));

    // What cannot run is refused at once, with the reason.
    let (status, p) = upload(&s, "customer", "", b"\x00\x01\x02\xff\xfe\xfd".to_vec()).await;
    assert!(status == 400 && p["detail"].as_str().unwrap().contains("neither UTF-8 nor GBK"), "{p}");
    let (status, p) = upload(&s, "customer", "upsert_on=name", b"name\nx\n".to_vec()).await;
    assert!(status == 400 && p["detail"].as_str().unwrap().contains("not a unique key"), "{p}");
    let (status, p) = upload(&s, "customer", &format!("map={}", urlencode(r#"{"电话": "phone"}"#)), b"name\nx\n".to_vec()).await;
    assert!(status == 400 && p["detail"].as_str().unwrap().contains("no column '电话'"), "{p}");
    let (status, p) = upload(&s, "customer", "", b"foo,bar\n1,2\n".to_vec()).await;
    assert!(status == 400 && p["detail"].as_str().unwrap().contains("no column of the file matches"), "{p}");
    let (status, _) = upload(&s, "nope", "", b"name\nx\n".to_vec()).await;
    assert_eq!(status, 404);
    s.stop().await;
}

async fn event_triggers_stay_quiet_when_asked(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    s.post("/api/v1/triggers", json!({"key": "welcome", "form": "customer", "when": {"event": "created"},
        "actions": [{"notify": "owner", "title": "新客户 {{ record.name }}"}]}))
        .await
        .expect(201);
    let file = |from: usize| (from..from + 20).fold(String::from("名称,phone\n"), |acc, i| acc + format!("静默{i},1360000{i:04}\n").as_str()).into_bytes();
    let quiet = import(&s, "customer", "events=false", file(0)).await;
    assert_eq!(quiet["created"].as_i64(), Some(20));
    assert_eq!(notes(&s).await, 0, "no welcome for a quiet import");
    let loud = import(&s, "customer", "", file(100)).await;
    assert_eq!(loud["created"].as_i64(), Some(20));
    assert_eq!(notes(&s).await, 20, "an import fires event triggers by default");
    s.stop().await;
}

async fn notes(s: &Server) -> usize {
    s.get("/api/v1/notifications").await.expect(200).body["items"].as_array().unwrap().len()
}

async fn link_cells_name_records_by_id_key_or_title(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.post("/api/v1/forms", json!({"key": "shop", "title": "门店", "title_field": "name", "schema": {"type": "object", "properties": {"name": {"type": "string"}}}})).await.expect(201);
    s.post("/api/v1/forms", json!({"key": "region", "title": "区域", "title_field": "name", "unique": [["code"]],
        "schema": {"type": "object", "properties": {"code": {"type": "integer"}, "name": {"type": "string"}}}})).await.expect(201);
    s.post("/api/v1/forms", json!({"key": "visit", "title": "巡店", "schema": {"type": "object", "properties": {
        "shop": {"type": "string", "x-link": "shop", "title": "门店"}, "region": {"type": "string", "x-link": "region", "title": "区域"}, "note": {"type": "string", "title": "备注"}}}}))
        .await
        .expect(201);
    let one = s.post("/api/v1/forms/shop/records", json!({"name": "一店"})).await.expect(201).body["id"].as_str().unwrap().to_owned();
    s.post("/api/v1/forms/shop/records", json!([{"name": "二店"}, {"name": "二店"}])).await.expect(201);
    let east = s.post("/api/v1/forms/region/records", json!({"code": 21, "name": "华东"})).await.expect(201).body["id"].as_str().unwrap().to_owned();
    // By title (the shop has no key), by id, by an integer key; a title two shops share, and one nobody has.
    let csv = format!("门店,区域,备注\n一店,21,a\n{one},,b\n二店,21,c\n三店,,d\n一店,99,e\n");
    let job = import(&s, "visit", "name=visits.csv", csv.into_bytes()).await;
    assert_eq!((job["created"].as_i64(), job["failed"].as_i64()), (Some(2), Some(3)), "{job}");
    let errors = s.get(&format!("/api/v1/jobs/{}/errors?format=json", job["id"].as_str().unwrap())).await.expect(200).body["items"].clone();
    let said: Vec<(u64, String)> = errors.as_array().unwrap().iter().map(|e| (e["row"].as_u64().unwrap(), e["message"].as_str().unwrap().to_owned())).collect();
    assert_eq!(said[0], (4, "2 shop records are called '二店'; give the record's id or its unique key".to_owned()));
    assert_eq!(said[1], (5, "no shop record has the key '三店'".to_owned()));
    assert_eq!(said[2], (6, "no region record has the key '99'".to_owned()));
    let visits = s.list("visit", &[("sort", "note")]).await.expect(200).body["items"].clone();
    assert_eq!(visits[0]["data"], json!({"shop": one, "region": east, "note": "a"}));
    assert_eq!(visits[1]["data"], json!({"shop": one, "note": "b"}));
    s.stop().await;
}
