//! `trellis-bench`: measures the engine; never asserts on timings.
//!
//! - `write`: the engine's single-record write path (`create_records` with one
//!   record: validate, one transaction with the record and its history row)
//!   against raw sqlx inserts of the same JSON into the same `records` table,
//!   on a separate pool to the same database.
//! - `list`: bulk-loads a form through the engine's batch path (reusing what
//!   is already there), then measures filtered, sorted, keyset-paged lists on
//!   an indexed field, and a few queries on a non-indexed field for contrast.
//!
//! - `rules`: the rules engine — rule cost per write, runaway scripts, the sweep.
//! - `workflows`: cost per write and per transition, and the timer tick.
//! - `triggers`: the reminder tick over 100,000 and 1,000,000 customers with birthdays.
//! - `packs`: checking and installing the CRM pack, its sample data, an upgrade's record migration.
//! - `forms`: single and batched creates into one form beside 0, 1, 10 and 100 other forms.
//! - `imports`: a 100,000-row CSV through the write path, again with upsert, and exported to CSV and XLSX.
//!
//! See `docs/benchmarks.md` for the method and the numbers.

mod forms;
mod imports;
mod packs;
mod rules;
mod triggers;
mod workflows;

use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::types::Json;
use trellis_core::query::ListParams;
use trellis_engine::{Actor, Clock, Engine, EngineError};
use uuid::Uuid;

const FORM: &str = "bench_customer";
const BENCH_USER: &str = "bench@localhost";
const BENCH_PASSWORD: &str = "bench-password-1";
const LEVELS: [&str; 4] = ["A", "B", "C", "D"];
/// Spend is spread uniformly over [0, SPEND_CENTS_MAX / 100).
const SPEND_CENTS_MAX: u64 = 10_000_000;

#[derive(Debug, Parser)]
#[command(name = "trellis-bench", about = "Trellis benchmarks (they measure; they do not pass or fail)")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Engine single-record writes vs raw sqlx inserts into the same table.
    Write {
        /// sqlite://FILE or postgres://…
        #[arg(long)]
        db: String,
        /// Timed writes per variant (default 20000 on SQLite, 5000 on PostgreSQL).
        #[arg(long)]
        n: Option<usize>,
        /// Untimed writes per variant before timing.
        #[arg(long)]
        warmup: Option<usize>,
        /// The timed writes are split into this many rounds, the variants taking turns.
        #[arg(long, default_value_t = 4)]
        rounds: usize,
    },
    /// Bulk load through the engine's batch path, then list latency.
    List {
        /// sqlite://FILE or postgres://…
        #[arg(long)]
        db: String,
        /// Records the form should hold; loading is skipped when it already does.
        #[arg(long, default_value_t = 1_000_000)]
        records: usize,
        /// Records per `create_records` batch while loading.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// First-page queries (each followed by its page 2 through the cursor).
        #[arg(long, default_value_t = 300)]
        queries: usize,
        /// Other forms (three indexed fields each, no records) the database holds beside the bench form.
        #[arg(long, default_value_t = 0)]
        other_forms: usize,
    },
    /// Single and batched creates into one form in databases with 0, 1, 10 and 100 other forms (fresh databases beside DB).
    Forms {
        /// sqlite://FILE (the databases are FILE-0.db, FILE-1.db, …) or postgres://… (schemas forms_bench_N)
        #[arg(long)]
        db: String,
        /// Timed single-record creates per database.
        #[arg(long, default_value_t = 4000)]
        singles: usize,
        /// Timed batches of 500 per database.
        #[arg(long, default_value_t = 40)]
        batches: usize,
        /// The databases take turns this many times.
        #[arg(long, default_value_t = 4)]
        rounds: usize,
    },
    /// Workflows: cost per write and per transition, and the timer tick.
    Workflows {
        /// sqlite://FILE or postgres://…
        #[arg(long)]
        db: String,
        /// Leads with a pending timer for the tick measurement.
        #[arg(long, default_value_t = 100_000)]
        leads: usize,
        /// Single-record writes per variant.
        #[arg(long, default_value_t = 2_000)]
        writes: usize,
    },
    /// Triggers: the reminder tick with about 3,000 birthdays due, at 100,000 and at RECORDS customers (needs an empty database).
    Triggers {
        /// sqlite://FILE or postgres://…
        #[arg(long)]
        db: String,
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
    },
    /// Packs: check and install the CRM pack, load its sample data, migrate RECORDS records in an upgrade (needs an empty database).
    Packs {
        /// sqlite://FILE or postgres://…
        #[arg(long)]
        db: String,
        #[arg(long, default_value_t = 100_000)]
        records: usize,
    },
    /// Imports: ROWS contacts from a CSV (dry run, import, again with upsert), exported to CSV and XLSX; CRM_ROWS into the CRM pack's customers (needs an empty database).
    Imports {
        /// sqlite://FILE or postgres://…
        #[arg(long)]
        db: String,
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
        /// Customers imported into the CRM pack's customer form (0: skip).
        #[arg(long, default_value_t = 20_000)]
        crm_rows: usize,
    },
    /// Rules: cost per write (S8 health score), runaway scripts, the sweep.
    Rules {
        /// sqlite://FILE or postgres://…
        #[arg(long)]
        db: String,
        /// Customers the sweep runs over; loading is skipped when the form already holds them.
        #[arg(long, default_value_t = 1_000_000)]
        records: usize,
        /// Timed single writes per variant.
        #[arg(long, default_value_t = 3000)]
        writes: usize,
    },
}

