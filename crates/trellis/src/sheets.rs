//! `trellis import` and `trellis export`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use trellis_engine::exports::ExportFormat;
use trellis_engine::imports::{self, ImportOptions, JobView, RowError};
use trellis_engine::{Actor, Clock, Engine};

use crate::{explain, progress_bar};

/// What `trellis import` was asked.
pub struct ImportArgs {
    pub url: String,
    pub form: String,
    pub file: PathBuf,
    pub dry_run: bool,
    pub map: Vec<String>,
    pub upsert_on: Option<String>,
    pub no_events: bool,
    pub tz: Option<String>,
    pub errors: Option<PathBuf>,
    pub batch: Option<usize>,
}

/// How many refused rows the terminal shows (the report file has them all).
const SHOWN: usize = 20;

fn parse_map(pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for p in pairs {
        let Some((column, field)) = p.split_once('=') else { bail!("--map {p}: write COLUMN=field (or COLUMN= to leave a column out)") };
        map.insert(column.trim().to_owned(), field.trim().to_owned());
    }
    Ok(map)
}

fn show_errors(errors: &[RowError], failed: usize, report: Option<&Path>) -> anyhow::Result<()> {
    for e in errors.iter().take(SHOWN) {
        let at = match (&e.column, &e.field) {
            (Some(c), Some(f)) if c != f => format!("{c} ({f})"),
            (Some(c), _) => c.clone(),
            (None, Some(f)) => f.clone(),
            (None, None) => String::new(),
        };
        println!("  row {}{}: {}", e.row, if at.is_empty() { String::new() } else { format!(", {at}") }, e.message);
    }
    if errors.len() > SHOWN {
        println!("  … and {} more problem(s)", errors.len() - SHOWN);
    }
    if let Some(path) = report.filter(|_| failed > 0) {
        std::fs::write(path, imports::errors_csv(errors).map_err(explain)?).with_context(|| format!("writing {}", path.display()))?;
        println!("the {failed} refused row(s) are listed in {}", path.display());
    }
    Ok(())
}

pub async fn import(a: ImportArgs) -> anyhow::Result<()> {
    let source = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let opts = ImportOptions { dry_run: a.dry_run, map: parse_map(&a.map)?, upsert_on: a.upsert_on, events: !a.no_events, tz: a.tz, batch: a.batch, lang: None };
    let engine = Engine::open(&a.url, Clock::System).await.with_context(|| format!("opening {}", a.url))?;
    let bar = progress_bar();
    let name = a.file.file_name().map_or_else(|| a.file.display().to_string(), |n| n.to_string_lossy().into_owned());
    let result = if a.dry_run {
        bar.set_message(format!("checking {name}"));
        let r = engine
            .dry_run_import(&trellis_engine::Actor::system(), &a.form, &source, &opts, &|done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            })
            .await
            .map_err(explain)?;
        bar.finish_and_clear();
        println!("{name} ({}): {} rows; a dry run wrote nothing", r.encoding, r.total);
        println!("would create {}, update {}, leave {} unchanged; {} row(s) refused", r.created, r.updated, r.unchanged, r.failed);
        show_errors(&r.errors, r.failed, a.errors.as_deref())?;
        r.failed
    } else {
        let job = engine.start_import(&Actor::system(), &a.form, &name, source, opts).await.map_err(explain)?;
        if job.done > 0 {
            println!("resuming the unfinished import of {name} (job {}) at row {} of {}", job.id, job.done, job.total);
        }
        bar.set_message(format!("importing {name}"));
        bar.set_length(job.total as u64);
        bar.set_position(job.done as u64);
        let progress = |j: &JobView| {
            bar.set_length(j.total as u64);
            bar.set_position(j.done as u64);
        };
        let job = engine.run_job(job.id, &progress).await.map_err(explain)?;
        bar.finish_and_clear();
        if let Some(e) = &job.error {
            bail!("the import stopped: {e}");
        }
        println!("{name}: {} rows into {}: {} created, {} updated, {} unchanged, {} refused (job {})", job.total, job.form, job.created, job.updated, job.unchanged, job.failed, job.id);
        let errors = engine.job_errors(&Actor::system(), job.id, None).await.map_err(explain)?;
        show_errors(&errors, job.failed as usize, a.errors.as_deref())?;
        job.failed as usize
    };
    engine.close().await;
    if result > 0 {
        // Scripts can tell a clean import from one that left rows behind.
        std::process::exit(1);
    }
    Ok(())
}

pub async fn export(url: &str, form: &str, out: &Path, filter: Option<&str>, sort: Option<&str>) -> anyhow::Result<()> {
    let format = ExportFormat::parse(&out.to_string_lossy()).with_context(|| format!("{}: the file name ends in .csv or .xlsx", out.display()))?;
    let engine = Engine::open(url, Clock::System).await.with_context(|| format!("opening {url}"))?;
    let export = engine.prepare_export(&trellis_engine::Actor::system(), form, filter, sort, format).await.map_err(explain)?;
    let total = engine.count_records(&trellis_engine::Actor::system(), form, filter).await.map_err(explain)?;
    let bar = progress_bar();
    bar.set_message(format!("exporting {form}"));
    bar.set_length(total.max(0) as u64);
    // Written beside the target and renamed at the end: a failed export leaves no half file.
    let part = out.with_extension(format!("{}.part", out.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default()));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&part).with_context(|| format!("creating {}", part.display()))?);
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let run = engine.run_export(export, tx);
    let write = async {
        let mut bytes = 0u64;
        while let Some(chunk) = rx.recv().await {
            let chunk = chunk?;
            bytes += chunk.len() as u64;
            file.write_all(&chunk)?;
        }
        file.flush()?;
        Ok::<u64, std::io::Error>(bytes)
    };
    let (written, bytes) = tokio::join!(run, write);
    let written = written.map_err(explain)?;
    let bytes = bytes.with_context(|| format!("writing {}", part.display()))?;
    bar.set_position(written);
    bar.finish_and_clear();
    std::fs::rename(&part, out).with_context(|| format!("renaming {} to {}", part.display(), out.display()))?;
    println!("exported {written} {form} record(s) to {} ({} KiB)", out.display(), bytes.div_ceil(1024));
    engine.close().await;
    Ok(())
}
