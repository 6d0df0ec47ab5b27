//! Imports within a fixed memory budget, whatever the file: the hostile
//! files of issue 21 — a million columns, a 100 MB line, a quote never
//! closed — each answered within a deadline, with the process's resident
//! memory (read from `/proc/self/statm`: the server runs in this process)
//! growing by less than a budget, and `/healthz` answering meanwhile. Then
//! job views that stay small (columns and refused rows in pages), the cap on
//! refused rows kept, and at most two unfinished imports per user.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::both;
use crate::harness::{Backend, Db, Server};

both!(
    a_million_columns_are_refused_at_once,
    a_100_mb_line_is_a_refused_row_not_a_record,
    an_unterminated_quote_is_one_refused_row,
    job_views_page_their_columns_and_errors,
    imports_per_user_are_bounded,
    workbooks_are_read_within_the_same_limits,
);

/// One hostile file at a time in this process, so that one test's memory is not another's.
static HOSTILE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const MB: u64 = 1 << 20;

/// Resident memory of this process, in bytes.
fn resident() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux: /proc/self/statm");
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).expect("statm's second field");
    pages * 4096
}

/// Watches the process while a hostile file is handled: the peak resident
/// memory above where it started, and the slowest `/healthz` answer.
struct Watch {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    base: u64,
    sampler: tokio::task::JoinHandle<()>,
    health: tokio::task::JoinHandle<(Duration, usize)>,
}

