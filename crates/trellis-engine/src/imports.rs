//! Imports: a spreadsheet's rows through the write path, as a job that a
//! crash cannot make lose or repeat a row.
//!
//! A job keeps its file. Rows are planned a batch at a time outside any
//! transaction (cells typed, users and linked records looked up, rows whose
//! key exists split off as updates), then written in one transaction that
//! first locks the job row, checks that `done` is still where the plan
//! started, and moves it past the batch before committing. A killed run
//! leaves `done` at its last commit; running the job again (the same import
//! started again, or the server's tick picking up a job nobody moves) goes on
//! from there. A batch the database refuses as a whole (a key taken
//! meanwhile, a rule failing on one record) is written again row by row, each
//! row in its own transaction, so the good rows land and the bad one is
//! reported.
//!
//! A file is never held as rows: a blocking thread reads it as a stream
//! ([`sheet::scan`], within [`sheet::Limits`]) and hands rows over a small
//! bounded channel, a batch at a time, so memory holds the file's bytes, a
//! batch and the hashes of its unique keys (to find rows repeating an
//! earlier row), whatever the file. Rows past a bound are refused as rows;
//! the refused rows kept per job, the characters of each reason and the
//! unfinished imports per user are bounded too (see `docs/imports.md`).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::ops::ControlFlow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use trellis_core::import::{self, ColumnMap};
use trellis_core::query;
use trellis_core::record::merge_patch;
use trellis_core::sheet::{self, Item, Limits, Row};
use trellis_core::{CompiledForm, Issue, Record, diff, validate};
use trellis_store::{Job, JobError, Tx};
use uuid::Uuid;

use crate::flow::Written;
use crate::{Actor, Engine, EngineError, Result, Role, derive};

/// Rows per transaction.
pub const BATCH: usize = 500;

/// A batch also ends when its cells reach this many bytes, so that 500 rows
/// of 16 MiB each are not one batch.
pub const BATCH_BYTES: usize = 8 << 20;

/// Refused rows a job keeps, the first in file order; `failed` counts them all.
pub const MAX_ERRORS: i64 = 10_000;

/// Characters of a refused row's reason that are kept.
pub const MESSAGE_CHARS: usize = 1_000;

/// Unfinished imports (dry runs included) one user may have at once; the
/// next is refused with 429 until one ends. The CLI is not counted.
pub const MAX_IMPORTS_PER_USER: usize = 2;

/// Columns a job view shows unless asked for more (at most [`sheet::Limits::columns`]).
pub const COLUMNS_PAGE: usize = 100;

/// How an import reads its file and writes its rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportOptions {
    /// Check every row and count what would happen; write no record.
    #[serde(default)]
    pub dry_run: bool,
    /// Column → field, by hand; an empty field leaves the column out.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub map: BTreeMap<String, String>,
    /// A unique field: a row whose value exists updates that record instead of creating one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upsert_on: Option<String>,
    /// Whether event triggers (created, updated, changed) fire for the rows.
    #[serde(default = "yes")]
    pub events: bool,
    /// The zone a date-time written without an offset is read in (default Asia/Shanghai).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    /// Rows per transaction (default [`BATCH`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<usize>,
    /// `zh`: refused rows are said in Chinese (the language of whoever started the import); English otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

fn yes() -> bool {
    true
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions { dry_run: false, map: BTreeMap::new(), upsert_on: None, events: true, tz: None, batch: None, lang: None }
    }
}

/// A job as users see it.
#[derive(Debug, Clone, Serialize)]
pub struct JobView {
    pub id: Uuid,
    pub kind: String,
    pub form: String,
    pub file_name: String,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    pub options: Value,
    pub total: i64,
    pub done: i64,
    /// With `dry_run`, what would be created, updated or left alone.
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub failed: i64,
    /// A page of the column mapping (see [`JobView::columns_page`]); absent in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub columns: Option<Value>,
    /// How many columns the file has.
    pub column_count: usize,
    pub encoding: Value,
    pub error: Option<String>,
    pub created_by: Uuid,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
    pub finished_at: Option<jiff::Timestamp>,
}

impl From<Job> for JobView {
    fn from(j: Job) -> JobView {
        let columns = j.summary.get("columns").cloned().unwrap_or(Value::Null);
        JobView {
            column_count: columns.as_array().map_or(0, Vec::len),
            columns: Some(columns),
            encoding: j.summary.get("encoding").cloned().unwrap_or(Value::Null),
            id: j.id,
            kind: j.kind,
            form: j.form,
            file_name: j.file_name,
            status: j.status,
            options: j.options,
            total: j.total,
            done: j.done,
            created: j.created,
            updated: j.updated,
            unchanged: j.unchanged,
            failed: j.failed,
            error: j.error,
            created_by: j.created_by,
            created_at: j.created_at,
            updated_at: j.updated_at,
            finished_at: j.finished_at,
        }
    }
}

impl JobView {
    /// Only columns `offset..offset + limit` of the mapping, so a view is small whatever the file.
    pub fn columns_page(mut self, offset: usize, limit: usize) -> JobView {
        if let Some(Value::Array(all)) = &mut self.columns {
            *all = all.iter().skip(offset).take(limit).cloned().collect();
        }
        self
    }

    /// The view without its columns: the list of jobs.
    pub fn without_columns(mut self) -> JobView {
        self.columns = None;
        self
    }
}

/// One row refused, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowError {
    pub row: i64,
    pub column: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

impl From<JobError> for RowError {
    fn from(e: JobError) -> RowError {
        RowError { row: e.row, column: e.column, field: e.field, message: e.message }
    }
}

impl From<&RowError> for JobError {
    fn from(e: &RowError) -> JobError {
        JobError { row: e.row, column: e.column.clone(), field: e.field.clone(), message: e.message.clone() }
    }
}

