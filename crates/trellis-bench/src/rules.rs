//! `rules`: what the rules engine costs.
//!
//! 1. The S8 health-score rules evaluated alone (core, no IO), per record.
//! 2. A single-record engine write to a form with those rules against the
//!    same form without them, and a child write that updates its parent's rollups.
//! 3. How long each sandbox limit takes to stop a runaway script.
//! 4. The sweep over `records` customers: once after the clock moved 40 days
//!    (many values change), once again (nothing changes).

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{Map, Value, json};
use trellis_core::script::{self, Inputs};
use trellis_engine::{Actor, Clock, Engine, EngineError};

use crate::{BENCH_PASSWORD, BENCH_USER, mix, ms, pct, us};

const START: &str = "2026-11-23T08:00:00Z";

const HEALTH: &str = include_str!("../../../templates/crm-starter/scripts/health.rhai");

const TIER: &str = include_str!("../../../templates/crm-starter/scripts/tier.rhai");

fn customer(key: &str, rules: bool) -> Value {
    let mut f = json!({"key": key, "schema": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"}, "phone": {"type": "string"}, "email": {"type": "string"},
        "annual_spend": {"type": "number"}, "on_time_rate": {"type": "number"}}}});
    if rules {
        f["computed"] = json!({"completeness": "completeness(record, [\"name\", \"phone\", \"email\", \"annual_spend\"])"});
        f["rollups"] = json!({
            "orders_365d": {"from": "rb_order", "via": "customer", "op": "count", "within_days": 365, "date": "date"},
            "last_contact_at": {"from": "rb_follow_up", "via": "customer", "op": "max", "field": "date"},
            "complaints_90d": {"from": "rb_follow_up", "via": "customer", "op": "count", "within_days": 90, "date": "date", "filter": "record.kind == \"complaint\""}
        });
        f["segments"] = json!({
            "tier": {"kind": "label", "script": TIER},
            "health": {"kind": "score", "script": HEALTH},
            "churn_risk": {"kind": "flag", "script": "segments.health < 40"}
        });
    }
    f
}

fn child(key: &str, kind: bool) -> Value {
    let mut props = json!({"customer": {"type": "string", "x-link": "rb_customer"}, "date": {"type": "string", "format": "date"}, "amount": {"type": "number"}});
    if kind {
        props["kind"] = json!({"type": "string"});
    }
    json!({"key": key, "schema": {"type": "object", "properties": props}})
}

fn person(i: u64) -> Value {
    let r = mix(i);
    json!({"name": format!("Customer {i}"), "phone": format!("138{:08}", r % 100_000_000), "annual_spend": (r >> 20) % 200_000,
           "on_time_rate": ((r >> 40) % 100) as f64 / 100.0})
}

async fn ensure_form(engine: &Engine, actor: &Actor, def: Value) -> Result<()> {
    let key = def["key"].as_str().unwrap_or_default().to_owned();
    match engine.form(&key).await {
        Ok(_) => Ok(()),
        Err(EngineError::NotFound(_)) => engine.create_form(actor, def).await.map(|_| ()).with_context(|| format!("creating {key}")),
        Err(e) => Err(e.into()),
    }
}

async fn timed_writes(engine: &Engine, actor: &Actor, form: &str, n: usize, item: impl Fn(u64) -> Value) -> Result<Vec<Duration>> {
    let mut t = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let v = item(i);
        let s = Instant::now();
        engine.create_records(actor, form, vec![v], false).await.context("write")?;
        t.push(s.elapsed());
    }
    t.sort();
    Ok(t)
}

