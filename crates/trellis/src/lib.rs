//! The `trellis` command: parses the command line once and hands small
//! configuration values to the engine and the server.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use trellis_engine::{Clock, Engine, EngineError};

mod backup;
mod pack;
mod sheets;

#[derive(Debug, Parser)]
#[command(name = "trellis", version, about = "Zero-code customer management and relationship maintenance")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct DbArg {
    /// Database URL: sqlite://FILE (created if missing) or postgres://…
    #[arg(long = "db", env = "DATABASE_URL", default_value = "sqlite://trellis.db", global = true)]
    pub url: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve {
        #[command(flatten)]
        db: DbArg,
        /// Address to listen on.
        #[arg(long, env = "TRELLIS_BIND", default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
        /// `system`, or `manual` for tests and demos: time stands still until
        /// `POST /api/v1/dev/clock {"now": …}` moves it (that route exists only then).
        #[arg(long, default_value = "system", value_parser = ["system", "manual"])]
        clock: String,
        #[command(flatten)]
        delivery: DeliveryArgs,
        /// On an empty database: install the bundled CRM pack with its sample
        /// data and demo users, and print how to sign in.
        #[arg(long)]
        demo: bool,
        #[command(flatten)]
        ops: OpsArgs,
    },
    /// Copy a SQLite database to FILE while the server runs (a consistent
    /// snapshot); for PostgreSQL, use pg_dump (see docs/operations.md).
    Backup {
        file: std::path::PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Restore a backup made by `trellis backup` into the database (stop the
    /// server first); for PostgreSQL, use pg_restore (see docs/operations.md).
    Restore {
        file: std::path::PathBuf,
        /// Replace a database that already holds data.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Template packs: check, install or upgrade, export, uninstall.
    Pack {
        #[command(subcommand)]
        command: PackCommand,
    },
    /// Segments and the other derived values of a form's rules.
    Segments {
        #[command(subcommand)]
        command: SegmentsCommand,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Import a CSV (UTF-8, GBK, UTF-16) or Excel file into a form, through
    /// the write path, in batches; an import cut off resumes when run again.
    /// The exit code is 1 when any row was refused.
    Import {
        form: String,
        file: std::path::PathBuf,
        /// Check every row and print what would happen; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// COLUMN=field, for columns whose header is neither the field's key
        /// nor its title; COLUMN= leaves a column out. Repeat for more.
        #[arg(long = "map", value_name = "COLUMN=field")]
        map: Vec<String>,
        /// A unique field: rows whose value exists update that record.
        #[arg(long, value_name = "FIELD")]
        upsert_on: Option<String>,
        /// Do not fire event triggers (welcome messages…) for the imported rows.
        #[arg(long)]
        no_events: bool,
        /// The time zone of date-times written without an offset (default Asia/Shanghai).
        #[arg(long)]
        tz: Option<String>,
        /// Write every refused row, with the reason, to this CSV file.
        #[arg(long, value_name = "FILE")]
        errors: Option<std::path::PathBuf>,
        /// Rows per transaction.
        #[arg(long, hide = true)]
        batch: Option<usize>,
        #[command(flatten)]
        db: DbArg,
    },
    /// Export a form's records (optionally filtered and sorted as lists are) to FILE.csv or FILE.xlsx.
    Export {
        form: String,
        #[arg(short = 'o', long = "out")]
        out: std::path::PathBuf,
        /// A list filter, e.g. '{"level": {"_eq": "VIP"}}'.
        #[arg(long)]
        filter: Option<String>,
        /// A list sort, e.g. -created_at,name.
        #[arg(long)]
        sort: Option<String>,
        #[command(flatten)]
        db: DbArg,
    },
    /// Print the OpenAPI document.
    Openapi,
}

/// Metrics and logs of a running server.
#[derive(Debug, Clone, clap::Args)]
pub struct OpsArgs {
    /// Serve /metrics to anyone; by default it needs the metrics token or an admin's token.
    #[arg(long)]
    pub metrics_public: bool,
    /// A bearer token that opens /metrics (and nothing else), for a Prometheus scraper.
    #[arg(long, env = "TRELLIS_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// `text` (coloured only on a terminal) or `json` (one object a line).
    #[arg(long, env = "TRELLIS_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

impl Cli {
    /// Whether logs are written as JSON lines (`serve --log-format json`).
    pub fn json_logs(&self) -> bool {
        matches!(&self.command, Command::Serve { ops, .. } if ops.log_format == "json")
    }
}

/// How emails and webhooks are sent.
#[derive(Debug, Clone, clap::Args)]
pub struct DeliveryArgs {
    /// SMTP server for emails: smtp://user:pass@host:587?tls=required, or smtps://…:465.
    #[arg(long, env = "TRELLIS_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// The sender of every email, e.g. "Trellis CRM <crm@example.com>".
    #[arg(long, env = "TRELLIS_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// Signs webhook bodies: X-Trellis-Signature: sha256=HMAC-SHA256(secret, body).
    #[arg(long, env = "TRELLIS_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// Allow webhooks to private, loopback and link-local addresses (refused by default).
    #[arg(long)]
    pub allow_private_webhooks: bool,
}

#[derive(Debug, Subcommand)]
pub enum SegmentsCommand {
    /// Re-evaluate the form's rules over every record now, with a progress bar;
    /// resumes a sweep that was cut off.
    Refresh {
        form: String,
        #[command(flatten)]
        db: DbArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum PackCommand {
    /// Check a pack (a folder, .tar.gz or .zip) without a database: every
    /// problem as FILE:LINE:COLUMN: MESSAGE; the exit code is 1 when there are any.
    Check { source: String },
    /// Install or upgrade a pack: a folder, a .tar.gz or .zip, or the name of a bundled pack.
    Install {
        source: String,
        /// Print what would change (definitions, conflicts, migrations) and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Allow installing an older version over a newer one.
        #[arg(long)]
        force: bool,
        /// Also load the pack's sample data and demo users (first install only).
        #[arg(long)]
        sample_data: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Export an installed pack, with the changes made since it was installed:
    /// OUT ending in .tar.gz or .tgz writes an archive, anything else a folder.
    Export {
        name: String,
        #[arg(short = 'o', long = "out")]
        out: std::path::PathBuf,
        #[command(flatten)]
        db: DbArg,
    },
    /// Uninstall a pack: its definitions go, its forms and records stay (unless --purge).
    Uninstall {
        name: String,
        /// Also delete the records of its forms.
        #[arg(long)]
        purge: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// List the installed and the bundled packs.
    List {
        #[command(flatten)]
        db: DbArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from standard input.
    Add {
        email: String,
        /// admin, manager or staff.
        #[arg(long)]
        role: String,
        /// Read the password from standard input (the only way: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// The user's manager (email): the user joins that manager's team.
        #[arg(long)]
        manager: Option<String>,
        /// The name pages show for the user (王芳); the email when absent.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        db: DbArg,
    },
}

/// Describes an engine refusal for a terminal.
fn explain(e: EngineError) -> anyhow::Error {
    match e {
        EngineError::Invalid(issues) => {
            anyhow::anyhow!(issues.iter().map(|i| format!("{}: {}", i.pointer.trim_start_matches('/'), i.message)).collect::<Vec<_>>().join("\n"))
        }
        EngineError::Pack(issues) => anyhow::anyhow!(issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")),
        e => anyhow::anyhow!(e),
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { db, bind, clock, delivery, demo, ops } => serve(&db.url, bind, &clock, delivery, demo, ops).await,
        Command::Backup { file, force, db } => crate::backup::backup(&db.url, &file, force).await,
        Command::Restore { file, force, db } => crate::backup::restore(&db.url, &file, force).await,
        Command::Pack { command } => crate::pack::run(command).await,
        Command::Segments { command: SegmentsCommand::Refresh { form, db } } => refresh(&db.url, &form).await,
        Command::User { command: UserCommand::Add { email, role, password_stdin, manager, name, db } } => {
            if !password_stdin {
                bail!("pass --password-stdin and the password on standard input");
            }
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password).context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\n', '\r']);
            let engine = Engine::open(&db.url, Clock::System).await.with_context(|| format!("opening {}", db.url))?;
            let user = engine.create_user(&trellis_engine::Actor::system(), &email, name.as_deref(), &role, password, manager.as_deref()).await.map_err(explain)?;
            match &manager {
                Some(m) => println!("added {} ({}) to the team of {m}", user.email, user.role),
                None => println!("added {} ({})", user.email, user.role),
            }
            engine.close().await;
            Ok(())
        }
        Command::Import { form, file, dry_run, map, upsert_on, no_events, tz, errors, batch, db } => {
            crate::sheets::import(crate::sheets::ImportArgs { url: db.url, form, file, dry_run, map, upsert_on, no_events, tz, errors, batch }).await
        }
        Command::Export { form, out, filter, sort, db } => crate::sheets::export(&db.url, &form, &out, filter.as_deref(), sort.as_deref()).await,
        Command::Openapi => {
            println!("{}", trellis_server::openapi_json());
            Ok(())
        }
    }
}

/// The progress bar of the commands' long work (sweeps, migrations, sample data, imports).
pub(crate) fn progress_bar() -> indicatif::ProgressBar {
    let style = indicatif::ProgressStyle::with_template("{spinner} {msg} [{bar:40}] {pos}/{len} ({per_sec}, {eta} left)")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(style);
    bar
}

async fn refresh(url: &str, form: &str) -> anyhow::Result<()> {
    let engine = Engine::open(url, Clock::System).await.with_context(|| format!("opening {url}"))?;
    let bar = progress_bar();
    bar.set_message(format!("sweeping {form}"));
    let progress = |done: i64, total: i64| {
        bar.set_length(total.max(0) as u64);
        bar.set_position(done.max(0) as u64);
    };
    let report = engine.sweep_form(form, &progress).await.map_err(explain)?;
    bar.finish_and_clear();
    println!(
        "{}: {} records, {} changed, {} failed{}",
        report.form,
        report.scanned,
        report.changed,
        report.failed,
        if report.resumed { " (resumed an interrupted sweep)" } else { "" }
    );
    if let Some(e) = report.first_error {
        println!("first failure: {e}");
    }
    engine.close().await;
    Ok(())
}

/// How often the server looks for forms due a sweep.
const SWEEP_CHECK: std::time::Duration = std::time::Duration::from_secs(60);
/// How often the server looks for imports nobody moves, and how long one must be still to be taken over.
const JOB_CHECK: std::time::Duration = std::time::Duration::from_secs(15);
const JOB_IDLE: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);
/// How often the server fires due workflow timers and sends due deliveries: one indexed read each.
const TIMER_TICK: std::time::Duration = std::time::Duration::from_secs(1);
/// How long in-flight requests may take to finish after SIGTERM or Ctrl-C.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

async fn serve(url: &str, bind: SocketAddr, clock: &str, delivery: DeliveryArgs, demo: bool, ops: OpsArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let clock = if clock == "manual" { Clock::manual(jiff::Timestamp::now()) } else { Clock::System };
    let manual = matches!(clock, Clock::Manual(_));
    let engine = Arc::new(Engine::open(url, clock).await.with_context(|| format!("opening {url}"))?);
    engine
        .configure_delivery(trellis_engine::delivery::DeliveryConfig {
            smtp_url: delivery.smtp_url,
            smtp_from: delivery.smtp_from,
            allow_private_webhooks: delivery.allow_private_webhooks,
            webhook_secret: delivery.webhook_secret,
            ..Default::default()
        })
        .map_err(explain)?;
    let first = engine.ensure_first_admin().await.map_err(explain)?;
    if let Some((email, password)) = &first {
        println!("First start: created {email} with password {password}");
        println!("(shown once; sign in with POST /api/v1/auth/token, add users with `trellis user add`)");
    }
    if demo {
        crate::pack::demo(&engine, bind).await?;
    }
    let listener = tokio::net::TcpListener::bind(bind).await.with_context(|| format!("listening on {bind}"))?;
    let config = trellis_server::ServerConfig { metrics_public: ops.metrics_public, metrics_token: ops.metrics_token.filter(|t| !t.is_empty()) };
    let (router, _state) = trellis_server::app_with(engine.clone(), config);
    println!(
        "Trellis listening on http://{} (database: {}, ready in {} ms)",
        listener.local_addr()?,
        engine.store().backend(),
        started.elapsed().as_millis()
    );
    // With a manual clock, timers and sweeps run when the clock is moved (POST /api/v1/dev/clock).
    let sweeper = (!manual).then(|| {
        let engine = engine.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = engine.sweep_due().await {
                    tracing::error!(error = %e, "sweep failed; retrying at the next check");
                }
                tokio::time::sleep(SWEEP_CHECK).await;
            }
        })
    });
    let ticker = (!manual).then(|| {
        let engine = engine.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = engine.notice_changes().await {
                    tracing::error!(error = %e, "reading the definitions stamp failed; retrying at the next tick");
                }
                if let Err(e) = engine.fire_due_timers().await {
                    tracing::error!(error = %e, "firing workflow timers failed; retrying at the next tick");
                }
                if let Err(e) = engine.fire_due_triggers().await {
                    tracing::error!(error = %e, "handling due trigger moments failed; retrying at the next tick");
                }
                if let Err(e) = engine.deliver_due().await {
                    tracing::error!(error = %e, "delivering the outbox failed; retrying at the next tick");
                }
                tokio::time::sleep(TIMER_TICK).await;
            }
        })
    });
    // Jobs (imports, backfills) whose worker died (a crash, a restart) go on where their last batch ended.
    let jobs = (!manual).then(|| {
        let engine = engine.clone();
        tokio::spawn(async move {
            loop {
                match engine.claim_stale_jobs(JOB_IDLE).await {
                    Ok(ids) => {
                        for id in ids {
                            let engine = engine.clone();
                            tokio::spawn(async move {
                                tracing::info!(job = %id, "resuming an unfinished job (an import or a backfill)");
                                if let Err(e) = engine.run_job(id, &|_| {}).await {
                                    tracing::error!(job = %id, error = %e, "job stopped; it is picked up again later");
                                }
                            });
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "looking for unfinished jobs failed; retrying"),
                }
                tokio::time::sleep(JOB_CHECK).await;
            }
        })
    });
    // In-flight requests get SHUTDOWN_GRACE to finish; whatever still runs
    // then (a slow client, say) is dropped, its transaction rolled back.
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let signal = async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    };
    tokio::select! {
        served = trellis_server::serve(listener, router, signal) => served?,
        () = async {
            let _ = stop_rx.wait_for(|stop| *stop).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => tracing::warn!("in-flight requests did not finish within {} s; stopping anyway", SHUTDOWN_GRACE.as_secs()),
    }
    for task in [sweeper, ticker, jobs].into_iter().flatten() {
        task.abort();
        let _ = task.await;
    }
    engine.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
