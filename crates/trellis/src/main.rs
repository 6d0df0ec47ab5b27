use std::io::IsTerminal;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    // A template worker (see trellis_engine::templates) starts before any
    // runtime or thread, so its memory limit covers all it does.
    let args: Vec<String> = std::env::args().skip(1).take(3).collect();
    if args.first().map(String::as_str) == Some(trellis_engine::templates::WORKER_ARG) {
        let number = |i: usize| args.get(i).and_then(|a| a.parse::<u64>().ok());
        let (Some(memory), Some(cpu)) = (number(1), number(2)) else {
            eprintln!("usage: trellis {} MEMORY_BYTES CPU_SECONDS", trellis_engine::templates::WORKER_ARG);
            return std::process::ExitCode::FAILURE;
        };
        return match trellis_engine::templates::serve_worker(memory, cpu) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(_) => std::process::ExitCode::FAILURE,
        };
    }
    let cli = trellis::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
        // Colour codes only for a person at a terminal: in a file or a log
        // collector they are noise that breaks searching.
        let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
        if cli.json_logs() {
            logs.json().with_current_span(false).init();
        } else {
            logs.with_ansi(ansi).init();
        }
        match trellis::run(cli).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                std::process::ExitCode::FAILURE
            }
        }
    });
    // Work still running on blocking threads is bounded by its deadline, but
    // shutdown does not wait for it: the answer is already given.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}