pub async fn rules_bench(url: &str, records: usize, writes: usize) -> Result<()> {
    let engine = Engine::open(url, Clock::manual(START.parse()?)).await.with_context(|| format!("opening {url}"))?;
    match engine.add_user(BENCH_USER, None, "admin", BENCH_PASSWORD).await {
        Ok(_) | Err(EngineError::Conflict { .. }) => {}
        Err(e) => return Err(e).context("adding the bench user"),
    }
    let (_, actor) = engine.login(BENCH_USER, BENCH_PASSWORD).await?;
    ensure_form(&engine, &actor, customer("rb_customer", false)).await?;
    ensure_form(&engine, &actor, child("rb_order", false)).await?;
    ensure_form(&engine, &actor, child("rb_follow_up", true)).await?;
    if engine.form("rb_customer").await?.rules.is_empty() {
        engine.update_form(&actor, "rb_customer", customer("rb_customer", true), None).await?;
    }
    ensure_form(&engine, &actor, customer("rb_plain", false)).await?;
    println!("backend: {}", engine.store().backend());

    // 1. The rules alone.
    let form = engine.form("rb_customer").await?;
    let sample = json!({"name": "A", "phone": "13800138000", "annual_spend": 50000, "on_time_rate": 0.9,
        "orders_365d": 3, "last_contact_at": "2026-11-01", "complaints_90d": 1});
    let now = START.parse()?;
    let n = 50_000;
    let s = Instant::now();
    for _ in 0..n {
        let mut data = sample.as_object().cloned().unwrap_or_default();
        std::hint::black_box(form.rules.evaluate("rb_customer", &mut data, now).map_err(|e| anyhow::anyhow!(e.message()))?);
    }
    println!("S8 rules alone (1 computed field, 3 segments): {:.1} µs per record", s.elapsed().as_secs_f64() * 1e6 / n as f64);

    // 2. Writes with and without rules, and a child write.
    // The variants take turns in rounds, so that a database growing under them weighs on both alike.
    let base = 10_000_000u64 + engine.store().count("rb_plain").await? as u64;
    let (mut plain, mut ruled) = (Vec::new(), Vec::new());
    let rounds = 6u64;
    let per = (writes as u64 / rounds).max(1);
    for round in 0..rounds {
        let from = base + round * per;
        plain.extend(timed_writes(&engine, &actor, "rb_plain", per as usize, |i| person(from + i)).await?);
        ruled.extend(timed_writes(&engine, &actor, "rb_customer", per as usize, |i| person(from + i)).await?);
    }
    plain.sort();
    ruled.sort();
    let parent = engine.create_records(&actor, "rb_customer", vec![person(base * 2)], false).await?.remove(0).id;
    let kids = timed_writes(&engine, &actor, "rb_follow_up", writes.min(500), |i| {
        json!({"customer": parent.to_string(), "date": format!("2026-11-{:02}", 1 + i % 22), "kind": if i % 5 == 0 { "complaint" } else { "visit" }})
    })
    .await?;
    let plain_orders = timed_writes(&engine, &actor, "rb_order", writes.min(500), |i| json!({"date": "2026-11-01", "amount": i})).await?;
    println!(
        "single write, median (p95): no rules {:.0} µs ({:.0}), S8 rules {:.0} µs ({:.0}) → rules add {:.0} µs",
        us(pct(&plain, 0.5)),
        us(pct(&plain, 0.95)),
        us(pct(&ruled, 0.5)),
        us(pct(&ruled, 0.95)),
        us(pct(&ruled, 0.5)) - us(pct(&plain, 0.5))
    );
    println!(
        "child write updating its parent (rollups over up to {} siblings), median: {:.0} µs; unlinked child write: {:.0} µs",
        kids.len(),
        us(pct(&kids, 0.5)),
        us(pct(&plain_orders, 0.5))
    );

    // 3. Runaway scripts.
    let sandbox = script::sandbox();
    for (what, src) in [
        ("endless loop", "loop { }"),
        ("endless recursion", "fn f(n) { f(n + 1) } f(0)"),
        ("doubling string", "let s = \"ab\"; loop { s += s; }"),
        ("doubling array", "let a = [1]; loop { a += a; }"),
    ] {
        let compiled = sandbox.compile(src).map_err(|e| anyhow::anyhow!(e.message))?;
        let s = Instant::now();
        let e = sandbox.run(&compiled, &Inputs { record: &Map::new(), segments: &Map::new(), now }).err();
        println!("{what}: stopped after {:.2} ms ({})", ms(s.elapsed()), e.map(|e| e.message).unwrap_or_default());
    }

    // 4. The sweep.
    let have = engine.store().count("rb_customer").await? as usize;
    if have < records {
        let s = Instant::now();
        let mut i = have as u64;
        while (i as usize) < records {
            let end = (i + 1000).min(records as u64);
            let batch: Vec<Value> = (i..end).map(person).collect();
            let created = engine.create_records(&actor, "rb_customer", batch, true).await?;
            // Every tenth customer has an order and a follow-up.
            let orders: Vec<Value> = created.iter().step_by(10).map(|r| json!({"customer": r.id.to_string(), "date": "2026-11-01", "amount": 100})).collect();
            let follow: Vec<Value> = created.iter().step_by(10).map(|r| json!({"customer": r.id.to_string(), "date": "2026-11-10", "kind": "visit"})).collect();
            engine.create_records(&actor, "rb_order", orders, true).await?;
            engine.create_records(&actor, "rb_follow_up", follow, true).await?;
            i = end;
            if i % 100_000 < 1000 {
                println!("  loaded {i} customers ({:.0} s)", s.elapsed().as_secs_f64());
            }
        }
        println!("loaded {} customers in {:.1} s", records - have, s.elapsed().as_secs_f64());
    }
    let total = engine.store().count("rb_customer").await?;
    // Two dates on either side of the health rule's 60-day line for the customers with a
    // follow-up (2026-11-10): each run moves the clock to the one the last run did not use,
    // so the first sweep always has values to change.
    let last = engine.store().sweep("rb_customer").await?.map(|s| s.started_at.to_string()).unwrap_or_default();
    let day = if last.starts_with("2027-01-02") { "2027-01-20" } else { "2027-01-02" };
    let (first, again) = (format!("{day}T08:00:00Z"), format!("{day}T09:00:00Z"));
    for (label, at) in [("after the clock moved (values change)", first.as_str()), ("again (nothing changes)", again.as_str())] {
        engine.clock().set(at.parse()?);
        let s = Instant::now();
        let report = engine.sweep_form("rb_customer", &|_, _| {}).await?;
        let secs = s.elapsed().as_secs_f64();
        println!(
            "sweep {label}: {} records in {secs:.1} s ({:.0} records/s), {} changed, {} failed",
            report.scanned,
            report.scanned as f64 / secs,
            report.changed,
            report.failed
        );
    }
    println!("(form holds {total} live customers)");
    engine.close().await;
    Ok(())
}
