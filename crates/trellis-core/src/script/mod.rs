//! The rhai sandbox every rule runs in.
//!
//! One [`Sandbox`] per process: a rhai engine with limits on operations, call
//! depth, expression depth and string, array and map sizes; no `eval`, no
//! module loading, no printing; and an optional wall-clock deadline checked
//! from rhai's progress callback. The deadline needs a monotonic clock, which
//! the core does not read: the caller passes one in ([`Sandbox::with_deadline`]).
//!
//! Scripts see three variables: `record` (the data), `segments` (values so
//! far) and `now` (RFC 3339 text), plus the helper library of [`helpers`].
//! JSON maps naturally: `null` ↔ `()`, integers stay integers, dates are text.

use std::cell::Cell;
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Duration;

use jiff::Timestamp;
use rhai::{AST, Dynamic, Engine, EvalAltResult, Position, Scope};
use serde::Serialize;
use serde_json::{Map, Value};

pub mod helpers;

/// How much one evaluation may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The longest source compiled, in bytes: a rule is a few lines, and
    /// compiling megabytes costs seconds and hundreds of megabytes.
    pub max_source: usize,
    pub max_operations: u64,
    pub max_call_levels: usize,
    pub max_expr_depth: usize,
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
    pub deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_source: 64 * 1024,
            max_operations: 500_000,
            max_call_levels: 32,
            max_expr_depth: 64,
            max_string_size: 64 * 1024,
            max_array_size: 10_000,
            max_map_size: 1_000,
            deadline: Duration::from_millis(50),
        }
    }
}

/// A script problem, with its position in the source when rhai knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptError {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

impl ScriptError {
    fn at(message: String, pos: Position) -> Self {
        ScriptError { message, line: pos.line(), column: pos.position() }
    }

    /// A problem with no position (a value of the wrong kind, say).
    pub fn plain(message: impl Into<String>) -> Self {
        ScriptError { message: message.into(), line: None, column: None }
    }

    /// "line 3, column 7: message", or the message alone.
    pub fn describe(&self) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("line {l}, column {c}: {}", self.message),
            (Some(l), None) => format!("line {l}: {}", self.message),
            _ => self.message.clone(),
        }
    }
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// A compiled script. Cheap to share: the AST is behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Script {
    ast: Arc<AST>,
    /// Whether the script reads the time (`now`, `days_since`, …), so the sweep must revisit it.
    pub reads_now: bool,
}

/// What a script sees.
pub struct Inputs<'a> {
    pub record: &'a Map<String, Value>,
    pub segments: &'a Map<String, Value>,
    pub now: Timestamp,
}

/// A monotonic time source for deadlines, supplied by the caller.
pub type Monotonic = Arc<dyn Fn() -> Duration + Send + Sync>;

static MONOTONIC: OnceLock<fn() -> Duration> = OnceLock::new();
static SANDBOX: LazyLock<Sandbox> = LazyLock::new(|| {
    let clock: Monotonic = Arc::new(|| MONOTONIC.get().map_or(Duration::ZERO, |f| f()));
    Sandbox::new(Limits::default(), Some(clock))
});

/// The process's sandbox: every rule compiles and runs here.
pub fn sandbox() -> &'static Sandbox {
    &SANDBOX
}

/// Gives the process's sandbox its deadline clock (the engine does, at start).
/// Until then, and in pure tests, evaluations are bounded by the operation limit alone.
pub fn set_monotonic_clock(f: fn() -> Duration) {
    let _ = MONOTONIC.set(f);
}

thread_local! {
    /// The evaluation running on this thread: its time and its deadline.
    static CURRENT: Cell<Option<(Timestamp, Option<Duration>)>> = const { Cell::new(None) };
}

/// The time of the evaluation running on this thread (for `now()` and friends).
pub(crate) fn current_now() -> Option<Timestamp> {
    CURRENT.with(|c| c.get().map(|(now, _)| now))
}

/// Check the deadline every this many operations: reading a clock is cheap, not free.
const DEADLINE_CHECK_EVERY: u64 = 1024;

/// The names a script can use to read the time.
const TIME_WORDS: &[&str] = &["now", "today", "days_since", "days_until", "age", "next_anniversary", "days_to_anniversary"];

pub struct Sandbox {
    engine: Engine,
    limits: Limits,
    monotonic: Option<Monotonic>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").field("limits", &self.limits).field("deadline", &self.monotonic.is_some()).finish()
    }
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::new(Limits::default(), None)
    }
}

