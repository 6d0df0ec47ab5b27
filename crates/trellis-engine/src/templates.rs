//! Message templates rendered where they cannot hurt the server.
//!
//! minijinja bounds a template's steps (fuel) and the core bounds its source
//! and output, but one step can double a list or a string, so forty steps
//! can ask for terabytes, and no hook inside minijinja sees it. A thread
//! with a deadline would stop waiting but not stop the work, and a global
//! allocator cannot refuse memory without aborting the whole process. So
//! every template of a user is rendered in a **worker process** — the
//! `trellis` binary itself, started as `trellis render-worker` — with an
//! operating-system limit on its memory (`RLIMIT_DATA`) and on its CPU time,
//! and a wall-clock deadline the server enforces by killing it. A template
//! that runs past either costs one worker, which is replaced; the write or
//! message it belonged to fails with a problem naming the definition, and
//! nothing else notices. The server waits asynchronously, so no async
//! worker thread is blocked, and a write's transaction is never held past
//! the deadline.
//!
//! Workers are kept and reused (a render is one JSON line each way); at most
//! [`TemplateLimits::workers`] run at once.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Semaphore;
use trellis_core::message::{self, Message, Rendered, TemplateError};

/// The argument that starts the `trellis` binary as a template worker.
pub const WORKER_ARG: &str = "render-worker";

/// How much one template may use.
#[derive(Debug, Clone, Copy)]
pub struct TemplateLimits {
    /// Wall-clock time for one rendering, measured by the server.
    pub deadline: Duration,
    /// Memory a worker may hold (its data segment and anonymous mappings).
    pub memory: u64,
    /// Workers running at once; further renderings wait for one.
    pub workers: usize,
}

impl Default for TemplateLimits {
    fn default() -> Self {
        TemplateLimits { deadline: Duration::from_secs(2), memory: 256 * 1024 * 1024, workers: 4 }
    }
}

/// Where the worker program is and what it may use.
#[derive(Debug, Clone)]
pub struct TemplateConfig {
    /// The `trellis` binary (started with [`WORKER_ARG`]).
    pub program: PathBuf,
    pub limits: TemplateLimits,
}

impl TemplateConfig {
    /// This very program: right for the `trellis` binary. Tests and other
    /// programs that embed the engine name the `trellis` binary instead.
    ///
    /// Looks, in order, at `TRELLIS_RENDER_WORKER`; this program, when it is
    /// `trellis`; a `trellis` beside it or one folder up (where cargo puts
    /// the binary beside a test or benchmark in `deps/`); else `trellis` on
    /// the `PATH`.
    pub fn this_program() -> TemplateConfig {
        TemplateConfig { program: find_program(), limits: TemplateLimits::default() }
    }
}

