//! `trellis pack …` and `trellis serve --demo`.

use std::path::Path;

use anyhow::{Context, bail};
use trellis_core::pack::Files;
use trellis_engine::packs::{self, InstallOptions, InstallReport, Progress, archive, bundled};
use trellis_engine::{Actor, Clock, Engine};

use crate::{PackCommand, explain};

/// The bundled pack `--demo` installs, and its demo users' password.
const DEMO_PACK: &str = "crm-starter";
const DEMO_PASSWORD: &str = "trellis-demo";

/// A pack's files from a path, or from the bundled pack of that name.
fn source(source: &str) -> anyhow::Result<Files> {
    let path = Path::new(source);
    if path.exists() {
        return archive::read_path(path).map_err(explain);
    }
    match bundled::files(source) {
        Some(files) => Ok(files),
        None => bail!("{source}: no such file or folder, and no bundled pack of that name (bundled: {})", bundled::names().join(", ")),
    }
}

pub async fn run(command: PackCommand) -> anyhow::Result<()> {
    match command {
        PackCommand::Check { source: src } => {
            let files = source(&src)?;
            let templates = trellis_engine::templates::Templates::new(trellis_engine::templates::TemplateConfig::this_program());
            match packs::read_tried(&files, &templates).await {
                Ok(p) => {
                    println!("{src}: {} {} is valid ({} definitions, {} sample files, {} migrations)", p.manifest.name, p.version, p.definitions.len(), p.data.len(), p.migrations.len());
                    Ok(())
                }
                Err(trellis_engine::EngineError::Pack(issues)) => {
                    for i in &issues {
                        eprintln!("{i}");
                    }
                    eprintln!("{src}: {} problem(s)", issues.len());
                    std::process::exit(1);
                }
                Err(e) => Err(explain(e)),
            }
        }
        PackCommand::Install { source: src, dry_run, force, sample_data, db } => {
            let files = source(&src)?;
            let engine = Engine::open(&db.url, Clock::System).await.with_context(|| format!("opening {}", db.url))?;
            let opts = InstallOptions { dry_run, force, sample_data, demo_password: None };
            let report = install_with_bar(&engine, &files, &opts).await;
            engine.close().await;
            print_report(&report?);
            Ok(())
        }
        PackCommand::Export { name, out, db } => {
            let engine = Engine::open(&db.url, Clock::System).await.with_context(|| format!("opening {}", db.url))?;
            let files = engine.export_pack(&Actor::system(), &name).await.map_err(explain);
            engine.close().await;
            let files = files?;
            let shown = out.display().to_string();
            if shown.ends_with(".zip") {
                bail!("export writes a .tar.gz (or a folder); {shown} would be a folder named like a zip");
            }
            if shown.ends_with(".tar.gz") || shown.ends_with(".tgz") {
                std::fs::write(&out, archive::to_tar_gz(&name, &files).map_err(explain)?).with_context(|| format!("writing {shown}"))?;
            } else {
                archive::write_dir(&out, &files).map_err(explain)?;
            }
            println!("exported {name} ({} files) to {shown}", files.len());
            Ok(())
        }
        PackCommand::Uninstall { name, purge, db } => {
            let engine = Engine::open(&db.url, Clock::System).await.with_context(|| format!("opening {}", db.url))?;
            let removed = engine.uninstall_pack(&Actor::system(), &name, purge).await.map_err(explain);
            engine.close().await;
            let removed = removed?;
            println!("uninstalled {name}: removed {} definitions{}", removed.len(), if purge { "; records of its forms deleted" } else { "; its forms and records are kept" });
            Ok(())
        }
        PackCommand::List { db } => {
            let engine = Engine::open(&db.url, Clock::System).await.with_context(|| format!("opening {}", db.url))?;
            let installed = engine.list_packs().await.map_err(explain);
            engine.close().await;
            for p in installed? {
                println!("installed  {} {}  {}  ({} definitions)", p.name, p.version, p.title, p.definitions.len());
            }
            for n in bundled::names() {
                let m = bundled::manifest(&n);
                println!("bundled    {n} {}  {}", m.as_ref().map_or("?", |m| m.version.as_str()), m.as_ref().map_or("", |m| m.title.as_str()));
            }
            Ok(())
        }
    }
}