/// splitmix64: a fixed, well-mixed function of the record number, so a load
/// that resumes produces the same data as one that did not stop.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A 64-bit LCG (Knuth's MMIX constants) for query parameters.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

/// Record number `i` of the bench form.
fn record(i: u64) -> Value {
    let r = mix(i);
    let cents = r % SPEND_CENTS_MAX;
    json!({
        "name": format!("Customer {i}"),
        "phone": format!("138{:08}", (r >> 24) % 100_000_000),
        "level": LEVELS[((r >> 56) % 4) as usize],
        "spend": cents as f64 / 100.0,
    })
}

fn form_definition() -> Value {
    json!({
        "key": FORM,
        "title": "Bench customer",
        "schema": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "phone": {"type": "string", "format": "phone"},
                "level": {"type": "string"},
                "spend": {"type": "number", "format": "money"}
            },
            "required": ["name"]
        },
        "indexes": ["spend"]
    })
}

/// The bench admin (created once) signed in, and the bench form (created once).
async fn setup(engine: &Engine) -> Result<Actor> {
    match engine.add_user(BENCH_USER, None, "admin", BENCH_PASSWORD).await {
        Ok(_) | Err(EngineError::Conflict { .. }) => {}
        Err(e) => return Err(e).context("adding the bench user"),
    }
    let (_token, actor) = engine.login(BENCH_USER, BENCH_PASSWORD).await.context("signing in")?;
    match engine.form(FORM).await {
        Ok(_) => {}
        Err(EngineError::NotFound(_)) => {
            engine.create_form(&actor, form_definition()).await.context("creating the bench form")?;
        }
        Err(e) => return Err(e).context("reading the bench form"),
    }
    Ok(actor)
}

/// A pool of our own to the engine's database, for the raw baseline and counting.
enum Raw {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

impl Raw {
    async fn connect(url: &str) -> Result<Raw> {
        if url.starts_with("sqlite:") {
            // The same settings as the store's writer: WAL, synchronous=NORMAL, one connection.
            let options = SqliteConnectOptions::from_str(url)?
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .pragma("temp_store", "memory");
            Ok(Raw::Sqlite(SqlitePoolOptions::new().max_connections(1).min_connections(1).connect_with(options).await?))
        } else {
            let options = PgConnectOptions::from_str(url)?;
            Ok(Raw::Pg(PgPoolOptions::new().max_connections(1).min_connections(1).connect_with(options).await?))
        }
    }