impl Watch {
    fn start(s: &Server) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let base = resident();
        let peak = Arc::new(AtomicU64::new(base));
        let sampler = {
            let (stop, peak) = (stop.clone(), peak.clone());
            // A thread of its own: the test's runtime may be the one kept busy.
            tokio::task::spawn_blocking(move || {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(resident(), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        let health = {
            let (stop, http, url) = (stop.clone(), s.http.clone(), format!("{}/healthz", s.base));
            tokio::spawn(async move {
                let (mut slowest, mut answers) = (Duration::ZERO, 0);
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let res = http.get(&url).timeout(Duration::from_secs(10)).send().await.expect("/healthz answers");
                    assert!(res.status().is_success(), "/healthz: {}", res.status());
                    slowest = slowest.max(t.elapsed());
                    answers += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                (slowest, answers)
            })
        };
        Watch { stop, peak, base, sampler, health }
    }

    /// Stops watching: (peak growth in bytes, slowest `/healthz`, its answers).
    async fn stop(self) -> (u64, Duration, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.sampler.await.unwrap();
        let (slowest, answers) = self.health.await.unwrap();
        (self.peak.load(Ordering::Relaxed).saturating_sub(self.base), slowest, answers)
    }
}

/// Posts a file to the imports route as `token`: (status, body, seconds taken).
async fn upload(s: &Server, token: &str, query: &str, body: Vec<u8>) -> (u16, Value, Duration) {
    let t = Instant::now();
    let res = s.http.post(format!("{}/api/v1/forms/customer/imports?{query}", s.base)).bearer_auth(token).body(body).timeout(Duration::from_secs(120)).send().await.unwrap();
    let status = res.status().as_u16();
    if status >= 400 {
        assert_eq!(res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).as_deref(), Some("application/problem+json"));
    }
    let body: Value = res.json().await.unwrap();
    (status, body, t.elapsed())
}

/// Waits for a job to end (within `deadline`) and returns it.
async fn finished(s: &Server, token: &str, id: &str, deadline: Duration) -> Value {
    let t = Instant::now();
    while t.elapsed() < deadline {
        let job = s.get_as(token, &format!("/api/v1/jobs/{id}")).await.expect(200).body;
        if job["status"] == "done" || job["status"] == "failed" {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("job {id} did not end within {deadline:?}");
}

async fn count(s: &Server) -> i64 {
    s.get("/api/v1/forms/customer/records/count").await.expect(200).body["count"].as_i64().unwrap()
}

/// Issue 21, 2a: a staff user's 8 MB CSV with 1,000,000 columns took the
/// server to 3.9 GB. Now the header is refused as soon as its 1,001st cell is read.
async fn a_million_columns_are_refused_at_once(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    let staff = s.user("staff@example.com", "staff").await;
    let mut file: Vec<u8> = (0..1_000_000).map(|i| format!("c{i}")).collect::<Vec<_>>().join(",").into_bytes();
    file.extend_from_slice(b"\n1,2\n");
    assert!(file.len() > 7_000_000);

    let _one = HOSTILE.lock().await;
    let watch = Watch::start(&s);
    let (status, body, took) = upload(&s, &staff, "name=wide.csv", file).await;
    let (grew, slowest, answers) = watch.stop().await;
    eprintln!("{b:?} 1,000,000 columns: {status} in {took:?}, resident +{} MiB, /healthz slowest {slowest:?} of {answers}", grew / MB);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["type"].as_str().unwrap().rsplit('/').next(), Some("invalid-parameter"));
    assert!(body["detail"].as_str().unwrap().contains("more than 1,000 cells"), "{body}");
    assert!(body.to_string().len() < 4096, "the refusal is small: {body}");
    assert!(took < Duration::from_secs(30), "answered in {took:?}");
    assert!(grew < 256 * MB, "resident memory grew by {} MiB", grew / MB);
    assert!(slowest < Duration::from_secs(2), "/healthz took {slowest:?}");
    assert_eq!(count(&s).await, 0);
    s.stop().await;
}

/// Issue 21, 2b: a CSV whose one line is 100 MB stored a record with a
/// 100 MB `name`. Now that row is refused at its column (a cell holds at most
/// 32,767 characters), the next row is imported, and memory stays bounded.
async fn a_100_mb_line_is_a_refused_row_not_a_record(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    let mut file = b"name,phone\n".to_vec();
    file.extend(std::iter::repeat_n(b'x', 100 << 20));
    file.extend_from_slice(",13800000000\n张三,13900000000\n".as_bytes());
    let size = file.len() as u64;

    let _one = HOSTILE.lock().await;
    let watch = Watch::start(&s);
    let (status, job, took) = upload(&s, &s.token, "name=long.csv", file).await;
    assert_eq!(status, 202, "{job}");
    let job = finished(&s, &s.token, job["id"].as_str().unwrap(), Duration::from_secs(120)).await;
    let (grew, slowest, answers) = watch.stop().await;
    eprintln!("{b:?} a 100 MB line: 202 in {took:?}, resident +{} MiB, /healthz slowest {slowest:?} of {answers}", grew / MB);
    assert_eq!((job["status"].as_str(), job["created"].as_i64(), job["failed"].as_i64(), job["total"].as_i64()), (Some("done"), Some(1), Some(1), Some(2)), "{job}");
    let errors = s.get(&format!("/api/v1/jobs/{}/errors?format=json", job["id"].as_str().unwrap())).await.expect(200).body;
    let e = &errors["items"][0];
    assert_eq!((e["row"].as_i64(), e["column"].as_str(), e["field"].as_str()), (Some(2), Some("name"), Some("name")), "{errors}");
    assert!(e["message"].as_str().unwrap().contains("longer than 32,767 characters"), "{e}");
    assert_eq!(s.names("customer", &[]).await, ["张三"], "no record holds the long line");
    // The file is held (request, database, the run reading it back); its rows are not.
    assert!(grew < 5 * size + 256 * MB, "resident memory grew by {} MiB for a {} MiB file", grew / MB, size / MB);
    assert!(slowest < Duration::from_secs(2), "/healthz took {slowest:?}");
    s.stop().await;
}

/// Issue 21, 2c: an unterminated quote (1.67 GB peak). The rest of the file
/// is one cell, over the bound: one refused row; the rows before it land.
async fn an_unterminated_quote_is_one_refused_row(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    let mut file = b"name,phone\n\xE5\xBC\xA0\xE4\xB8\x89,13900000000\n\"".to_vec();
    while file.len() < 50 << 20 {
        file.extend_from_slice(b"never closed,13800000000\n");
    }
    let size = file.len() as u64;

    let _one = HOSTILE.lock().await;
    let watch = Watch::start(&s);
    let (status, job, took) = upload(&s, &s.token, "name=quote.csv", file).await;
    assert_eq!(status, 202, "{job}");
    let job = finished(&s, &s.token, job["id"].as_str().unwrap(), Duration::from_secs(120)).await;
    let (grew, slowest, answers) = watch.stop().await;
    eprintln!("{b:?} an unterminated quote: 202 in {took:?}, resident +{} MiB, /healthz slowest {slowest:?} of {answers}", grew / MB);
    assert_eq!((job["status"].as_str(), job["created"].as_i64(), job["failed"].as_i64(), job["total"].as_i64()), (Some("done"), Some(1), Some(1), Some(2)), "{job}");
    let errors = s.get(&format!("/api/v1/jobs/{}/errors?format=json", job["id"].as_str().unwrap())).await.expect(200).body;
    assert_eq!(errors["items"][0]["row"].as_i64(), Some(3), "{errors}");
    assert!(grew < 5 * size + 256 * MB, "resident memory grew by {} MiB for a {} MiB file", grew / MB, size / MB);
    assert!(slowest < Duration::from_secs(2), "/healthz took {slowest:?}");
    assert_eq!(count(&s).await, 1);
    s.stop().await;
}

/// A file of 1,000 columns (the most) whose every row is refused: the job
/// view shows a page of 100 columns and no errors, the errors come in pages,
/// the job keeps the first 10,000 refused rows and counts them all, and no
/// reason is longer than 1,000 characters.
async fn job_views_page_their_columns_and_errors(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    let mut file = String::from("name,phone");
    for i in 2..1000 {
        file.push_str(&format!(",c{i:04}"));
    }
    file.push('\n');
    // Every row's phone is wrong; one is wrong at length.
    let long = "1".repeat(5000);
    for i in 0..10_050 {
        file.push_str(&format!("客户{i},{}\n", if i == 7 { long.as_str() } else { "12345" }));
    }
    let (status, job, _) = upload(&s, &s.token, "name=wide.csv", file.into_bytes()).await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["columns"].as_array().unwrap().len(), 100, "the answer shows a page of columns");
    let id = job["id"].as_str().unwrap().to_owned();
    finished(&s, &s.token, &id, Duration::from_secs(300)).await;

    let res = s.call(reqwest::Method::GET, &format!("/api/v1/jobs/{id}"), Some(&s.token), None, &[]).await.expect(200);
    let view = res.body;
    assert!(view.to_string().len() < 16 << 10, "a job view is small: {} bytes", view.to_string().len());
    assert_eq!((view["column_count"].as_i64(), view["columns"].as_array().unwrap().len()), (Some(1000), 100));
    assert_eq!((view["failed"].as_i64(), view["created"].as_i64(), view["total"].as_i64()), (Some(10_050), Some(0), Some(10_050)));
    let tail = s.get(&format!("/api/v1/jobs/{id}?columns_offset=950&columns_limit=100")).await.expect(200).body;
    let tail = tail["columns"].as_array().unwrap();
    assert_eq!((tail.len(), tail[49]["column"].as_str()), (50, Some("c0999")));
    s.get(&format!("/api/v1/jobs/{id}?columns_limit=1001")).await.expect(400);

    let page = s.get(&format!("/api/v1/jobs/{id}/errors?format=json&limit=100&offset=9950")).await.expect(200).body;
    assert_eq!(page["total"].as_i64(), Some(10_000), "the first 10,000 refused rows are kept");
    let items = page["items"].as_array().unwrap();
    assert_eq!((items.len(), items[0]["row"].as_i64(), items[49]["row"].as_i64()), (50, Some(9952), Some(10_001)));
    let first = s.get(&format!("/api/v1/jobs/{id}/errors?format=json&limit=10")).await.expect(200).body;
    let long_one = first["items"].as_array().unwrap().iter().find(|e| e["row"] == 9).expect("row 9 refused").clone();
    assert!(long_one["message"].as_str().unwrap().chars().count() <= 1001, "{long_one}");
    for bad in ["limit=0", "limit=1001", "limit=-1", "offset=-1"] {
        s.get(&format!("/api/v1/jobs/{id}/errors?format=json&{bad}")).await.expect(400);
    }
    let report = s.http.get(format!("{}/api/v1/jobs/{id}/errors", s.base)).bearer_auth(&s.token).send().await.unwrap().text().await.unwrap();
    assert_eq!(report.lines().count(), 10_001, "the CSV report: a header and every row kept");

    let list = s.get("/api/v1/jobs").await.expect(200).body;
    assert!(list["items"][0].get("columns").is_none(), "a list of jobs carries no columns");
    assert_eq!(list["items"][0]["column_count"].as_i64(), Some(1000));
    s.stop().await;
}

/// A user has at most two unfinished imports; the third is 429 with a clear
/// detail until one ends. Other users are not held up.
async fn imports_per_user_are_bounded(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    let staff = s.user("staff@example.com", "staff").await;
    let file = |i: usize| format!("name,phone\n客户{i},1390000000{i}\n").into_bytes();
    let mut ids = Vec::new();
    for i in 0..2 {
        let (status, job, _) = upload(&s, &staff, "", file(i)).await;
        assert_eq!(status, 202, "{job}");
        let id = job["id"].as_str().unwrap().to_owned();
        finished(&s, &staff, &id, Duration::from_secs(60)).await;
        ids.push(id);
    }
    // Two imports still under way (as if their server had died mid-file).
    let db = Db::open(&s.db_url).await;
    db.text("UPDATE jobs SET status = 'running', finished_at = NULL").await;

    let (status, problem, _) = upload(&s, &staff, "", file(2)).await;
    assert_eq!(status, 429, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("2 imports under way"), "{problem}");
    let (status, job, _) = upload(&s, &s.token, "", file(3)).await;
    assert_eq!(status, 202, "another user imports: {job}");
    finished(&s, &s.token, job["id"].as_str().unwrap(), Duration::from_secs(60)).await;

    // One ends: the next import starts.
    db.text(&format!("UPDATE jobs SET status = 'done' WHERE status = 'running' AND file_name = 'upload' AND {}", id_is(b, &ids[0]))).await;
    let (status, job, _) = upload(&s, &staff, "", file(2)).await;
    assert_eq!(status, 202, "{job}");
    db.close().await;
    s.stop().await;
}

/// SQL matching a job's id, stored as a blob on SQLite and a uuid on PostgreSQL.
fn id_is(b: Backend, id: &str) -> String {
    match b {
        Backend::Sqlite => format!("hex(id) = '{}'", id.replace('-', "").to_uppercase()),
        Backend::Postgres => format!("id = '{id}'"),
    }
}

/// XLSX is read cell by cell within the same bounds: a header past 1,000
/// columns is refused, a data row past them is a refused row.
async fn workbooks_are_read_within_the_same_limits(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "name").unwrap();
    sheet.write_string(0, 1500, "far").unwrap();
    let wide = book.save_to_buffer().unwrap();
    let (status, problem, _) = upload(&s, &s.token, "name=wide.xlsx", wide).await;
    assert_eq!(status, 400, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("more than 1,000 cells"), "{problem}");

    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in ["name", "phone"].into_iter().enumerate() {
        sheet.write_string(0, c as u16, h).unwrap();
    }
    // A data row past the columns: refused at its row, the next one imported.
    sheet.write_string(1, 0, "李四").unwrap();
    sheet.write_string(1, 1, "13800000000").unwrap();
    sheet.write_string(1, 1200, "far").unwrap();
    sheet.write_string(2, 0, "张三").unwrap();
    sheet.write_string(2, 1, "13900000000").unwrap();
    let file = book.save_to_buffer().unwrap();
    let (status, job, _) = upload(&s, &s.token, "name=long.xlsx", file).await;
    assert_eq!(status, 202, "{job}");
    let job = finished(&s, &s.token, job["id"].as_str().unwrap(), Duration::from_secs(60)).await;
    assert_eq!((job["created"].as_i64(), job["failed"].as_i64()), (Some(1), Some(1)), "{job}");
    let errors = s.get(&format!("/api/v1/jobs/{}/errors?format=json", job["id"].as_str().unwrap())).await.expect(200).body;
    assert_eq!(errors["items"][0]["row"].as_i64(), Some(2), "{errors}");
    assert!(errors["items"][0]["message"].as_str().unwrap().contains("more than 1,000 cells"), "{errors}");
    assert_eq!(s.names("customer", &[]).await, ["张三"]);
    s.stop().await;
}