impl RowError {
    /// The error as kept: its reason cut to [`MESSAGE_CHARS`] (a schema's
    /// message may quote the whole value).
    fn clipped(&self) -> RowError {
        RowError { message: import::clip(&self.message, MESSAGE_CHARS).into_owned(), ..self.clone() }
    }
}

/// What a dry run found, without a job.
#[derive(Debug, Clone, Serialize)]
pub struct DryRun {
    pub total: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub columns: Vec<ColumnMap>,
    pub encoding: &'static str,
    pub errors: Vec<RowError>,
}

/// Counts of one batch.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    created: i64,
    updated: i64,
    unchanged: i64,
}

/// A file's header read and mapped, ready for its rows to be planned batch by batch.
struct Prepared {
    form: Arc<CompiledForm>,
    encoding: &'static str,
    mapping: Vec<ColumnMap>,
    tz: jiff::tz::TimeZone,
    upsert_on: Option<String>,
    batch: usize,
    /// What the importing user may write: rows they may not are refused.
    grant: crate::access::Grant,
    /// Refused rows are said in Chinese.
    zh: bool,
}

/// What to do with one row.
enum Action {
    Create(Map<String, Value>),
    /// `would_change` is what a dry run predicts.
    Update { id: Uuid, patch: Map<String, Value>, would_change: bool },
}

struct Planned {
    action: Action,
}

/// Lookups kept across batches.
#[derive(Default)]
struct Caches {
    users: HashMap<String, Option<Uuid>>,
    /// (form, key text) → what it names.
    links: HashMap<(String, String), Link>,
}

/// The records a link cell's text names.
#[derive(Debug, Clone, Copy)]
enum Link {
    One(Uuid),
    /// Several share it (a title, not a key): the cell names none of them.
    Many(usize),
    None,
}

/// One row of the file as an import meets it.
#[derive(Debug, Clone)]
enum Entry {
    Row(Row),
    /// Refused by the reader (a cell or the row past a bound).
    Refused(sheet::Refusal),
}

/// A row from the stream, with what reading it in order found.
#[derive(Debug, Clone)]
struct Streamed {
    entry: Entry,
    /// It repeats a unique key of an earlier row: the key's first field and the reason.
    repeat: Option<(String, String)>,
}

impl Streamed {
    fn number(&self) -> usize {
        match &self.entry {
            Entry::Row(r) => r.number,
            Entry::Refused(r) => r.number,
        }
    }

    fn bytes(&self) -> usize {
        match &self.entry {
            Entry::Row(r) => r.cells.iter().map(|c| c.len() + 24).sum(),
            Entry::Refused(r) => r.message.len(),
        }
    }
}

/// Items the reading thread sends at once: up to this many, or [`CHUNK_BYTES`].
const CHUNK_ITEMS: usize = 256;
const CHUNK_BYTES: usize = 1 << 20;

type Chunk = std::result::Result<Vec<Item>, sheet::SheetError>;

/// A file's rows in order, read by a blocking thread into a channel of two
/// chunks: memory holds a couple of chunks and the batch being written.
struct RowStream {
    rx: tokio::sync::mpsc::Receiver<Chunk>,
    pending: VecDeque<Item>,
    /// The index of the next row `pending`/`rx` give.
    pos: usize,
    repeats: import::Repeats,
    /// The last batch handed out, and its first row's index: planned again
    /// when its transaction did not commit.
    held: Vec<Streamed>,
    held_start: usize,
}

impl RowStream {
    fn open(source: Arc<Vec<u8>>) -> RowStream {
        let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(2);
        tokio::task::spawn_blocking(move || {
            let mut chunk = Vec::new();
            let mut bytes = 0;
            let read = sheet::scan(&source, &Limits::DEFAULT, &mut |item| {
                bytes += match &item {
                    Item::Row(r) => r.cells.iter().map(String::len).sum(),
                    _ => 0,
                };
                chunk.push(item);
                if chunk.len() >= CHUNK_ITEMS || bytes >= CHUNK_BYTES {
                    bytes = 0;
                    // The import stopped listening: stop reading.
                    if tx.blocking_send(Ok(std::mem::take(&mut chunk))).is_err() {
                        return ControlFlow::Break(());
                    }
                }
                ControlFlow::Continue(())
            });
            let last = match read {
                Ok(()) => Ok(chunk),
                Err(e) => Err(e),
            };
            let _ = tx.blocking_send(last);
        });
        RowStream { rx, pending: VecDeque::new(), pos: 0, repeats: import::Repeats::default(), held: Vec::new(), held_start: 0 }
    }

    /// The next row, or `None` at the end of the file.
    async fn next(&mut self, p: &Prepared) -> Result<Option<Streamed>> {
        loop {
            match self.pending.pop_front() {
                Some(Item::Header(_)) => continue,
                Some(Item::Refused(r)) => {
                    self.pos += 1;
                    return Ok(Some(Streamed { entry: Entry::Refused(r), repeat: None }));
                }
                Some(Item::Row(row)) => {
                    self.pos += 1;
                    let data = import::row_data(&p.form, &p.mapping, &row.cells, &p.tz).ok();
                    let repeat = self.repeats.check(&p.form, data.as_ref(), row.number).map(|(key, first)| {
                        let title: Vec<String> = key.iter().map(|f| import::header_of(&p.form, f)).collect();
                        let values: Vec<String> = key.iter().filter_map(|f| data.as_ref().and_then(|d| d.get(f)).map(|v| import::clip(&cell_text(v), 100).into_owned())).collect();
                        (key[0].clone(), format!("repeats the {} '{}' of row {first}; only the first is imported", title.join(" + "), values.join(" + ")))
                    });
                    return Ok(Some(Streamed { entry: Entry::Row(row), repeat }));
                }
                None => match self.rx.recv().await {
                    Some(Ok(chunk)) => self.pending.extend(chunk),
                    Some(Err(e)) => return Err(bad("file", e.to_string())),
                    None => return Ok(None),
                },
            }
        }
    }