impl Sandbox {
    /// A sandbox with `limits`; with `monotonic`, evaluations also stop at `limits.deadline`.
    pub fn new(limits: Limits, monotonic: Option<Monotonic>) -> Sandbox {
        let mut engine = Engine::new();
        engine
            .set_max_operations(limits.max_operations)
            .set_max_call_levels(limits.max_call_levels)
            .set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth)
            .set_max_string_size(limits.max_string_size)
            .set_max_array_size(limits.max_array_size)
            .set_max_map_size(limits.max_map_size)
            .set_max_variables(1_000)
            .set_max_functions(100)
            .set_max_modules(0)
            .set_strict_variables(true)
            .set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new())
            .disable_symbol("eval")
            .disable_symbol("import")
            .disable_symbol("export")

            .on_print(|_| {})
            .on_debug(|_, _, _| {});
        if let Some(clock) = monotonic.clone() {
            engine.on_progress(move |ops| {
                if ops % DEADLINE_CHECK_EVERY != 0 {
                    return None;
                }
                let deadline = CURRENT.with(|c| c.get().and_then(|(_, d)| d))?;
                (clock() >= deadline).then(|| Dynamic::from("deadline"))
            });
        }
        helpers::register(&mut engine);
        // rhai's core library can block the thread (`sleep`) and read the system clock
        // (`timestamp`); functions registered here are found before the library's.
        let refuse = |name: &'static str| move || -> Result<(), Box<EvalAltResult>> { Err(format!("{name} is not available in rules").into()) };
        engine.register_fn("sleep", move |_: rhai::INT| refuse("sleep")());
        engine.register_fn("sleep", move |_: rhai::FLOAT| refuse("sleep")());
        engine.register_fn("timestamp", move || refuse("timestamp")());
        Sandbox { engine, limits, monotonic }
    }

    /// A sandbox with the default limits and a deadline measured by `monotonic`.
    pub fn with_deadline(monotonic: Monotonic) -> Sandbox {
        Sandbox::new(Limits::default(), Some(monotonic))
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn scope<'a>(record: &rhai::Map, segments: &rhai::Map, now: &Dynamic) -> Scope<'a> {
        let mut scope = Scope::new();
        scope.push_constant("record", record.clone());
        scope.push_constant("segments", segments.clone());
        scope.push_constant_dynamic("now", now.clone());
        scope
    }

    /// Compiles `source`: syntax, limits and every variable it reads are checked now.
    pub fn compile(&self, source: &str) -> Result<Script, ScriptError> {
        self.check_size(source)?;
        let mut scope = Scope::new();
        // Plain variables, not constants: the optimizer would fold a constant's placeholder value into the AST.
        for name in ["record", "segments", "now"] {
            scope.push(name, ());
        }
        let ast = self.engine.compile_with_scope(&scope, source).map_err(|e| ScriptError::at(e.err_type().to_string(), e.position()))?;
        Ok(Script { ast: Arc::new(ast), reads_now: reads_now(source) })
    }

    fn check_size(&self, source: &str) -> Result<(), ScriptError> {
        if source.len() > self.limits.max_source {
            return Err(ScriptError::plain(format!("the script is {} bytes long; at most {} are allowed", source.len(), self.limits.max_source)));
        }
        Ok(())
    }

    /// Runs a compiled script and returns its value as JSON.
    pub fn run(&self, script: &Script, inputs: &Inputs<'_>) -> Result<Value, ScriptError> {
        let (record, segments, now) = Self::convert(inputs);
        self.eval(script, &mut Self::scope(&record, &segments, &now), inputs.now)
    }

    fn convert(inputs: &Inputs<'_>) -> (rhai::Map, rhai::Map, Dynamic) {
        let map = |m: &Map<String, Value>| m.iter().map(|(k, v)| (k.as_str().into(), to_dynamic(v))).collect::<rhai::Map>();
        (map(inputs.record), map(inputs.segments), Dynamic::from(inputs.now.to_string()))
    }

    /// Runs several scripts in order over one record: after each, `step` may
    /// return a value to store under a key of `record` or `segments`, which the
    /// scripts after it see. Converting the record once instead of per script
    /// keeps a write with many rules cheap; every script starts from a fresh
    /// scope, so a variable one script declares never leaks into the next.
    pub fn run_in_order<'s, E>(
        &self,
        scripts: impl IntoIterator<Item = &'s Script>,
        inputs: &Inputs<'_>,
        mut step: impl FnMut(usize, Result<Value, ScriptError>) -> Result<Option<(Target, String, Value)>, E>,
    ) -> Result<(), E> {
        let (mut record, mut segments, now) = Self::convert(inputs);
        for (i, script) in scripts.into_iter().enumerate() {
            let out = self.eval(script, &mut Self::scope(&record, &segments, &now), inputs.now);
            if let Some((target, key, value)) = step(i, out)? {
                let map = match target {
                    Target::Record => &mut record,
                    Target::Segments => &mut segments,
                };
                if value.is_null() {
                    map.remove(key.as_str());
                } else {
                    map.insert(key.into(), to_dynamic(&value));
                }
            }
        }
        Ok(())
    }

    /// Compiles a record migration of a pack upgrade: it sees `form` (the
    /// record's form key), `record` (its data, a variable it may change) and
    /// `now`, and evaluates to the new data (or `()` to leave it as it is).
    pub fn compile_migration(&self, source: &str) -> Result<Script, ScriptError> {
        self.check_size(source)?;
        let mut scope = Scope::new();
        for name in ["form", "record", "now"] {
            scope.push(name, ());
        }
        let ast = self.engine.compile_with_scope(&scope, source).map_err(|e| ScriptError::at(e.err_type().to_string(), e.position()))?;
        Ok(Script { ast: Arc::new(ast), reads_now: reads_now(source) })
    }

    /// Runs a migration from [`Sandbox::compile_migration`] over one record's data.
    pub fn run_migration(&self, script: &Script, form: &str, record: &Map<String, Value>, now: Timestamp) -> Result<Value, ScriptError> {
        let mut scope = Scope::new();
        scope.push_constant("form", form.to_owned());
        scope.push("record", record.iter().map(|(k, v)| (k.as_str().into(), to_dynamic(v))).collect::<rhai::Map>());
        scope.push_constant_dynamic("now", Dynamic::from(now.to_string()));
        self.eval(script, &mut scope, now)
    }

    fn eval(&self, script: &Script, scope: &mut Scope<'_>, now: Timestamp) -> Result<Value, ScriptError> {
        /// Puts back the evaluation state of this thread however the evaluation ends.
        struct Restore(Option<(Timestamp, Option<Duration>)>);
        impl Drop for Restore {
            fn drop(&mut self) {
                CURRENT.with(|c| c.set(self.0));
            }
        }
        let deadline = self.monotonic.as_ref().map(|m| m() + self.limits.deadline);
        let _restore = Restore(CURRENT.with(|c| c.replace(Some((now, deadline)))));
        // A panic in rhai or a helper must refuse one write, not take down a worker mid-transaction.
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.engine.eval_ast_with_scope::<Dynamic>(scope, &script.ast)));
        match out {
            Ok(Ok(v)) => from_dynamic(&v),
            Ok(Err(e)) => Err(self.explain(*e)),
            Err(_) => Err(ScriptError::plain("the script failed inside the engine (a bug in Trellis; it has been refused safely)")),
        }
    }

    /// Turns rhai's error into one a person can act on.
    fn explain(&self, e: EvalAltResult) -> ScriptError {
        let pos = e.position();
        let l = &self.limits;
        let message = match e.unwrap_inner() {
            EvalAltResult::ErrorTerminated(..) => format!("the script ran longer than {} ms and was stopped", l.deadline.as_millis()),
            EvalAltResult::ErrorTooManyOperations(..) => format!("the script did more than {} operations and was stopped (an endless loop?)", l.max_operations),
            EvalAltResult::ErrorStackOverflow(..) => format!("calls nest deeper than {} levels (endless recursion?)", l.max_call_levels),
            EvalAltResult::ErrorDataTooLarge(what, ..) => format!("{what} grew past the sandbox's limit (strings {} bytes, arrays {} items, maps {} entries)", l.max_string_size, l.max_array_size, l.max_map_size),
            other => other.to_string(),
        };
        ScriptError::at(message, pos)
    }
}

