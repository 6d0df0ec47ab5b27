//! `workflows`: what workflows cost.
//!
//! 1. A single-record write to a form with the CRM pack's pipeline (a start
//!    on `created`, its history entry, a 72-hour timer) against the same form
//!    without workflows.
//! 2. A manual transition (guard, history, timer cancelled, the next state entered).
//! 3. The timer tick with `pending` timers waiting: an empty tick (nothing due)
//!    and a tick that fires about 1,000 escalations (a notification and a task each).

use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::{Value, json};
use trellis_engine::{Actor, Clock, Engine, EngineError};

use crate::{BENCH_PASSWORD, BENCH_USER, mix, ms, pct, us};

const START: &str = "2026-11-23T08:00:00Z";
const PIPELINE: &str = include_str!("../../../templates/crm-starter/workflows/pipeline.json");
const REVISIT_PLAN: &str = include_str!("../../../templates/crm-starter/workflows/revisit_plan.json");
const ESCALATION: &str = include_str!("../../../templates/crm-starter/messages/escalation.jinja");
const WELCOME: &str = include_str!("../../../templates/crm-starter/messages/welcome.jinja");

fn customer(key: &str) -> Value {
    json!({"key": key, "schema": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"}, "phone": {"type": "string"}, "email": {"type": "string"},
        "owner": {"type": "string", "format": "user"}, "quote_amount": {"type": "number"},
        "last_contact_at": {"type": "string"}}}})
}

fn person(i: u64) -> Value {
    json!({"name": format!("Lead {i}"), "phone": format!("139{:08}", mix(i) % 100_000_000)})
}

async fn ensure(engine: &Engine, actor: &Actor) -> Result<()> {
    for key in ["customer", "wb_plain"] {
        match engine.form(key).await {
            Ok(_) => {}
            Err(EngineError::NotFound(_)) => {
                engine.create_form(actor, customer(key)).await.with_context(|| format!("creating {key}"))?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    engine.create_form(actor, json!({"key": "revisit", "schema": {"type": "object", "properties": {"customer": {"type": "string", "x-link": "customer"}, "nps": {"type": "integer"}}}})).await.ok();
    for (key, template) in [("escalation", ESCALATION), ("welcome", WELCOME)] {
        engine.save_message(actor, Some(key), json!({"key": key, "template": template}), false).await?;
    }
    engine.save_workflow(actor, Some("revisit_plan"), serde_json::from_str(REVISIT_PLAN)?, false).await?;
    engine.save_workflow(actor, Some("pipeline"), serde_json::from_str(PIPELINE)?, false).await?;
    Ok(())
}

pub async fn workflows_bench(url: &str, leads: usize, writes: usize) -> Result<()> {
    let start: jiff::Timestamp = START.parse()?;
    let engine = Engine::open(url, Clock::manual(start)).await.with_context(|| format!("opening {url}"))?;
    match engine.add_user(BENCH_USER, None, "admin", BENCH_PASSWORD).await {
        Ok(_) | Err(EngineError::Conflict { .. }) => {}
        Err(e) => return Err(e).context("adding the bench user"),
    }
    let (_, actor) = engine.login(BENCH_USER, BENCH_PASSWORD).await?;
    ensure(&engine, &actor).await?;
    println!("backend: {}", engine.store().backend());
    // A fresh stretch of time per run, so earlier runs' timers are long done.
    let base = 20_000_000u64 + engine.store().count("customer").await? as u64;
    let epoch = start + jiff::SignedDuration::from_hours(24 * 30 * (base as i64 % 1000));
    engine.clock().set(epoch);

    // 1. Writes with and without the pipeline, taking turns.
    let (mut plain, mut flowing) = (Vec::new(), Vec::new());
    let rounds = 5u64;
    let per = (writes as u64 / rounds).max(1);
    for round in 0..rounds {
        for (form, out) in [("wb_plain", &mut plain), ("customer", &mut flowing)] {
            for i in 0..per {
                let item = person(base + round * per + i);
                let s = Instant::now();
                engine.create_records(&actor, form, vec![item], false).await?;
                out.push(s.elapsed());
            }
        }
    }
    plain.sort();
    flowing.sort();
    println!(
        "single write, median (p95): no workflow {:.0} µs ({:.0}), pipeline started with a 72 h timer {:.0} µs ({:.0}) → +{:.0} µs",
        us(pct(&plain, 0.5)),
        us(pct(&plain, 0.95)),
        us(pct(&flowing, 0.5)),
        us(pct(&flowing, 0.95)),
        us(pct(&flowing, 0.5)) - us(pct(&plain, 0.5))
    );

    // 2. Manual transitions.
    let ids: Vec<uuid::Uuid> = engine.create_records(&actor, "customer", (0..200).map(|i| person(base + 900_000 + i)).collect(), true).await?.into_iter().map(|r| r.id).collect();
    let mut moves = Vec::new();
    for id in &ids {
        let inst = engine.record_workflows(&actor, "customer", *id).await?.into_iter().find(|i| i.workflow == "pipeline").context("pipeline instance")?;
        let s = Instant::now();
        engine.take_transition(&actor, inst.id, "contact").await?;
        moves.push(s.elapsed());
    }
    moves.sort();
    println!("manual transition (history, timer cancelled, next state entered), median (p95): {:.0} µs ({:.0})", us(pct(&moves, 0.5)), us(pct(&moves, 0.95)));

    // The escalations of the leads written above fall due together.
    engine.clock().set(epoch + jiff::SignedDuration::from_mins(72 * 60 + 30));
    let s = Instant::now();
    let fired = engine.fire_due_timers().await?;
    let took = s.elapsed();
    println!("tick firing the {fired} escalations of the leads above: {:.0} ms, {:.0} µs per timer", ms(took), us(took) / fired.max(1) as f64);

    // 3. The tick. Leads arrive in batches of 1,000, one minute apart, so their
    // 72-hour timers fall due a batch at a time.
    let s = Instant::now();
    let mut made = 0u64;
    let mut t = epoch + jiff::SignedDuration::from_hours(1);
    while (made as usize) < leads {
        engine.clock().set(t);
        let n = (leads as u64 - made).min(1000);
        let batch: Vec<Value> = (0..n).map(|i| person(base + 1_000_000 + made + i)).collect();
        engine.create_records(&actor, "customer", batch, true).await?;
        made += n;
        t += jiff::SignedDuration::from_mins(1);
    }
    println!("created {made} leads, each with a pending timer, in {:.1} s", s.elapsed().as_secs_f64());
    let first_due = epoch + jiff::SignedDuration::from_hours(73);
    engine.clock().set(first_due - jiff::SignedDuration::from_mins(5));
    let mut empty = Vec::new();
    for _ in 0..50 {
        let s = Instant::now();
        let fired = engine.fire_due_timers().await?;
        empty.push(s.elapsed());
        anyhow::ensure!(fired == 0, "nothing should be due yet");
    }
    empty.sort();
    println!("tick with nothing due ({made}+ timers pending), median: {:.2} ms", ms(pct(&empty, 0.5)));
    engine.clock().set(first_due);
    let s = Instant::now();
    let fired = engine.fire_due_timers().await?;
    let took = s.elapsed();
    println!(
        "tick firing {fired} escalations (notification + task each, one transaction per timer): {:.0} ms, {:.0} µs per timer",
        ms(took),
        us(took) / fired.max(1) as f64
    );
    engine.close().await;
    Ok(())
}