    /// Rows from index `start`: at most a batch of rows or [`BATCH_BYTES`];
    /// empty at the end of the file. `None` when `start` lies before what
    /// was read (the caller opens the file again).
    async fn batch(&mut self, p: &Prepared, start: usize) -> Result<Option<&[Streamed]>> {
        if start < self.held_start {
            return Ok(None);
        }
        if start < self.held_start + self.held.len() {
            return Ok(Some(&self.held[start - self.held_start..]));
        }
        while self.pos < start {
            if self.next(p).await?.is_none() {
                break;
            }
        }
        let mut held = Vec::new();
        let mut bytes = 0;
        while held.len() < p.batch && bytes < BATCH_BYTES {
            let Some(s) = self.next(p).await? else { break };
            bytes += s.bytes();
            held.push(s);
        }
        self.held = held;
        self.held_start = start;
        Ok(Some(&self.held))
    }
}

/// Runs CPU-heavy work (reading, hashing a file) off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| EngineError::Internal(format!("a file reader stopped: {e}")))
}

/// The header of a file and how many rows it has; a pass over the whole file.
fn count_rows(source: &[u8]) -> std::result::Result<(sheet::Header, usize), sheet::SheetError> {
    let mut header = None;
    let mut rows = 0;
    sheet::scan(source, &Limits::DEFAULT, &mut |item| {
        match item {
            Item::Header(h) => header = Some(h),
            _ => rows += 1,
        }
        ControlFlow::Continue(())
    })?;
    Ok((header.unwrap_or(sheet::Header { columns: Vec::new(), encoding: "" }), rows))
}

/// The header of a file, read without going past it.
fn read_header(source: &[u8]) -> std::result::Result<sheet::Header, sheet::SheetError> {
    let mut header = None;
    sheet::scan(source, &Limits::DEFAULT, &mut |item| {
        if let Item::Header(h) = item {
            header = Some(h);
        }
        ControlFlow::Break(())
    })?;
    header.ok_or_else(|| sheet::SheetError { row: None, message: "the file has no header row".into() })
}

/// Counts a user's imports being started in this process, beside the unfinished ones stored.
struct ImportStart<'a> {
    map: &'a std::sync::Mutex<HashMap<Uuid, usize>>,
    user: Uuid,
}

impl<'a> ImportStart<'a> {
    /// The guard, and how many other starts of this user are under way.
    fn enter(map: &'a std::sync::Mutex<HashMap<Uuid, usize>>, user: Uuid) -> (ImportStart<'a>, usize) {
        let mut m = map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = m.entry(user).or_default();
        *n += 1;
        (ImportStart { map, user }, *n - 1)
    }
}

impl Drop for ImportStart<'_> {
    fn drop(&mut self) {
        let mut m = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = m.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.user);
            }
        }
    }
}

fn bad(param: &'static str, message: impl Into<String>) -> EngineError {
    EngineError::BadRequest { param, message: message.into() }
}

/// A value as the text a spreadsheet cell would hold: numbers compare by value (100 and 100.0 are one key).
pub(crate) fn cell_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), |f| f.to_string()),
        other => other.to_string(),
    }
}

/// The field a problem's pointer names (`/tags/1` → `tags`).
fn pointer_field(pointer: &str) -> Option<String> {
    pointer.trim_start_matches('/').split('/').next().filter(|s| !s.is_empty()).map(|s| s.replace("~1", "/").replace("~0", "~"))
}

/// Whether an error belongs to the rows being written (retry them one by one)
/// rather than to the database or the server (stop, and resume later).
fn row_fault(e: &EngineError) -> bool {
    matches!(
        e,
        EngineError::Invalid(_) | EngineError::Conflict { .. } | EngineError::Rule(_) | EngineError::Workflow(_) | EngineError::Guard(_) | EngineError::Gone(_) | EngineError::NotFound(_) | EngineError::Stale { .. }
    )
}

impl Prepared {
    fn column_of(&self, field: &str) -> Option<String> {
        self.mapping.iter().find(|m| m.field.as_deref() == Some(field)).map(|m| m.column.clone())
    }

    fn row_error(&self, number: usize, field: Option<String>, message: impl Into<String>) -> RowError {
        let column = field.as_deref().and_then(|f| self.column_of(f));
        RowError { row: number as i64, column, field, message: message.into() }
    }

    /// Errors of an engine refusal, at the fields its problems point to.
    fn errors_of(&self, number: usize, e: &EngineError) -> Vec<RowError> {
        match e {
            EngineError::Invalid(issues) => issues.iter().map(|i| self.issue_error(number, i)).collect(),
            EngineError::Conflict { message, key, zh } => {
                let message = if self.zh { zh.clone().unwrap_or_else(|| message.clone()) } else { message.clone() };
                vec![self.row_error(number, key.as_ref().and_then(|k| k.first().cloned()), message)]
            }
            other => vec![self.row_error(number, None, other.to_string())],
        }
    }

    fn issue_error(&self, number: usize, i: &Issue) -> RowError {
        let field = pointer_field(&i.pointer);
        let message = if self.zh { i.zh.clone().unwrap_or_else(|| i.message.clone()) } else { i.message.clone() };
        let mut e = self.row_error(number, field.clone(), message);
        if e.column.is_none()
            && let Some(f) = field
            && i.code == "required"
        {
            e.message = if self.zh { format!("{}（文件里没有对应的列）", e.message) } else { format!("{} (no column of the file fills '{f}')", i.message) };
        }
        e
    }

    fn fields_mapped(&self) -> impl Iterator<Item = &str> {
        self.mapping.iter().filter_map(|m| m.field.as_deref())
    }
}

