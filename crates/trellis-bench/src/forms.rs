//! `forms`: what the other forms in a database cost a write to one form.
//!
//! Four databases differ only in how many other forms they hold — 0, 1, 10
//! and 100, each with three indexed fields and no records (as the scale issue
//! measured with 40). The same form (the bench customer: a unique phone and two
//! indexes) is written to in each, the databases taking turns round by round
//! so that none always runs first or on the biggest table: single-record
//! creates, then batches of 500. The figure that matters is each database's
//! rate against the one without other forms.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{Value, json};
use trellis_engine::{Actor, Clock, Engine, EngineError};

use crate::{BENCH_PASSWORD, BENCH_USER, mix};

const FORM: &str = "fb_customer";
const OTHERS: [usize; 4] = [0, 1, 10, 100];
const BATCH: usize = 500;

fn customer() -> Value {
    json!({"key": FORM, "schema": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"}, "phone": {"type": "string"}, "level": {"type": "string"}, "spend": {"type": "number"}}},
        "unique": [["phone"]], "indexes": ["level", "spend"]})
}

/// Another form: three indexed fields, as an admin's form would have.
pub(crate) fn other_form(i: usize) -> Value {
    json!({"key": format!("other_{i}"), "schema": {"type": "object", "properties": {
        "name": {"type": "string"}, "status": {"type": "string"}, "amount": {"type": "number"}, "due": {"type": "string", "format": "date"}}},
        "indexes": ["status", "amount", "due"]})
}

/// Creates `other_0 … other_{n-1}` where they are missing.
pub(crate) async fn ensure_others(engine: &Engine, actor: &Actor, n: usize) -> Result<()> {
    for i in 0..n {
        match engine.create_form(actor, other_form(i)).await {
            Ok(_) | Err(EngineError::Conflict { .. }) => {}
            Err(e) => return Err(e).with_context(|| format!("creating other_{i}")),
        }
    }
    Ok(())
}

fn person(i: u64) -> Value {
    let r = mix(i);
    let level = ["A", "B", "C", "D"][(r % 4) as usize];
    json!({"name": format!("Customer {i}"), "phone": format!("1{i:010}"), "level": level, "spend": (r >> 8) % 1_000_000})
}

/// The database for `others` other forms: a file beside `db`'s, or a schema of its own.
async fn database(db: &str, others: usize) -> Result<String> {
    if let Some(file) = crate::sqlite_file(db) {
        let file = format!("{file}-{others}.db");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{file}{suffix}"));
        }
        return Ok(format!("sqlite://{file}"));
    }
    let schema = format!("forms_bench_{others}");
    let pool = sqlx::PgPool::connect(db).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))).execute(&pool).await?;
    pool.close().await;
    let sep = if db.contains('?') { '&' } else { '?' };
    Ok(format!("{db}{sep}options=-c%20search_path%3D{schema}"))
}

struct Subject {
    others: usize,
    engine: Engine,
    actor: Actor,
    single: Duration,
    singles: usize,
    batched: Duration,
    batches: usize,
}

pub async fn forms_bench(db: &str, singles: usize, batches: usize, rounds: usize) -> Result<()> {
    let mut subjects = Vec::new();
    for others in OTHERS {
        let url = database(db, others).await?;
        let engine = Engine::open(&url, Clock::System).await.with_context(|| format!("opening {url}"))?;
        engine.add_user(BENCH_USER, None, "admin", BENCH_PASSWORD).await?;
        let (_, actor) = engine.login(BENCH_USER, BENCH_PASSWORD).await?;
        engine.create_form(&actor, customer()).await?;
        ensure_others(&engine, &actor, others).await?;
        println!("{url}: {FORM} and {others} other forms of three indexes");
        subjects.push(Subject { others, engine, actor, single: Duration::ZERO, singles: 0, batched: Duration::ZERO, batches: 0 });
    }
    let rounds = rounds.max(1);
    let mut next = 0u64;
    // One warm-up round, untimed: statement caches, the form cache, the first pages of the file.
    for round in 0..=rounds {
        for j in 0..subjects.len() {
            let s = &mut subjects[(round + j) % OTHERS.len()];
            let t = Instant::now();
            for _ in 0..singles.div_ceil(rounds) {
                s.engine.create_records(&s.actor, FORM, vec![person(next)], false).await?;
                next += 1;
            }
            if round > 0 {
                s.single += t.elapsed();
                s.singles += singles.div_ceil(rounds);
            }
            let t = Instant::now();
            for _ in 0..batches.div_ceil(rounds) {
                let items: Vec<Value> = (next..next + BATCH as u64).map(person).collect();
                next += BATCH as u64;
                s.engine.create_records(&s.actor, FORM, items, true).await?;
            }
            if round > 0 {
                s.batched += t.elapsed();
                s.batches += batches.div_ceil(rounds);
            }
        }
    }
    println!();
    println!("{:<14} {:>16} {:>10} {:>22} {:>10}", "other forms", "single creates/s", "vs none", "batched records/s", "vs none");
    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
    let base_single = rate(subjects[0].singles, subjects[0].single);
    let base_batch = rate(subjects[0].batches * BATCH, subjects[0].batched);
    for s in &subjects {
        let single = rate(s.singles, s.single);
        let batch = rate(s.batches * BATCH, s.batched);
        println!("{:<14} {:>16.0} {:>9.2}× {:>22.0} {:>9.2}×", s.others, single, single / base_single, batch, batch / base_batch);
    }
    for s in subjects {
        s.engine.close().await;
    }
    Ok(())
}