    fn backend(&self) -> &'static str {
        match self {
            Raw::Sqlite(_) => "sqlite",
            Raw::Pg(_) => "postgres",
        }
    }

    /// One transaction inserting one record as the engine stores it (its id
    /// in the `records` registry, its row in the form's table) and, with
    /// `history`, one row into `record_history`.
    async fn insert(&self, form_version: i64, actor: Uuid, data: &Value, history: bool) -> Result<()> {
        let id = Uuid::now_v7();
        match self {
            Raw::Sqlite(pool) => {
                let now = trellis_store::sqlite::fmt_ts(jiff::Timestamp::now());
                let mut tx = pool.begin().await?;
                sqlx::query("INSERT INTO records (id, form) VALUES (?, ?)").bind(id).bind(FORM).execute(&mut *tx).await?;
                sqlx::query(
                    "INSERT INTO records__bench_customer (id, form_version, rev, data, segments, owner, created_by, updated_by, created_at, updated_at)
                     VALUES (?, ?, 1, ?, '{}', ?, ?, ?, ?, ?)",
                )
                .bind(id)
                .bind(form_version)
                .bind(data.to_string())
                .bind(actor)
                .bind(actor)
                .bind(actor)
                .bind(&now)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
                if history {
                    sqlx::query("INSERT INTO record_history (record_id, rev, op, actor, at, changes) VALUES (?, 1, 'create', ?, ?, '{}')")
                        .bind(id)
                        .bind(actor)
                        .bind(&now)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            }
            Raw::Pg(pool) => {
                let now = time::OffsetDateTime::now_utc();
                let mut tx = pool.begin().await?;
                sqlx::query("INSERT INTO records (id, form) VALUES ($1, $2)").bind(id).bind(FORM).execute(&mut *tx).await?;
                sqlx::query(
                    "INSERT INTO records__bench_customer (id, form_version, rev, data, segments, owner, created_by, updated_by, created_at, updated_at)
                     VALUES ($1, $2, 1, $3, '{}', $4, $5, $6, $7, $8)",
                )
                .bind(id)
                .bind(form_version)
                .bind(Json(data))
                .bind(actor)
                .bind(actor)
                .bind(actor)
                .bind(now)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if history {
                    sqlx::query("INSERT INTO record_history (record_id, rev, op, actor, at, changes) VALUES ($1, 1, 'create', $2, $3, '{}')")
                        .bind(id)
                        .bind(actor)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Records of the bench form, live or not.
    async fn count(&self) -> Result<i64> {
        Ok(match self {
            Raw::Sqlite(pool) => sqlx::query_scalar("SELECT count(*) FROM records__bench_customer").fetch_one(pool).await?,
            Raw::Pg(pool) => sqlx::query_scalar("SELECT count(*) FROM records__bench_customer").fetch_one(pool).await?,
        })
    }

    async fn close(&self) {
        match self {
            Raw::Sqlite(p) => p.close().await,
            Raw::Pg(p) => p.close().await,
        }
    }
}

/// Nearest-rank percentile of sorted durations.
fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Engine,
    Raw,
    RawWithHistory,
}

impl Variant {
    const ALL: [Variant; 3] = [Variant::Engine, Variant::Raw, Variant::RawWithHistory];

    fn label(self) -> &'static str {
        match self {
            Variant::Engine => "engine create_records (1 record)",
            Variant::Raw => "raw sqlx insert (records row)",
            Variant::RawWithHistory => "raw sqlx insert + history row",
        }
    }
}

#[derive(Default)]
struct Timings {
    total: Duration,
    each: Vec<Duration>,
}

async fn run_writes(engine: &Engine, actor: &Actor, raw: &Raw, form_version: i64, v: Variant, items: Vec<Value>, t: &mut Timings) -> Result<()> {
    let started = Instant::now();
    for item in items {
        let one = Instant::now();
        match v {
            Variant::Engine => {
                engine.create_records(actor, FORM, vec![item], false).await?;
            }
            Variant::Raw => raw.insert(form_version, actor.id, &item, false).await?,
            Variant::RawWithHistory => raw.insert(form_version, actor.id, &item, true).await?,
        }
        t.each.push(one.elapsed());
    }
    t.total += started.elapsed();
    Ok(())
}

async fn write_bench(url: &str, n: Option<usize>, warmup: Option<usize>, rounds: usize) -> Result<()> {
    let engine = Engine::open(url, Clock::System).await.with_context(|| format!("opening {url}"))?;
    let actor = setup(&engine).await?;
    let form_version = engine.form(FORM).await?.version;
    let raw = Raw::connect(url).await?;
    let n = n.unwrap_or(if matches!(raw, Raw::Sqlite(_)) { 20_000 } else { 5_000 });
    let warmup = warmup.unwrap_or((n / 10).clamp(100, 2_000));
    let rounds = rounds.max(1);
    let per_round = n.div_ceil(rounds);
    println!("write bench: {} ({url}), {n} timed writes per variant in {rounds} rounds, {warmup} warm-up writes per variant", raw.backend());

    let mut next = raw.count().await? as u64;
    let mut batch = |k: usize| -> Vec<Value> {
        let items = (next..next + k as u64).map(record).collect();
        next += k as u64;
        items
    };
    let mut scratch = Timings::default();
    for v in Variant::ALL {
        run_writes(&engine, &actor, &raw, form_version, v, batch(warmup), &mut scratch).await?;
    }
    let mut timings: Vec<Timings> = Variant::ALL.iter().map(|_| Timings::default()).collect();
    let mut left = n;
    for round in 0..rounds {
        let k = per_round.min(left);
        left -= k;
        // Rotate the order each round so neither side always runs on the bigger table.
        for j in 0..Variant::ALL.len() {
            let idx = (round + j) % Variant::ALL.len();
            run_writes(&engine, &actor, &raw, form_version, Variant::ALL[idx], batch(k), &mut timings[idx]).await?;
        }
    }

    println!();
    println!("{:<34} {:>11} {:>9} {:>8} {:>8} {:>8}", "variant", "records/s", "mean µs", "p50 µs", "p95 µs", "p99 µs");
    let mut mean = Vec::new();
    for (v, t) in Variant::ALL.iter().zip(timings.iter_mut()) {
        t.each.sort();
        let count = t.each.len() as f64;
        let m = us(t.total) / count;
        mean.push(m);
        println!(
            "{:<34} {:>11.0} {:>9.1} {:>8.1} {:>8.1} {:>8.1}",
            v.label(),
            count / t.total.as_secs_f64(),
            m,
            us(pct(&t.each, 50.0)),
            us(pct(&t.each, 95.0)),
            us(pct(&t.each, 99.0))
        );
    }
    println!();
    println!("ratio engine / raw insert:              {:.2}×  (target ≤ 1.5×)", mean[0] / mean[1]);
    println!("ratio engine / raw insert + history:    {:.2}×", mean[0] / mean[2]);
    println!("records of the form now: {}", raw.count().await?);
    raw.close().await;
    engine.close().await;
    Ok(())
}

struct Sample {
    label: String,
    lat: Vec<Duration>,
}

impl Sample {
    fn new(label: impl Into<String>) -> Sample {
        Sample { label: label.into(), lat: Vec::new() }
    }

    fn print(&mut self) {
        self.lat.sort();
        println!(
            "{:<44} {:>5} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            self.label,
            self.lat.len(),
            ms(pct(&self.lat, 50.0)),
            ms(pct(&self.lat, 95.0)),
            ms(pct(&self.lat, 99.0)),
            ms(self.lat.last().copied().unwrap_or_default())
        );
    }
}

fn sqlite_file(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    Some(rest.split('?').next().unwrap_or(rest).to_owned())
}

async fn list_bench(url: &str, records: usize, batch: usize, queries: usize, other_forms: usize) -> Result<()> {
    let engine = Engine::open(url, Clock::System).await.with_context(|| format!("opening {url}"))?;
    let actor = setup(&engine).await?;
    forms::ensure_others(&engine, &actor, other_forms).await?;
    let raw = Raw::connect(url).await?;
    println!("list bench: {} ({url}), {records} records wanted, {other_forms} other forms of three indexes", raw.backend());

    let have = raw.count().await? as usize;
    if have >= records {
        println!("the form already holds {have} records: loading skipped");
    } else {
        println!("loading {} records through create_records(batch = true) in batches of {batch} (form holds {have})", records - have);
        let batch = batch.max(1);
        let started = Instant::now();
        let mut lat = Sample::new(format!("create_records batch of {batch}"));
        let mut i = have;
        let mut last_report = Instant::now();
        while i < records {
            let k = batch.min(records - i);
            let items: Vec<Value> = (i as u64..(i + k) as u64).map(record).collect();
            let t = Instant::now();
            engine.create_records(&actor, FORM, items, true).await?;
            lat.lat.push(t.elapsed());
            i += k;
            if last_report.elapsed() >= Duration::from_secs(10) {
                last_report = Instant::now();
                let done = i - have;
                println!("  {i} records, {:.0} records/s so far, {:.0} s", done as f64 / started.elapsed().as_secs_f64(), started.elapsed().as_secs_f64());
            }
        }
        let took = started.elapsed();
        println!(
            "loaded {} records in {:.1} s: {:.0} records/s through the engine's batch path",
            records - have,
            took.as_secs_f64(),
            (records - have) as f64 / took.as_secs_f64()
        );
        println!("{:<44} {:>5} {:>9} {:>9} {:>9} {:>9}", "batch latency", "n", "p50 ms", "p95 ms", "p99 ms", "max ms");
        lat.print();
    }
    let total = raw.count().await?;
    println!("records in the form: {total}");
    if let Some(file) = sqlite_file(url) {
        let size: u64 = ["", "-wal"].iter().filter_map(|s| std::fs::metadata(format!("{file}{s}")).ok()).map(|m| m.len()).sum();
        println!("database file (+ WAL): {:.0} MiB", size as f64 / (1 << 20) as f64);
    }

    let mut rng = Lcg(0x5EED);
    let max_x = SPEND_CENTS_MAX / 100 * 99 / 100; // leave ≥ 1% of records above every threshold
    let list = |filter: String, sort: &'static str, cursor: Option<String>| {
        let engine = &engine;
        async move {
            let params = ListParams { filter: Some(&filter), sort: Some(sort), cursor: cursor.as_deref(), limit: Some(50), ..Default::default() };
            let t = Instant::now();
            let page = engine.list_records(&trellis_engine::Actor::system(), FORM, &params).await?;
            Ok::<_, anyhow::Error>((t.elapsed(), page))
        }
    };
    // Warm up: plans, statement caches, the form cache.
    for q in 0..20 {
        let x = rng.next() % max_x;
        list(format!(r#"{{"spend":{{"_gte":{x}}}}}"#), if q % 2 == 0 { "-spend" } else { "spend" }, None).await?;
    }

    let mut first_desc = Sample::new("page 1, spend >= X, sort -spend");
    let mut first_asc = Sample::new("page 1, spend >= X, sort spend");
    let mut second_desc = Sample::new("page 2 (cursor), spend >= X, sort -spend");
    let mut second_asc = Sample::new("page 2 (cursor), spend >= X, sort spend");
    let mut wrong = 0usize;
    let mut no_cursor = 0usize;
    for q in 0..queries {
        let desc = q % 2 == 0;
        let sort = if desc { "-spend" } else { "spend" };
        let x = rng.next() % max_x;
        let filter = format!(r#"{{"spend":{{"_gte":{x}}}}}"#);
        let (took, page) = list(filter.clone(), sort, None).await?;
        (if desc { &mut first_desc } else { &mut first_asc }).lat.push(took);
        // A sanity check that the query answers what we think it does (not a timing check).
        let spends: Vec<f64> = page.items.iter().filter_map(|r| r.data.get("spend").and_then(Value::as_f64)).collect();
        let ordered = spends.windows(2).all(|w| if desc { w[0] >= w[1] } else { w[0] <= w[1] });
        if page.items.len() != 50 || !ordered || spends.iter().any(|s| *s < x as f64) {
            wrong += 1;
        }
        match page.next_cursor {
            Some(c) => {
                let (took, _) = list(filter, sort, Some(c)).await?;
                (if desc { &mut second_desc } else { &mut second_asc }).lat.push(took);
            }
            None => no_cursor += 1,
        }
    }
    println!();
    println!("{:<44} {:>5} {:>9} {:>9} {:>9} {:>9}", "list query (limit 50)", "n", "p50 ms", "p95 ms", "p99 ms", "max ms");
    let mut all_first = Sample::new("page 1, both sorts");
    all_first.lat.extend(first_desc.lat.iter().chain(&first_asc.lat));
    let mut all_second = Sample::new("page 2 (cursor), both sorts");
    all_second.lat.extend(second_desc.lat.iter().chain(&second_asc.lat));
    for s in [&mut first_desc, &mut first_asc, &mut all_first, &mut second_desc, &mut second_asc, &mut all_second] {
        s.print();
    }
    if wrong > 0 || no_cursor > 0 {
        println!("warning: {wrong} first pages were not 50 ordered records ≥ X; {no_cursor} had no next cursor");
    }

    println!();
    println!("for contrast: the plain default list, and filters on a non-indexed field (level):");
    println!("{:<44} {:>5} {:>9} {:>9} {:>9} {:>9}", "list query (limit 50)", "n", "p50 ms", "p95 ms", "p99 ms", "max ms");
    let contrast: [(&str, String, &'static str, usize); 5] = [
        ("no filter, newest first (default sort)", String::new(), "", 20),
        ("level = B, newest first (default sort)", r#"{"level":{"_eq":"B"}}"#.into(), "", 20),
        ("level = B, sort -spend (spend index)", r#"{"level":{"_eq":"B"}}"#.into(), "-spend", 20),
        ("level = B, sort name (no index)", r#"{"level":{"_eq":"B"}}"#.into(), "name", 3),
        ("level = Z (no match: full scan)", r#"{"level":{"_eq":"Z"}}"#.into(), "", 3),
    ];
    for (label, filter, sort, runs) in contrast {
        let mut s = Sample::new(label);
        for _ in 0..runs {
            let (took, _) = list(filter.clone(), sort, None).await?;
            s.lat.push(took);
        }
        s.print();
    }
    raw.close().await;
    engine.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command {
        Cmd::Write { db, n, warmup, rounds } => write_bench(&db, n, warmup, rounds).await,
        Cmd::List { db, records, batch, queries, other_forms } => list_bench(&db, records, batch, queries, other_forms).await,
        Cmd::Forms { db, singles, batches, rounds } => forms::forms_bench(&db, singles, batches, rounds).await,
        Cmd::Rules { db, records, writes } => rules::rules_bench(&db, records, writes).await,
        Cmd::Workflows { db, leads, writes } => workflows::workflows_bench(&db, leads, writes).await,
        Cmd::Triggers { db, records } => triggers::triggers_bench(&db, records).await,
        Cmd::Packs { db, records } => packs::packs_bench(&db, records).await,
        Cmd::Imports { db, rows, crm_rows } => imports::imports_bench(&db, rows, crm_rows).await,
    }
}