impl Engine {
    /// Reads the file and maps its columns; refuses at once what cannot run.
    /// The importing `actor` must be allowed to create records and to write every field a column fills.
    async fn prepare(&self, actor: &Actor, form: &str, source: Arc<Vec<u8>>, opts: &ImportOptions) -> Result<Prepared> {
        let form = self.form(form).await?;
        let grant = self.grant(actor, &form).await?;
        grant.require_create()?;
        let header = blocking(move || read_header(&source)).await?.map_err(|e| bad("file", e.to_string()))?;
        let mapping = import::map_columns(&form, &header.columns, &opts.map).map_err(|e| bad("map", e.0))?;
        let refused: Vec<Issue> = mapping
            .iter()
            .filter_map(|m| m.field.as_ref().map(|f| (m, f)))
            .filter(|(_, f)| !grant.access.writes(f))
            .map(|(m, f)| Issue::new(format!("/columns/{}", trellis_core::issue::escape_token(&m.column)), if grant.access.sees(f) { "readonly" } else { "hidden" }, format!("column '{}' fills '{f}', which role {} may not write ({}); leave it out with {}=", m.column, grant.access.role, grant.access.rule, m.column)).zh(format!("列「{}」对应字段「{f}」，你的角色不能填写它；请在映射中去掉这一列", m.column)))
            .collect();
        if !refused.is_empty() {
            return Err(EngineError::Refused(refused));
        }
        if !mapping.iter().any(|m| m.field.is_some()) {
            return Err(bad(
                "map",
                format!("no column of the file matches a field of form '{}' by key or title (columns: {}); map them with COLUMN=field", form.key(), import::list(&header.columns)),
            ));
        }
        let tz_name = opts.tz.as_deref().unwrap_or(trellis_core::trigger::DEFAULT_TZ);
        let tz = jiff::tz::TimeZone::get(tz_name).map_err(|e| bad("tz", format!("unknown time zone '{tz_name}': {e}")))?;
        if let Some(f) = &opts.upsert_on {
            if !form.def.unique.iter().any(|u| u.len() == 1 && &u[0] == f) {
                let keys: Vec<String> = form.def.unique.iter().filter(|u| u.len() == 1).map(|u| u[0].clone()).collect();
                return Err(bad(
                    "upsert_on",
                    format!("'{f}' is not a unique key of form '{}'; {}", form.key(), if keys.is_empty() { "the form has no single-field unique key".to_owned() } else { format!("its unique keys: {}", keys.join(", ")) }),
                ));
            }
            if !mapping.iter().any(|m| m.field.as_ref() == Some(f)) {
                return Err(bad("upsert_on", format!("no column of the file fills '{f}', which rows are matched on")));
            }
        }
        let batch = opts.batch.unwrap_or(BATCH).clamp(1, 1000);
        Ok(Prepared { form, encoding: header.encoding, mapping, tz, upsert_on: opts.upsert_on.clone(), batch, grant, zh: opts.lang.as_deref() == Some("zh") })
    }

    /// Starts an import of `source` into `form` as a job (run it with
    /// [`Engine::run_job`]). The same import started again — same form,
    /// options and file — while unfinished answers its job, which goes on
    /// where it stopped.
    ///
    /// A user with [`MAX_IMPORTS_PER_USER`] unfinished imports is refused
    /// (`TooMany`, 429) until one ends. The file is read twice here, as
    /// streams off the async workers: for its header, then to count its rows
    /// (a file past a [`Limits`] bound of the whole file is refused now).
    pub async fn start_import(&self, actor: &Actor, form: &str, file_name: &str, source: Vec<u8>, opts: ImportOptions) -> Result<JobView> {
        let form = self.form(form).await?;
        self.grant(actor, &form).await?.require_create()?;
        let source = Arc::new(source);
        let options = serde_json::to_value(&opts).map_err(|e| EngineError::Internal(e.to_string()))?;
        let (file, key, text, user) = (source.clone(), form.key().to_owned(), options.to_string(), actor.id);
        let fingerprint = blocking(move || {
            let mut hash = Sha256::new();
            hash.update(key.as_bytes());
            hash.update([0]);
            hash.update(text.as_bytes());
            hash.update([0]);
            hash.update(user.as_bytes());
            hash.update(file.as_slice());
            hex::encode(hash.finalize())
        })
        .await?;
        if let Some(open) = self.store.open_job(&fingerprint).await? {
            return Ok(open.into());
        }
        let (_starting, others) = ImportStart::enter(&self.import_starts, actor.id);
        if actor.id != crate::sweep::SYSTEM_ACTOR {
            let open = self.store.open_jobs_of(actor.id).await? as usize;
            if open + others >= MAX_IMPORTS_PER_USER {
                return Err(EngineError::TooMany {
                    message: format!("you have {} imports under way, the most one user may run at once; start this one when one of them ends", open + others),
                    retry_after: 10,
                });
            }
        }
        let p = self.prepare(actor, form.key(), source.clone(), &opts).await?;
        let file = source.clone();
        let (_, total) = blocking(move || count_rows(&file)).await?.map_err(|e| bad("file", e.to_string()))?;
        let now = self.clock.now();
        let job = Job {
            id: Uuid::now_v7(),
            kind: "import".into(),
            form: p.form.key().to_owned(),
            fingerprint,
            options,
            file_name: file_name.to_owned(),
            status: "queued".into(),
            total: total as i64,
            done: 0,
            created: 0,
            updated: 0,
            unchanged: 0,
            failed: 0,
            summary: json!({"columns": p.mapping, "encoding": p.encoding}),
            error: None,
            created_by: actor.id,
            created_at: now,
            updated_at: now,
            finished_at: None,
        };
        let mut tx = self.store.begin().await?;
        let inserted = tx.insert_job(&job, &source).await;
        drop(p);
        if let Err(e) = inserted {
            drop(tx);
            // The same import started a moment ago by another request: that job it is.
            return match self.store.open_job(&job.fingerprint).await? {
                Some(open) => Ok(open.into()),
                None => Err(e.into()),
            };
        }
        tx.commit().await?;
        Ok(job.into())
    }