/// Installs with a progress bar for migrations and sample data.
async fn install_with_bar(engine: &Engine, files: &Files, opts: &InstallOptions) -> anyhow::Result<InstallReport> {
    let bar = crate::progress_bar();
    let progress = |p: Progress| match p {
        Progress::Migrating { step, form, done, total } => {
            bar.set_message(format!("migrating {form} ({step})"));
            bar.set_length(total);
            bar.set_position(done);
        }
        Progress::Loading { form, done, total } => {
            bar.set_message(format!("sample {form}"));
            bar.set_length(total);
            bar.set_position(done);
        }
    };
    let report = engine.install_pack(&Actor::system(), files, opts, &progress).await.map_err(explain);
    bar.finish_and_clear();
    report
}

fn print_report(r: &InstallReport) {
    let verb = if r.dry_run { "would install" } else { "installed" };
    match &r.from {
        Some(f) if *f != r.to => println!("{} {} {f} → {}", if r.dry_run { "would upgrade" } else { "upgraded" }, r.name, r.to),
        Some(_) => println!("{} {} {} (already installed)", verb, r.name, r.to),
        None => println!("{verb} {} {}", r.name, r.to),
    }
    for c in r.changes.iter().filter(|c| c.action != "unchanged") {
        let fields = if c.fields.is_empty() { String::new() } else { format!(" ({})", c.fields.join(", ")) };
        println!("  {:<6} {}/{}{fields}", c.action, c.kind, c.key);
    }
    if r.changes.iter().all(|c| c.action == "unchanged") {
        println!("  no definition changes");
    }
    for c in &r.conflicts {
        let show = |v: &Option<serde_json::Value>| v.as_ref().map_or("(removed)".to_owned(), |v| v.to_string());
        println!("  conflict {}/{}{}: kept the local {}, the pack has {}", c.kind, c.key, c.conflict.pointer, show(&c.conflict.local), show(&c.conflict.theirs));
    }
    for m in &r.migrations {
        if r.dry_run {
            println!("  migration {} would run over the pack's records", m.step);
        } else {
            println!("  migration {} on {}: {} records changed", m.step, m.form, m.migrated);
        }
    }
    for (form, n) in &r.sample_records {
        println!("  sample data: {n} {form} records");
    }
    if !r.demo_users.is_empty() {
        println!("  demo users: {}", r.demo_users.join(", "));
    }
    if let Some(p) = &r.demo_password {
        println!("  their password (shown once): {p}");
    }
}

/// `serve --demo`: on a database without forms, the bundled CRM pack with its sample data and demo users.
pub async fn demo(engine: &Engine, bind: std::net::SocketAddr) -> anyhow::Result<()> {
    let installed = engine.list_packs().await.map_err(explain)?;
    if installed.iter().any(|p| p.name == DEMO_PACK) {
        println!("Demo: {DEMO_PACK} is installed; sign in as admin@demo.trellis with password {DEMO_PASSWORD}");
        return Ok(());
    }
    if !installed.is_empty() || !engine.list_forms().await.map_err(explain)?.is_empty() {
        println!("Demo: the database is not empty, so the demo pack was not installed (use an empty database, e.g. --db sqlite://demo.db)");
        return Ok(());
    }
    let files = bundled::files(DEMO_PACK).context("the demo pack is not bundled in this binary")?;
    println!("Demo: installing {DEMO_PACK} with sample data…");
    let opts = InstallOptions { sample_data: true, demo_password: Some(DEMO_PASSWORD.into()), ..Default::default() };
    let report = install_with_bar(engine, &files, &opts).await?;
    let records: usize = report.sample_records.values().sum();
    println!("Demo: {} {} installed with {records} sample records.", report.name, report.to);
    println!("Demo users (password {DEMO_PASSWORD}): {}", report.demo_users.join(", "));
    println!("Sign in: curl -s http://{bind}/api/v1/auth/token -H 'content-type: application/json' -d '{{\"email\":\"{}\",\"password\":\"{DEMO_PASSWORD}\"}}'", report.demo_users.first().map_or("admin@demo.trellis", String::as_str));
    Ok(())
}