fn find_program() -> PathBuf {
    if let Some(p) = std::env::var_os("TRELLIS_RENDER_WORKER") {
        return PathBuf::from(p);
    }
    let name = format!("trellis{}", std::env::consts::EXE_SUFFIX);
    if let Ok(exe) = std::env::current_exe() {
        if exe.file_name().is_some_and(|n| n == name.as_str()) {
            return exe;
        }
        for dir in exe.ancestors().skip(1).take(2) {
            let candidate = dir.join(&name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    PathBuf::from(name)
}

/// One rendering, as sent to a worker.
#[derive(Debug, Serialize, Deserialize)]
struct Job {
    /// Parsed as a [`Message`] (an optional `subject:` line) when true, else one template.
    message: bool,
    source: String,
    ctx: Value,
}

#[derive(Debug, Serialize, Deserialize)]
enum Answer {
    Ok { subject: Option<String>, body: String },
    Err { message: String, line: Option<usize>, limit: bool },
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// Wall-clock time spent rendering: an upper bound of its CPU time.
    busy: Duration,
}

/// A worker's CPU limit, for a worker whose server is gone (killed with
/// `-9`) and cannot stop it; the limit is for its whole life, so the server
/// retires a worker at half of it.
const CPU_LIMIT: Duration = Duration::from_secs(120);

/// The server's side: a pool of workers.
pub struct Templates {
    config: TemplateConfig,
    idle: Mutex<Vec<Worker>>,
    slots: Semaphore,
}

impl Templates {
    pub fn new(config: TemplateConfig) -> Templates {
        let slots = Semaphore::new(config.limits.workers.max(1));
        Templates { config, idle: Mutex::new(Vec::new()), slots }
    }

    pub fn limits(&self) -> TemplateLimits {
        self.config.limits
    }

    /// Renders a message (subject and body).
    pub async fn message(&self, msg: &Message, ctx: &Value) -> Result<Rendered, TemplateError> {
        let (subject, body) = self.run(Job { message: true, source: msg.source(), ctx: ctx.clone() }).await?;
        Ok(Rendered { subject, body })
    }

    /// Renders a message for a record with no values: a template that runs
    /// past a limit even then (a loop that doubles a list, say) does so for
    /// every record, and is refused when it is saved. Other failures depend
    /// on the data and are left to the real renderings.
    pub async fn trial(&self, msg: &Message) -> Result<(), TemplateError> {
        let ctx = serde_json::json!({"record": {}, "segments": {}, "form": "", "id": "", "now": ""});
        match self.message(msg, &ctx).await {
            Err(e) if e.limit => Err(e),
            _ => Ok(()),
        }
    }

    /// Renders one template (a task title, a notification title).
    pub async fn render(&self, source: &str, ctx: &Value) -> Result<String, TemplateError> {
        // Most titles are plain text or one `{{ … }}`; those cannot grow, but
        // telling them apart is the parser's work, so every one goes out (the
        // worker checks the source; parsing it here too would do it twice).
        Ok(self.run(Job { message: false, source: source.to_owned(), ctx: ctx.clone() }).await?.1)
    }

    async fn run(&self, job: Job) -> Result<(Option<String>, String), TemplateError> {
        let _slot = self.slots.acquire().await.map_err(|_| unavailable("the template workers are shutting down"))?;
        let idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
        let mut worker = match idle {
            Some(w) => w,
            None => self.spawn().map_err(|e| {
                tracing::error!(program = %self.config.program.display(), error = %e, "could not start a template worker");
                unavailable("the template could not be rendered: the template worker did not start")
            })?,
        };
        let mut line = serde_json::to_vec(&job).map_err(|e| unavailable(e.to_string()))?;
        line.push(b'\n');
        let limits = self.config.limits;
        let exchange = async {
            worker.stdin.write_all(&line).await?;
            worker.stdin.flush().await?;
            let mut answer = String::new();
            if worker.stdout.read_line(&mut answer).await? == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
            }
            Ok(answer)
        };
        let started = std::time::Instant::now();
        let outcome = tokio::time::timeout(limits.deadline, exchange).await;
        worker.busy += started.elapsed();
        match outcome {
            Ok(Ok(answer)) => match serde_json::from_str::<Answer>(&answer) {
                Ok(answer) => {
                    if worker.busy < CPU_LIMIT / 2 {
                        self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(worker);
                    }
                    match answer {
                        Answer::Ok { subject, body } => Ok((subject, body)),
                        Answer::Err { message, line, limit } => Err(TemplateError { message, line, limit }),
                    }
                }
                Err(e) => Err(unavailable(format!("the template worker answered nonsense: {e}"))),
            },
            Ok(Err(_)) => {
                // The worker died: its memory limit made an allocation fail, or its CPU limit struck.
                let _ = worker.child.kill().await;
                Err(stopped(format!("the template was stopped: it needed more than {} MiB of memory", limits.memory / (1024 * 1024))))
            }
            Err(_) => {
                let _ = worker.child.kill().await;
                Err(stopped(format!("the template was stopped: it ran longer than {} s", limits.deadline.as_secs_f64())))
            }
        }
    }

    fn spawn(&self) -> std::io::Result<Worker> {
        let limits = self.config.limits;
        let mut child = Command::new(&self.config.program)
            .arg(WORKER_ARG)
            .arg(limits.memory.to_string())
            .arg(CPU_LIMIT.as_secs().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().ok_or_else(|| std::io::Error::other("no stdin"))?;
        let stdout = BufReader::new(child.stdout.take().ok_or_else(|| std::io::Error::other("no stdout"))?);
        Ok(Worker { child, stdin, stdout, busy: Duration::ZERO })
    }
}

fn stopped(message: impl Into<String>) -> TemplateError {
    TemplateError::limit(message)
}

fn unavailable(message: impl Into<String>) -> TemplateError {
    TemplateError { message: message.into(), line: None, limit: false }
}

/// The worker's side: limits itself, then renders one job per line of
/// standard input until it ends. Called by the `trellis` binary's main
/// before anything else starts.
pub fn serve_worker(memory: u64, cpu_seconds: u64) -> std::io::Result<()> {
    rlimit::setrlimit(rlimit::Resource::DATA, memory, memory)?;
    rlimit::setrlimit(rlimit::Resource::CPU, cpu_seconds, cpu_seconds + 1)?;
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lines() {
        let answer = match serde_json::from_str::<Job>(&line?) {
            Err(e) => Answer::Err { message: format!("unreadable job: {e}"), line: None, limit: false },
            Ok(job) => match render_job(&job) {
                Ok((subject, body)) => Answer::Ok { subject, body },
                Err(e) => Answer::Err { message: e.message, line: e.line, limit: e.limit },
            },
        };
        serde_json::to_writer(&mut stdout, &answer)?;
        stdout.write_all(b"\n")?;
        stdout.flush()?;
    }
    Ok(())
}

fn render_job(job: &Job) -> Result<(Option<String>, String), TemplateError> {
    if job.message {
        let out = Message::parse(&job.source)?.render(&job.ctx)?;
        Ok((out.subject, out.body))
    } else {
        Ok((None, message::render(&job.source, &job.ctx)?))
    }
}