    /// A job, to the user who started it or an admin.
    pub async fn job(&self, actor: &Actor, id: Uuid) -> Result<JobView> {
        let job = self.store.job(id).await?.filter(|j| j.created_by == actor.id || actor.role == Role::Admin).ok_or_else(|| EngineError::NotFound(format!("there is no job {id}")))?;
        Ok(job.into())
    }

    /// The newest jobs: the actor's own, or everyone's for an admin.
    pub async fn jobs(&self, actor: &Actor, limit: i64) -> Result<Vec<JobView>> {
        let mine = (actor.role != Role::Admin).then_some(actor.id);
        Ok(self.store.jobs(mine, limit.clamp(1, 200)).await?.into_iter().map(|j| JobView::from(j).without_columns()).collect())
    }

    /// The rows a job refused, in file order: the first `limit`, or all it kept (at most [`MAX_ERRORS`]).
    pub async fn job_errors(&self, actor: &Actor, id: Uuid, limit: Option<i64>) -> Result<Vec<RowError>> {
        Ok(self.job_errors_page(actor, id, 0, limit.unwrap_or(MAX_ERRORS)).await?.0)
    }

    /// The refused rows `offset..offset + limit` a job kept, and how many it kept.
    pub async fn job_errors_page(&self, actor: &Actor, id: Uuid, offset: i64, limit: i64) -> Result<(Vec<RowError>, i64)> {
        self.job(actor, id).await?;
        let items = self.store.job_errors(id, offset.max(0), limit.max(0)).await?.into_iter().map(RowError::from).collect();
        Ok((items, self.store.job_error_count(id).await?))
    }

    /// Takes over unfinished jobs nobody has moved for `idle` (their worker
    /// died): returns their ids for the caller to run.
    pub async fn claim_stale_jobs(&self, idle: jiff::SignedDuration) -> Result<Vec<Uuid>> {
        let now = self.clock.now();
        let mut claimed = Vec::new();
        for id in self.store.stale_jobs(now - idle).await? {
            let Some(job) = self.store.job(id).await? else { continue };
            let mut tx = self.store.begin().await?;
            if tx.claim_job(id, job.updated_at, now).await? {
                claimed.push(id);
            }
            tx.commit().await?;
        }
        Ok(claimed)
    }

    /// Checks every row of a file and counts what an import would do, writing
    /// nothing. `errors` keeps the first [`MAX_ERRORS`]; `failed` counts all.
    pub async fn dry_run_import(&self, actor: &Actor, form: &str, source: &[u8], opts: &ImportOptions, progress: &(dyn Fn(usize, usize) + Sync)) -> Result<DryRun> {
        let source = Arc::new(source.to_vec());
        let p = self.prepare(actor, form, source.clone(), opts).await?;
        let file = source.clone();
        let (_, total) = blocking(move || count_rows(&file)).await?.map_err(|e| bad("file", e.to_string()))?;
        let mut caches = Caches::default();
        let mut out = DryRun { total, created: 0, updated: 0, unchanged: 0, failed: 0, columns: p.mapping.clone(), encoding: p.encoding, errors: Vec::new() };
        let mut stream = RowStream::open(source);
        let mut start = 0;
        while start < total {
            let Some(rows) = stream.batch(&p, start).await? else { return Err(EngineError::Internal("the file was read out of order".into())) };
            if rows.is_empty() {
                break;
            }
            let (planned, errors) = self.plan(&p, rows, &mut caches).await?;
            let c = predicted(&planned);
            out.created += c.created as usize;
            out.updated += c.updated as usize;
            out.unchanged += c.unchanged as usize;
            out.failed += failed_rows(&errors);
            let room = (MAX_ERRORS as usize).saturating_sub(out.errors.len());
            out.errors.extend(errors.iter().take(room).map(RowError::clipped));
            start += rows.len();
            progress(start, total);
        }
        Ok(out)
    }

