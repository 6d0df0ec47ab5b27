//! `packs`: what template packs cost.
//!
//! 1. `check` of the bundled CRM pack (read and check every file; median of 20).
//! 2. Installing its definitions on an empty database, and installing the
//!    same version again (the no-op a re-run makes).
//! 3. Loading its sample data through the write path (rules, rollups,
//!    workflows and triggers running), in records per second.
//! 4. An upgrade whose migration renames a field, over RECORDS records of a
//!    small form: records migrated per second (500 to a transaction, each
//!    through the write path with a history entry).
//!
//! It needs an empty database.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::json;
use trellis_core::pack::Files;
use trellis_engine::packs::{InstallOptions, bundled, read_checked};
use trellis_engine::{Actor, Clock, Engine, EngineError};

use crate::ms;

fn explain(e: EngineError) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

fn member_pack(version: &str, field: &str, migration: bool) -> Files {
    let mut files = Files::new();
    files.insert("pack.json".into(), format!(r#"{{"name": "bench-members", "version": "{version}"}}"#).into_bytes());
    let form = json!({"title": "会员", "schema": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"}, field: {"type": "string"}, "level": {"type": "string"}}}, "indexes": [field]});
    files.insert("forms/member.json".into(), form.to_string().into_bytes());
    if migration {
        files.insert("migrations/1.0.0-1.1.0.rhai".into(), b"if \"phone\" in record { record.mobile = record.phone; record.remove(\"phone\"); }\nrecord".to_vec());
    }
    files
}

pub async fn packs_bench(url: &str, records: usize) -> Result<()> {
    let crm = bundled::files("crm-starter").context("crm-starter is bundled")?;
    let mut checks = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        read_checked(&crm).map_err(explain)?;
        checks.push(t.elapsed());
    }
    checks.sort();
    println!("check crm-starter ({} files): median {:.1} ms", crm.len(), ms(checks[checks.len() / 2]));

    let engine = Engine::open(url, Clock::System).await.with_context(|| format!("opening {url}"))?;
    if !engine.list_forms().await.map_err(explain)?.is_empty() {
        bail!("the packs bench needs an empty database");
    }
    let actor = Actor::system();
    let quiet = |_| {};
    let t = Instant::now();
    let report = engine.install_pack(&actor, &crm, &InstallOptions::default(), &quiet).await.map_err(explain)?;
    println!("install crm-starter: {} definitions in {:.0} ms", report.changes.len(), ms(t.elapsed()));
    let t = Instant::now();
    engine.install_pack(&actor, &crm, &InstallOptions::default(), &quiet).await.map_err(explain)?;
    println!("install the same version again (no change): {:.0} ms", ms(t.elapsed()));

    // Sample data: a second pack name over the same files would clash, so uninstall and reinstall with data.
    engine.uninstall_pack(&actor, "crm-starter", false).await.map_err(explain)?;
    let t = Instant::now();
    let opts = InstallOptions { sample_data: true, demo_password: Some("bench-demo-password".into()), ..Default::default() };
    let report = engine.install_pack(&actor, &crm, &opts, &quiet).await.map_err(explain)?;
    let n: usize = report.sample_records.values().sum();
    let secs = t.elapsed().as_secs_f64();
    println!("install with sample data: {n} records in {secs:.1} s = {:.0} records/s ({:?})", n as f64 / secs, report.sample_records);

    engine.install_pack(&actor, &member_pack("1.0.0", "phone", false), &InstallOptions::default(), &quiet).await.map_err(explain)?;
    let t = Instant::now();
    for start in (0..records).step_by(1000) {
        let items = (start..(start + 1000).min(records)).map(|i| json!({"name": format!("会员{i}"), "phone": format!("138{i:08}"), "level": "普通"})).collect();
        engine.create_records(&actor, "member", items, true).await.map_err(explain)?;
    }
    println!("loaded {records} members in {:.1} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let report = engine.install_pack(&actor, &member_pack("1.1.0", "mobile", true), &InstallOptions::default(), &quiet).await.map_err(explain)?;
    let secs = t.elapsed().as_secs_f64();
    let migrated: i64 = report.migrations.iter().map(|m| m.migrated).sum();
    println!("upgrade renaming phone → mobile: {migrated} records migrated in {secs:.1} s = {:.0} records/s", migrated as f64 / secs);
    engine.close().await;
    Ok(())
}
