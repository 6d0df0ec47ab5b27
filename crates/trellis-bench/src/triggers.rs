//! `triggers`: the scheduler's tick over many records with birthdays.
//!
//! Customers with birthdays spread over the year are loaded through the
//! engine's batch write path with a birthday trigger in force, so every
//! record gets its next moment the way production does. The clock starts on
//! 31 May 2026; about 3,000 of the first 100,000 are born on 1 June and
//! 3,000 of the next 900,000 on 2 June; no other customer is born from
//! 31 May to 2 June, so nothing else falls due in between. At 100,000
//! records, then again at 1,000,000, the bench times:
//!
//! 1. a tick with nothing due (50 ticks, the median);
//! 2. the tick at 09:00 on the day, when about 3,000 birthdays are due: each
//!    moment locked, its occurrence recorded, a notification put in the
//!    owner's in-app inbox and next year's moment stored, one transaction each.
//!
//! It needs an empty database: the moments it times are handled once.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use trellis_engine::{Clock, Engine, EngineError};

use crate::{BENCH_PASSWORD, BENCH_USER, mix, ms, pct, us};

const FORM: &str = "bd_customer";
/// Records at the first measurement; the second is at the number asked for.
const FIRST: u64 = 100_000;
/// Every 33rd of the first 100,000 is born on the first day (3,031).
const FIRST_EVERY: u64 = 33;
/// Every 300th of the rest is born on the second day (3,000 of 900,000).
const SECOND_EVERY: u64 = 300;
const FIRST_DAY: (i8, i8) = (6, 1);
const SECOND_DAY: (i8, i8) = (6, 2);
/// No one else is born on these days (the clock starts on the first).
const QUIET_DAYS: [(i8, i8); 3] = [(5, 31), FIRST_DAY, SECOND_DAY];

fn birthday(i: u64) -> String {
    let year = 1960 + (mix(i) % 45) as i16;
    let (month, day) = if i < FIRST && i.is_multiple_of(FIRST_EVERY) {
        FIRST_DAY
    } else if i >= FIRST && (i - FIRST).is_multiple_of(SECOND_EVERY) {
        SECOND_DAY
    } else {
        // Any other day of the year: 1 January plus 0–361 days, stepping over the quiet days.
        let mut d = jiff::civil::date(2001, 1, 1).checked_add(jiff::Span::new().days((mix(i ^ 0xb1d) % 362) as i64)).unwrap_or(jiff::civil::date(2001, 1, 1));
        while QUIET_DAYS.contains(&(d.month(), d.day())) {
            d = d.tomorrow().unwrap_or(d);
        }
        (d.month(), d.day())
    };
    format!("{year:04}-{month:02}-{day:02}")
}

fn customer(i: u64) -> Value {
    json!({"name": format!("客户{i}"), "birthday": birthday(i)})
}

async fn load(engine: &Engine, actor: &trellis_engine::Actor, from: u64, to: u64) -> Result<()> {
    let s = Instant::now();
    let mut i = from;
    while i < to {
        let n = (to - i).min(1000);
        engine.create_records(actor, FORM, (i..i + n).map(customer).collect(), true).await?;
        i += n;
        if i.is_multiple_of(100_000) {
            println!("  loaded {i} ({:.0} records/s)", (i - from) as f64 / s.elapsed().as_secs_f64());
        }
    }
    println!("loaded {} customers with a birthday moment each in {:.1} s ({:.0} records/s)", to - from, s.elapsed().as_secs_f64(), (to - from) as f64 / s.elapsed().as_secs_f64());
    Ok(())
}

/// Times ticks with nothing due, then the tick at 09:00 Shanghai on `day` of 2026.
async fn measure(engine: &Engine, records: u64, (month, day): (i8, i8)) -> Result<()> {
    let nine: jiff::Timestamp = jiff::civil::date(2026, month, day).at(9, 0, 0, 0).in_tz("Asia/Shanghai")?.timestamp();
    engine.clock().set(nine - jiff::SignedDuration::from_mins(1));
    let mut empty = Vec::new();
    for _ in 0..50 {
        let s = Instant::now();
        let fired = engine.fire_due_triggers().await?;
        empty.push(s.elapsed());
        anyhow::ensure!(fired == 0, "nothing should be due a minute before 09:00");
    }
    empty.sort();
    println!("{records} records: tick with nothing due, median {:.2} ms (p95 {:.2})", ms(pct(&empty, 0.5)), ms(pct(&empty, 0.95)));
    engine.clock().set(nine);
    let s = Instant::now();
    let fired = engine.fire_due_triggers().await?;
    let took = s.elapsed();
    println!(
        "{records} records: tick at 09:00 on {month}/{day} handled {fired} birthdays in {:.0} ms: {:.0} µs per moment, {:.0} notifications/s into the in-app inbox",
        ms(took),
        us(took) / fired.max(1) as f64,
        fired as f64 / took.as_secs_f64()
    );
    Ok(())
}

pub async fn triggers_bench(url: &str, records: u64) -> Result<()> {
    let start: jiff::Timestamp = "2026-05-31T00:00:00Z".parse()?;
    let engine = Engine::open(url, Clock::manual(start)).await.with_context(|| format!("opening {url}"))?;
    match engine.add_user(BENCH_USER, None, "admin", BENCH_PASSWORD).await {
        Ok(_) | Err(EngineError::Conflict { .. }) => {}
        Err(e) => return Err(e).context("adding the bench user"),
    }
    let (_, actor) = engine.login(BENCH_USER, BENCH_PASSWORD).await?;
    if engine.form(FORM).await.is_ok() {
        bail!("form {FORM} exists: the triggers bench needs an empty database (its moments are handled once)");
    }
    engine
        .create_form(&actor, json!({"key": FORM, "schema": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"}, "birthday": {"type": "string", "format": "date"}, "owner": {"type": "string", "format": "user"}}}}))
        .await?;
    engine
        .save_trigger(
            &actor,
            Some("bd_birthday"),
            json!({"key": "bd_birthday", "form": FORM, "when": {"anniversary": "birthday", "at": "09:00", "tz": "Asia/Shanghai"},
                   "actions": [{"notify": "owner", "title": "生日快乐：{{ record.name }}"}]}),
            false,
        )
        .await?;
    println!("backend: {}", engine.store().backend());
    load(&engine, &actor, 0, FIRST.min(records)).await?;
    measure(&engine, FIRST.min(records), FIRST_DAY).await?;
    if records > FIRST {
        load(&engine, &actor, FIRST, records).await?;
        measure(&engine, records, SECOND_DAY).await?;
    }
    engine.close().await;
    Ok(())
}