    /// Runs (or resumes) a job to its end, calling `progress` after every
    /// batch. A job this process is already running answers as it is.
    pub async fn run_job(&self, id: Uuid, progress: &(dyn Fn(&JobView) + Sync)) -> Result<JobView> {
        let Some(_running) = RunningJob::enter(&self.running_jobs, id) else {
            return self.store.job(id).await?.map(JobView::from).ok_or_else(|| EngineError::NotFound(format!("there is no job {id}")));
        };
        let job = self.store.job(id).await?.ok_or_else(|| EngineError::NotFound(format!("there is no job {id}")))?;
        if matches!(job.status.as_str(), "done" | "failed") {
            return Ok(job.into());
        }
        if job.kind == crate::backfill::KIND {
            return self.run_backfill(job, progress).await;
        }
        let source = self.store.job_source(id).await?.unwrap_or_default();
        let opts: ImportOptions = serde_json::from_value(job.options.clone()).map_err(|e| EngineError::Internal(format!("job {id} has options this version cannot read: {e}")))?;
        // The job runs as who started it, with their permissions as they are now.
        let importer = match self.store.find_user(&job.created_by.to_string()).await? {
            Some(u) => Actor::from_user(u)?,
            None if job.created_by == crate::sweep::SYSTEM_ACTOR => Actor::system(),
            None => return self.fail_job(id, format!("user {} who started the import is gone", job.created_by)).await,
        };
        let source = Arc::new(source);
        let p = match self.prepare(&importer, &job.form, source.clone(), &opts).await {
            Ok(p) => p,
            Err(e @ EngineError::Store(_)) => return Err(e),
            // The form changed or went away since the job started: it cannot go on.
            Err(e) => return self.fail_job(id, e.to_string()).await,
        };
        let actor = job.created_by;
        let total = job.total as usize;
        let mut caches = Caches::default();
        let mut stream = RowStream::open(source.clone());
        loop {
            let Some(seen) = self.store.job(id).await? else { return Err(EngineError::NotFound(format!("there is no job {id}"))) };
            if matches!(seen.status.as_str(), "done" | "failed") {
                return Ok(seen.into());
            }
            let start = seen.done as usize;
            if start >= total {
                return self.finish_job(id).await;
            }
            let rows = match stream.batch(&p, start).await {
                Ok(Some(rows)) => rows,
                // Behind what was read: read the file again from its start.
                Ok(None) => {
                    stream = RowStream::open(source.clone());
                    continue;
                }
                Err(e) => return self.fail_job(id, e.to_string()).await,
            };
            let Some(first) = rows.first() else { return self.finish_job(id).await };
            let range = start..start + rows.len();
            let (planned, errors) = match self.plan(&p, rows, &mut caches).await {
                Ok(x) => x,
                Err(e @ EngineError::Store(_)) => return Err(e),
                // Not the database's doing: running it again would stop at the same rows.
                Err(e) => return self.fail_job(id, format!("rows {}–{}: {e}", first.number(), rows[rows.len() - 1].number())).await,
            };
            let now = self.clock.now();
            let mut tx = self.store.begin().await?;
            let Some(mut locked) = tx.lock_job(id).await? else { return Err(EngineError::NotFound(format!("there is no job {id}"))) };
            if locked.done as usize != start || matches!(locked.status.as_str(), "done" | "failed") {
                // Another worker moved the job meanwhile: plan again from where it is.
                continue;
            }
            let counts = if opts.dry_run {
                Ok(predicted(&planned))
            } else {
                self.write_batch(&mut tx, actor, &p, planned, now, opts.events).await
            };
            match counts {
                Ok(c) => {
                    let wrote = (c.created + c.updated) as usize;
                    self.advance(&mut tx, &mut locked, range.end, c, &errors, now).await?;
                    tx.commit().await?;
                    self.wrote_in_bulk(wrote);
                    progress(&locked.into());
                }
                Err(e) if row_fault(&e) => {
                    drop(tx);
                    self.rows_one_by_one(id, actor, &p, (range.start, rows), &mut caches, opts.events, progress).await?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Moves the locked job past a batch and stores the rows it refused.
    async fn advance(&self, tx: &mut Tx, job: &mut Job, to: usize, c: Counts, errors: &[RowError], now: jiff::Timestamp) -> Result<()> {
        if !errors.is_empty() {
            let seq = tx.count_job_errors(job.id).await?;
            let room = (MAX_ERRORS - seq).max(0) as usize;
            let stored: Vec<JobError> = errors.iter().take(room).map(|e| JobError::from(&e.clipped())).collect();
            if !stored.is_empty() {
                tx.insert_job_errors(job.id, seq, &stored).await?;
            }
        }
        job.status = "running".into();
        job.done = to as i64;
        job.created += c.created;
        job.updated += c.updated;
        job.unchanged += c.unchanged;
        job.failed += failed_rows(errors) as i64;
        job.updated_at = now;
        tx.save_job(job).await?;
        Ok(())
    }

    /// Writes a batch the database refused as a whole again, a row per
    /// transaction: good rows land, the one at fault is reported.
    #[allow(clippy::too_many_arguments)]
    async fn rows_one_by_one(&self, id: Uuid, actor: Uuid, p: &Prepared, (start, rows): (usize, &[Streamed]), caches: &mut Caches, events: bool, progress: &(dyn Fn(&JobView) + Sync)) -> Result<()> {
        for (k, row) in rows.iter().enumerate() {
            let i = start + k;
            let (planned, mut errors) = self.plan(p, std::slice::from_ref(row), caches).await?;
            let number = row.number();
            let now = self.clock.now();
            let mut tx = self.store.begin().await?;
            let Some(mut locked) = tx.lock_job(id).await? else { return Err(EngineError::NotFound(format!("there is no job {id}"))) };
            if locked.done as usize != i || matches!(locked.status.as_str(), "done" | "failed") {
                return Ok(());
            }
            let c = match self.write_batch(&mut tx, actor, p, planned, now, events).await {
                Ok(c) => c,
                Err(e) if row_fault(&e) => {
                    drop(tx);
                    tx = self.store.begin().await?;
                    locked = tx.lock_job(id).await?.ok_or_else(|| EngineError::NotFound(format!("there is no job {id}")))?;
                    if locked.done as usize != i || matches!(locked.status.as_str(), "done" | "failed") {
                        return Ok(());
                    }
                    errors.extend(p.errors_of(number, &e));
                    Counts::default()
                }
                Err(e) => return Err(e),
            };
            self.advance(&mut tx, &mut locked, i + 1, c, &errors, now).await?;
            tx.commit().await?;
            progress(&locked.into());
        }
        Ok(())
    }

    pub(crate) async fn finish_job(&self, id: Uuid) -> Result<JobView> {
        self.end_job(id, None).await
    }

    pub(crate) async fn fail_job(&self, id: Uuid, error: String) -> Result<JobView> {
        self.end_job(id, Some(error)).await
    }

    /// Ends a job — `done`, or `failed` with the reason — and lets its file go;
    /// a job another worker ended already stays as it ended.
    async fn end_job(&self, id: Uuid, error: Option<String>) -> Result<JobView> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let mut job = tx.lock_job(id).await?.ok_or_else(|| EngineError::NotFound(format!("there is no job {id}")))?;
        if matches!(job.status.as_str(), "done" | "failed") {
            return Ok(job.into());
        }
        job.status = if error.is_some() { "failed" } else { "done" }.into();
        job.error = error;
        job.updated_at = now;
        job.finished_at = Some(now);
        tx.save_job(&job).await?;
        tx.drop_job_source(id).await?;
        tx.commit().await?;
        if job.created + job.updated > 0 {
            self.refresh_statistics();
        }
        Ok(job.into())
    }

    /// Plans rows: typed, checked, looked up; no writes.
    async fn plan(&self, p: &Prepared, batch: &[Streamed], caches: &mut Caches) -> Result<(Vec<Planned>, Vec<RowError>)> {
        let form = &p.form;
        let mut errors = Vec::new();
        let mut rows: Vec<(usize, Map<String, Value>)> = Vec::with_capacity(batch.len());
        for s in batch {
            let row = match &s.entry {
                Entry::Row(row) => row,
                Entry::Refused(r) => {
                    let m = r.column.and_then(|c| p.mapping.get(c));
                    errors.push(RowError { row: r.number as i64, column: m.map(|m| m.column.clone()), field: m.and_then(|m| m.field.clone()), message: r.message.clone() });
                    continue;
                }
            };
            if let Some((field, why)) = &s.repeat {
                errors.push(p.row_error(row.number, Some(field.clone()), why.clone()));
                continue;
            }
            match import::row_data(form, &p.mapping, &row.cells, &p.tz) {
                Ok(data) => rows.push((row.number, data)),
                Err(cells) => errors.extend(cells.into_iter().map(|c| RowError { row: row.number as i64, column: Some(c.column), field: Some(c.field), message: if p.zh { c.zh } else { c.message } })),
            }
        }
        self.resolve_link_cells(p, &mut rows, caches, &mut errors).await?;

        // Existing records by the upsert key; without one, a taken unique key is the row's error.
        let mut existing: HashMap<String, Record> = HashMap::new();
        // Lookups take no NUL (a filter refuses it); such a key matches nothing, and the write refuses it.
        let lookable = |v: &Value| !v.as_str().is_some_and(|s| s.contains('\0'));
        if let Some(key) = &p.upsert_on {
            existing = self.find_by(form, key, rows.iter().filter_map(|(_, d)| d.get(key).cloned()).filter(lookable).collect()).await?;
        } else {
            for key in form.def.unique.iter().filter(|u| u.len() == 1).map(|u| &u[0]) {
                if !p.fields_mapped().any(|f| f == key) {
                    continue;
                }
                let taken = self.find_by(form, key, rows.iter().filter_map(|(_, d)| d.get(key).cloned()).filter(lookable).collect()).await?;
                rows.retain(|(number, d)| match d.get(key).map(cell_text).filter(|t| taken.contains_key(t)) {
                    Some(t) => {
                        let title = import::header_of(form, key);
                        let message = if p.zh {
                            format!("已有{}的「{title}」是「{t}」；要更新它，请选「按「{title}」更新已有记录」再导入", form.def.title)
                        } else {
                            format!("another {} record already has the {title} '{t}'; import with upsert on '{key}' to update it", form.key())
                        };
                        errors.push(p.row_error(*number, Some(key.clone()), message));
                        false
                    }
                    None => true,
                });
            }
        }

        let mut planned = Vec::with_capacity(rows.len());
        for (number, mut data) in rows {
            let prev = p.upsert_on.as_ref().and_then(|k| data.get(k)).and_then(|v| existing.get(&cell_text(v)));
            if let Some(prev) = prev
                && !p.grant.allows(trellis_core::permission::Action::Write, prev)
            {
                let key = p.upsert_on.clone().unwrap_or_default();
                let message = if p.zh {
                    format!("这条{}的「{}」对应的记录，你的角色不能修改", form.def.title, import::header_of(form, &key))
                } else {
                    format!("the {} record with this {} is not one role {} may change", form.key(), import::header_of(form, &key), p.grant.access.role)
                };
                errors.push(p.row_error(number, Some(key.clone()), message));
                continue;
            }
            let mut issues = match prev {
                None => validate::validate_new(form, &Value::Object(data.clone())),
                Some(prev) => validate::validate(form, &Value::Object(merge_patch(&derive::input_of(form, &prev.data), &Value::Object(data.clone())))),
            };
            if issues.is_empty() {
                self.resolve_users(form, &mut data, None, &mut caches.users, "", &mut issues).await?;
            }
            if !issues.is_empty() {
                errors.extend(issues.iter().map(|i| p.issue_error(number, i)));
                continue;
            }
            let action = match prev {
                None => Action::Create(data),
                Some(prev) => {
                    let input = derive::input_of(form, &prev.data);
                    let would_change = !diff::changes(&input, &merge_patch(&input, &Value::Object(data.clone()))).is_empty();
                    Action::Update { id: prev.id, patch: data, would_change }
                }
            };
            planned.push(Planned { action });
        }
        // Found in several passes; reported in file order.
        errors.sort_by_key(|e| e.row);
        Ok((planned, errors))
    }

    /// Link cells given as the linked record's key (`13800000000`) or title
    /// become its id; an id is kept as it is and checked when written.
    async fn resolve_link_cells(&self, p: &Prepared, rows: &mut Vec<(usize, Map<String, Value>)>, caches: &mut Caches, errors: &mut Vec<RowError>) -> Result<()> {
        for field in p.form.fields.iter().filter(|f| f.link.is_some() && p.fields_mapped().any(|m| m == f.key)) {
            let target = field.link.clone().unwrap_or_default();
            let wanted: HashSet<String> = rows
                .iter()
                .filter_map(|(_, d)| d.get(&field.key).and_then(Value::as_str))
                .filter(|s| Uuid::parse_str(s).is_err() && !caches.links.contains_key(&(target.clone(), (*s).to_owned())))
                .map(str::to_owned)
                .collect();
            if !wanted.is_empty() {
                let linked = self.form(&target).await?;
                let by = linked.def.unique.iter().find(|u| u.len() == 1).map(|u| u[0].clone()).or_else(|| linked.def.title_field.clone());
                let found = match &by {
                    Some(by) => {
                        // Typed as the key field is (a number key looked up as a number); a cell that cannot be one finds nothing.
                        let schema = linked.def.schema.get("properties").and_then(|ps| ps.get(by)).cloned().unwrap_or(Value::Null);
                        let values: Vec<Value> = wanted.iter().filter_map(|s| import::coerce(&schema, s, &p.tz).ok()).filter(|v| !v.is_string() || v.as_str().is_some_and(|s| !s.contains('\0'))).collect();
                        self.find_all_by(&linked, by, values).await?
                    }
                    None => HashMap::new(),
                };
                for w in wanted {
                    let hit = match found.get(&w).map(Vec::as_slice) {
                        Some([one]) => Link::One(one.id),
                        Some(many) if many.len() > 1 => Link::Many(many.len()),
                        _ => Link::None,
                    };
                    caches.links.insert((target.clone(), w), hit);
                }
            }
            rows.retain_mut(|(number, d)| {
                let Some(cell) = d.get(&field.key).and_then(Value::as_str).map(str::to_owned) else { return true };
                if Uuid::parse_str(&cell).is_ok() {
                    return true;
                }
                match caches.links.get(&(target.clone(), cell.clone())).copied().unwrap_or(Link::None) {
                    Link::One(id) => {
                        d.insert(field.key.clone(), json!(id.to_string()));
                        true
                    }
                    Link::Many(n) => {
                        errors.push(p.row_error(*number, Some(field.key.clone()), format!("{n} {target} records are called '{cell}'; give the record's id or its unique key")));
                        false
                    }
                    Link::None => {
                        errors.push(p.row_error(*number, Some(field.key.clone()), format!("no {target} record has the key '{cell}'")));
                        false
                    }
                }
            });
        }
        Ok(())
    }

    /// Live records of `form` whose `field` is one of `values`, by the value's text.
    async fn find_by(&self, form: &CompiledForm, field: &str, values: Vec<Value>) -> Result<HashMap<String, Record>> {
        Ok(self.find_all_by(form, field, values).await?.into_iter().filter_map(|(k, mut v)| v.pop().map(|r| (k, r))).collect())
    }

    /// Every live record of `form` whose `field` is one of `values`, by the value's text
    /// (several where the field is not unique: a title two records share).
    async fn find_all_by(&self, form: &CompiledForm, field: &str, values: Vec<Value>) -> Result<HashMap<String, Vec<Record>>> {
        let mut out: HashMap<String, Vec<Record>> = HashMap::new();
        let unique = trellis_store::index::specs(&form.def).into_iter().find(|s| s.unique && s.fields.len() == 1 && s.fields[0] == field).map(|s| s.name);
        for chunk in values.chunks(query::MAX_LIMIT as usize) {
            let filter = query::parse_filter(form, &json!({field: {"_in": chunk}}))?;
            for r in self.store.matching(form.key(), &filter, unique.as_deref()).await? {
                if let Some(v) = r.data.get(field) {
                    out.entry(cell_text(v)).or_default().push(r);
                }
            }
        }
        Ok(out)
    }

    /// Writes planned rows in `tx`: new records in one go, updates one by one,
    /// then lets workflows and triggers react.
    async fn write_batch(&self, tx: &mut Tx, actor: Uuid, p: &Prepared, planned: Vec<Planned>, now: jiff::Timestamp, events: bool) -> Result<Counts> {
        let mut c = Counts::default();
        let mut creates = Vec::new();
        let mut prefixes = Vec::new();
        let mut written: Vec<Written> = Vec::new();
        for pl in planned {
            match pl.action {
                Action::Create(data) => {
                    prefixes.push(String::new());
                    creates.push(data);
                }
                // Planned from the record as it was read a moment ago: an
                // edit since then is as if made just after the import.
                Action::Update { would_change: false, .. } => c.unchanged += 1,
                Action::Update { id, patch, .. } => {
                    let prev = tx.record_for_update(p.form.key(), id).await?.filter(|r| r.deleted_at.is_none()).ok_or_else(|| EngineError::Gone(format!("record {id} was deleted during the import")))?;
                    match self.patch_in(tx, actor, &p.form, &prev, &Value::Object(patch), now).await? {
                        Some((_, w)) => {
                            c.updated += 1;
                            written.extend(w);
                        }
                        None => c.unchanged += 1,
                    }
                }
            }
        }
        if !creates.is_empty() {
            c.created = creates.len() as i64;
            self.insert_new(tx, (actor, None), &p.form, prefixes, creates, now, None, events).await?;
        }
        if !written.is_empty() {
            self.after_writes(tx, actor, now, written, events).await?;
        }
        Ok(c)
    }
}

/// Marks a job as run by this process while it lives.
struct RunningJob<'a> {
    set: &'a std::sync::Mutex<HashSet<Uuid>>,
    id: Uuid,
}

impl<'a> RunningJob<'a> {
    /// `None` when this process already runs the job (the tick took it over while it was slow, or the same upload came twice).
    fn enter(set: &'a std::sync::Mutex<HashSet<Uuid>>, id: Uuid) -> Option<RunningJob<'a>> {
        set.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id).then_some(RunningJob { set, id })
    }
}

impl Drop for RunningJob<'_> {
    fn drop(&mut self) {
        self.set.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.id);
    }
}

/// What a dry run predicts for planned rows.
fn predicted(planned: &[Planned]) -> Counts {
    let mut c = Counts::default();
    for pl in planned {
        match pl.action {
            Action::Create(_) => c.created += 1,
            Action::Update { would_change: true, .. } => c.updated += 1,
            Action::Update { would_change: false, .. } => c.unchanged += 1,
        }
    }
    c
}

/// Rows with at least one error.
fn failed_rows(errors: &[RowError]) -> usize {
    errors.iter().map(|e| e.row).collect::<HashSet<_>>().len()
}

/// The refused rows as a CSV report (with a BOM, for Excel): row, column, field, reason.
pub fn errors_csv(errors: &[RowError]) -> Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new().from_writer(vec![0xEF, 0xBB, 0xBF]);
    let internal = |e: csv::Error| EngineError::Internal(e.to_string());
    w.write_record(["行号 row", "列 column", "字段 field", "原因 reason"]).map_err(internal)?;
    for e in errors {
        w.write_record([e.row.to_string(), e.column.clone().unwrap_or_default(), e.field.clone().unwrap_or_default(), e.message.clone()]).map_err(internal)?;
    }
    w.into_inner().map_err(|e| EngineError::Internal(e.to_string()))
}
