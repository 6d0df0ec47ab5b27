//! The `trellis` command: parses the command line once and hands small
//! configuration values to the engine and the server.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use trellis_engine::{Clock, Engine, EngineError};

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
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Print the OpenAPI document.
    Openapi,
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
        e => anyhow::anyhow!(e),
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { db, bind } => serve(&db.url, bind).await,
        Command::User { command: UserCommand::Add { email, role, password_stdin, db } } => {
            if !password_stdin {
                bail!("pass --password-stdin and the password on standard input");
            }
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password).context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\n', '\r']);
            let engine = Engine::open(&db.url, Clock::System).await.with_context(|| format!("opening {}", db.url))?;
            let user = engine.add_user(&email, &role, password).await.map_err(explain)?;
            println!("added {} ({})", user.email, user.role.as_str());
            engine.close().await;
            Ok(())
        }
        Command::Openapi => {
            println!("{}", trellis_server::openapi_json());
            Ok(())
        }
    }
}

async fn serve(url: &str, bind: SocketAddr) -> anyhow::Result<()> {
    let started = Instant::now();
    let engine = Arc::new(Engine::open(url, Clock::System).await.with_context(|| format!("opening {url}"))?);
    if let Some((email, password)) = engine.ensure_first_admin().await.map_err(explain)? {
        println!("First start: created {email} with password {password}");
        println!("(shown once; sign in with POST /api/v1/auth/token, add users with `trellis user add`)");
    }
    let listener = tokio::net::TcpListener::bind(bind).await.with_context(|| format!("listening on {bind}"))?;
    let (router, _state) = trellis_server::app(engine.clone());
    println!(
        "Trellis listening on http://{} (database: {}, ready in {} ms)",
        listener.local_addr()?,
        engine.store().backend(),
        started.elapsed().as_millis()
    );
    trellis_server::serve(listener, router, shutdown_signal()).await?;
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