/// Where a value computed by [`Sandbox::run_in_order`] goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Record,
    Segments,
}

fn reads_now(source: &str) -> bool {
    source
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .any(|word| TIME_WORDS.contains(&word))
}

pub(crate) fn to_dynamic(v: &Value) -> Dynamic {
    rhai::serde::to_dynamic(v).unwrap_or(Dynamic::UNIT)
}

fn from_dynamic(v: &Dynamic) -> Result<Value, ScriptError> {
    if let Some(f) = v.clone().try_cast::<rhai::FLOAT>()
        && !f.is_finite() {
            return Err(ScriptError { message: format!("the script returned {f}, which is not a number JSON can hold"), line: None, column: None });
        }
    rhai::serde::from_dynamic::<Value>(v).map_err(|e| ScriptError { message: format!("the script's value cannot be stored: {e}"), line: None, column: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn t() -> Timestamp {
        "2026-11-23T08:00:00Z".parse().unwrap()
    }

    fn run(sb: &Sandbox, src: &str, record: Value) -> Result<Value, ScriptError> {
        let s = sb.compile(src)?;
        sb.run(&s, &Inputs { record: record.as_object().unwrap(), segments: &Map::new(), now: t() })
    }

    #[test]
    fn json_maps_naturally() {
        let sb = Sandbox::default();
        let r = json!({"n": 3, "x": 1.5, "s": "a", "none": null, "list": [1, 2]});
        assert_eq!(run(&sb, "record.n + 1", r.clone()).unwrap(), json!(4));
        assert_eq!(run(&sb, "record.x * 2.0", r.clone()).unwrap(), json!(3.0));
        assert_eq!(run(&sb, "record.missing", r.clone()).unwrap(), Value::Null);
        assert_eq!(run(&sb, "record.none == ()", r.clone()).unwrap(), json!(true));
        assert_eq!(run(&sb, "record.list.len()", r.clone()).unwrap(), json!(2));
        assert_eq!(run(&sb, "#{a: 1}", r).unwrap(), json!({"a": 1}));
    }

    #[test]
    fn compile_errors_have_positions() {
        let sb = Sandbox::default();
        let e = sb.compile("let x = 1;\nx +* 2").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.column.is_some());
        let e = sb.compile("recrd.name").unwrap_err();
        assert!(e.message.contains("recrd"), "{e}");
    }

    #[test]
    fn long_sources_are_refused_before_compiling() {
        let sb = Sandbox::default();
        let long = format!("{}1", "1 + ".repeat(20_000));
        let e = sb.compile(&long).unwrap_err();
        assert!(e.message.contains("at most 65536"), "{e}");
        assert!(sb.compile_migration(&long).is_err());
        // Just under the limit compiles (statements, not one deep expression).
        let fits = "let x = 1;\n".repeat(5_000);
        assert!(fits.len() < 65_536);
        assert!(sb.compile(&fits).is_ok());
    }

    #[test]
    fn doors_are_closed() {
        let sb = Sandbox::default();
        assert!(sb.compile("eval(\"1\")").is_err());
        assert!(sb.compile("import \"x\" as y; 1").is_err());
        for src in ["sleep(1000)", "sleep(0.5)", "timestamp()", "let f = Fn(\"sleep\"); f.call(1000)", "call(Fn(\"sleep\"), 1000)"] {
            let e = run(&sb, src, json!({})).unwrap_err();
            assert!(e.message.contains("not available in rules"), "{src}: {e}");
        }
        // print is allowed and goes nowhere.
        assert_eq!(run(&sb, "print(\"hi\"); 1", json!({})).unwrap(), json!(1));
    }

    #[test]
    fn each_limit_stops_a_runaway_script() {
        let sb = Sandbox::default();
        let e = run(&sb, "loop { }", json!({})).unwrap_err();
        assert!(e.message.contains("operations"), "{e}");
        let e = run(&sb, "fn f(n) { f(n + 1) } f(0)", json!({})).unwrap_err();
        assert!(e.message.contains("levels"), "{e}");
        let e = run(&sb, "let s = \"ab\"; loop { s += s; }", json!({})).unwrap_err();
        assert!(e.message.contains("limit"), "{e}");
        let e = run(&sb, "let a = [1]; loop { a += a; }", json!({})).unwrap_err();
        assert!(e.message.contains("limit"), "{e}");
        // rhai does not check map sizes on indexed assignment; the operation limit bounds such a map.
        let e = run(&sb, "let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; }", json!({})).unwrap_err();
        assert!(e.message.contains("operations"), "{e}");
        let deep = format!("{}1{}", "(".repeat(200), ")".repeat(200));
        assert!(sb.compile(&deep).is_err());
    }

    #[test]
    fn the_deadline_stops_a_script_on_the_callers_clock() {
        // A fake monotonic clock that advances 1 ms per reading.
        let ticks = Arc::new(AtomicU64::new(0));
        let clock = ticks.clone();
        let limits = Limits { max_operations: u64::MAX / 2, ..Limits::default() };
        let sb = Sandbox::new(limits, Some(Arc::new(move || Duration::from_millis(clock.fetch_add(1, Ordering::SeqCst)))));
        let e = run(&sb, "loop { }", json!({})).unwrap_err();
        assert!(e.message.contains("ran longer than 50 ms"), "{e}");
        assert!(ticks.load(Ordering::SeqCst) >= 50);
    }

    #[test]
    fn non_finite_numbers_are_refused() {
        let sb = Sandbox::default();
        assert!(run(&sb, "1.0 / 0.0", json!({})).is_err());
    }

    #[test]
    fn reading_the_time_is_detected() {
        let sb = Sandbox::default();
        assert!(sb.compile("days_since(record.last)").unwrap().reads_now);
        assert!(!sb.compile("record.days_since_x + 1").unwrap().reads_now);
    }
}
