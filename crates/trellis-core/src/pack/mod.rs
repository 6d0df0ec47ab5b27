//! Template packs (模板): a versioned bundle of definitions — forms,
//! workflows, triggers, messages, dashboards, calendars, roles — with
//! optional sample data and record migrations between versions.
//!
//! A pack arrives here as its files (path → bytes); reading folders and
//! archives is the caller's IO. [`read`] turns the files into definitions
//! (scripts named by `{"file": "scripts/x.rhai"}` filled in), [`check`]
//! compiles each against the others, and every problem is reported at
//! `file:line:column`, as a compiler would, so a template author can run the
//! check in their own CI. [`merge`] is the three-way merge an upgrade uses.
//!
//! ```text
//! pack.json  forms/KEY.json  workflows/KEY.json  triggers/KEY.json
//! messages/KEY.jinja  dashboards/KEY.json  calendars/KEY.json  roles.json
//! scripts/*.rhai  data/FORM.csv  data/users.csv  migrations/FROM-TO.rhai
//! ```

pub mod check;
pub mod locate;
pub mod merge;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use check::check;

/// A pack's files: path inside the pack (`/`-separated, no leading `./`) → content.
pub type Files = BTreeMap<String, Vec<u8>>;

/// The kinds of definitions a pack holds, as the engine stores them.
pub const FORM: &str = "form";
pub const WORKFLOW: &str = "workflow";
pub const TRIGGER: &str = "trigger";
pub const MESSAGE: &str = "message";
pub const DASHBOARD: &str = "dashboard";
pub const CALENDAR: &str = "calendar";
pub const ROLE: &str = "role";

/// Definition kinds in the order an install saves them: each may refer only to kinds before it.
pub const INSTALL_ORDER: &[&str] = &[CALENDAR, ROLE, FORM, MESSAGE, WORKFLOW, TRIGGER, DASHBOARD];

/// One problem with a pack, where a person finds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackIssue {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for PackIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)
    }
}

fn issue(file: &str, line: usize, column: usize, message: impl Into<String>) -> PackIssue {
    PackIssue { file: file.to_owned(), line, column, message: message.into() }
}

/// `pack.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// `[a-z][a-z0-9_-]*`, at most 64 characters: `crm-starter`.
    pub name: String,
    /// Semantic version: `1.2.0`.
    pub version: String,
    #[serde(default)]
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The Trellis versions the pack works with, as a semver requirement: `>=0.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// The language of its titles and messages: `zh-CN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_data: Option<SampleData>,
}

/// How the sample data in `data/` is loaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleData {
    /// The day the sample's dates were written for: loading shifts every date
    /// by the days from it to today, so "last week" stays last week.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
}

/// One definition, ready to save: scripts named by file are filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub kind: &'static str,
    pub key: String,
    /// The file it came from, and the pointer of the definition inside it
    /// (`/roles/staff` in `roles.json`; empty for a file of its own).
    pub file: String,
    pub within: String,
    pub value: Value,
}

/// A CSV file of sample records (`data/FORM.csv`) or demo users (`data/users.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct DataFile {
    pub form: String,
    pub file: String,
    pub text: String,
}

/// A record migration between two versions: `migrations/1.0.0-1.1.0.rhai`.
#[derive(Debug, Clone, PartialEq)]
pub struct Migration {
    pub from: semver::Version,
    pub to: semver::Version,
    pub file: String,
    pub source: String,
}

/// A pack read from its files.
#[derive(Debug, Clone)]
pub struct Pack {
    pub manifest: Manifest,
    pub version: semver::Version,
    pub definitions: Vec<Definition>,
    /// Sample records, `data/FORM.csv`, in file order.
    pub data: Vec<DataFile>,
    /// `data/users.csv`: demo users (`email,name,role,manager`).
    pub users: Option<DataFile>,
    pub migrations: Vec<Migration>,
    /// Texts of the files definitions came from, and which parts of them were
    /// filled in from script files, for placing problems.
    sources: Sources,
}

#[derive(Debug, Clone, Default)]
struct Sources {
    texts: BTreeMap<String, String>,
    /// (definition index, pointer in the definition, script file).
    scripts: Vec<(usize, String, String)>,
}

impl Pack {
    pub fn definition(&self, kind: &str, key: &str) -> Option<&Definition> {
        self.definitions.iter().find(|d| d.kind == kind && d.key == key)
    }

    /// The migrations to run when upgrading from version `from`, oldest first:
    /// those that end after it and at or before this version (a site on 1.0.1
    /// still runs `1.0.0-1.1.0`).
    pub fn migrations_from(&self, from: &semver::Version) -> Vec<&Migration> {
        let mut path: Vec<&Migration> = self.migrations.iter().filter(|m| m.to > *from && m.to <= self.version).collect();
        path.sort_by(|a, b| a.from.cmp(&b.from));
        path
    }

    /// Places a problem found in definition `index` at `pointer` (with a line and
    /// column inside a script or template, when it has them).
    pub fn place(&self, index: usize, pointer: &str, line: Option<usize>, column: Option<usize>, message: impl Into<String>) -> PackIssue {
        let d = &self.definitions[index];
        for (i, at, file) in &self.sources.scripts {
            if *i == index && (pointer == at || pointer.starts_with(&format!("{at}/"))) {
                return issue(file, line.unwrap_or(1), column.unwrap_or(1), message);
            }
        }
        let text = self.sources.texts.get(&d.file).map(String::as_str).unwrap_or("");
        if d.file.ends_with(".jinja") {
            return issue(&d.file, line.unwrap_or(1), column.unwrap_or(1), message);
        }
        let at = locate::offset(text, &format!("{}{pointer}", d.within));
        let (l, c) = match line {
            Some(n) => locate::in_string(text, at, n, column.unwrap_or(1)),
            None => locate::position(text, at),
        };
        issue(&d.file, l, c, message)
    }
}

/// Which kind a file under a folder holds, and the extension it must have.
const FOLDERS: &[(&str, &str, &str)] = &[
    ("forms/", FORM, ".json"),
    ("workflows/", WORKFLOW, ".json"),
    ("triggers/", TRIGGER, ".json"),
    ("messages/", MESSAGE, ".jinja"),
    ("dashboards/", DASHBOARD, ".json"),
    ("calendars/", CALENDAR, ".json"),
];

/// Files a pack may carry that the engine does not read.
fn is_documentation(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.ends_with(".md") || name.starts_with("LICENSE") || name.starts_with('.') || path.starts_with("docs/")
}

/// A valid pack name: `crm-starter`.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 64 && chars.next().is_some_and(|c| c.is_ascii_lowercase()) && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn text_of<'f>(path: &str, bytes: &'f [u8], issues: &mut Vec<PackIssue>) -> Option<&'f str> {
    match std::str::from_utf8(bytes) {
        Ok(t) => Some(t.strip_prefix('\u{feff}').unwrap_or(t)),
        Err(e) => {
            issues.push(issue(path, 1, 1, format!("the file is not UTF-8 text ({e})")));
            None
        }
    }
}

fn json_of(path: &str, text: &str, issues: &mut Vec<PackIssue>) -> Option<Value> {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => Some(v),
        Err(e) => {
            issues.push(issue(path, e.line().max(1), e.column().max(1), format!("not valid JSON: {e}")));
            None
        }
    }
}

/// Reads a pack's files into definitions. Problems of form (bad JSON, a
/// script file that is missing, a file the format does not know) are all
/// reported; the definitions are checked against each other by [`check`].
pub fn read(files: &Files) -> Result<Pack, Vec<PackIssue>> {
    let mut issues = Vec::new();
    let mut sources = Sources::default();
    let mut definitions = Vec::new();
    let mut data = Vec::new();
    let mut users = None;
    let mut migrations = Vec::new();

    let manifest = match files.get("pack.json") {
        None => {
            issues.push(issue("pack.json", 1, 1, "a pack needs a pack.json: {\"name\": …, \"version\": \"1.0.0\", \"title\": …}"));
            None
        }
        Some(bytes) => text_of("pack.json", bytes, &mut issues).and_then(|t| json_of("pack.json", t, &mut issues).map(|v| (t.to_owned(), v))).and_then(|(text, v)| {
            match serde_json::from_value::<Manifest>(v) {
                Ok(m) => Some((text, m)),
                Err(e) => {
                    issues.push(issue("pack.json", 1, 1, e.to_string()));
                    None
                }
            }
        }),
    };
    let mut version = None;
    if let Some((text, m)) = &manifest {
        if !is_valid_name(&m.name) {
            let (l, c) = locate::locate(text, "/name");
            issues.push(issue("pack.json", l, c, format!("pack name '{}' is lowercase letters, digits, '-' and '_', starting with a letter", m.name)));
        }
        match semver::Version::parse(&m.version) {
            Ok(v) => version = Some(v),
            Err(e) => {
                let (l, c) = locate::locate(text, "/version");
                issues.push(issue("pack.json", l, c, format!("version '{}' is not a semantic version like 1.2.0: {e}", m.version)));
            }
        }
        if let Some(req) = &m.engine {
            let (l, c) = locate::locate(text, "/engine");
            match semver::VersionReq::parse(req) {
                Ok(r) => {
                    let engine = semver::Version::parse(env!("CARGO_PKG_VERSION")).unwrap_or(semver::Version::new(0, 0, 0));
                    if !r.matches(&engine) {
                        issues.push(issue("pack.json", l, c, format!("the pack needs Trellis {req}; this is {engine}")));
                    }
                }
                Err(e) => issues.push(issue("pack.json", l, c, format!("engine '{req}' is not a version requirement like >=0.1: {e}"))),
            }
        }
        if let Some(day) = m.sample_data.as_ref().and_then(|s| s.as_of.as_deref())
            && day.parse::<jiff::civil::Date>().is_err()
        {
            let (l, c) = locate::locate(text, "/sample_data/as_of");
            issues.push(issue("pack.json", l, c, format!("as_of '{day}' is not a date: write 2026-11-30")));
        }
    }

    for (path, bytes) in files {
        if path == "pack.json" || path.starts_with("scripts/") || is_documentation(path) {
            continue;
        }
        if let Some((folder, kind, ext)) = FOLDERS.iter().find(|(f, _, _)| path.starts_with(f)) {
            let name = &path[folder.len()..];
            let Some(key) = name.strip_suffix(ext).filter(|k| !k.contains('/')) else {
                issues.push(issue(path, 1, 1, format!("files in {folder} are KEY{ext}")));
                continue;
            };
            let Some(text) = text_of(path, bytes, &mut issues) else { continue };
            sources.texts.insert(path.clone(), text.to_owned());
            if *kind == MESSAGE {
                definitions.push(Definition { kind, key: key.to_owned(), file: path.clone(), within: String::new(), value: serde_json::json!({"key": key, "template": text}) });
                continue;
            }
            let Some(mut value) = json_of(path, text, &mut issues) else { continue };
            let Some(obj) = value.as_object_mut() else {
                issues.push(issue(path, 1, 1, format!("a {kind} definition is a JSON object")));
                continue;
            };
            match obj.entry("key").or_insert_with(|| Value::String(key.to_owned())) {
                Value::String(k) if k == key => {}
                other => {
                    let (l, c) = locate::locate(text, "/key");
                    issues.push(issue(path, l, c, format!("the key {other} differs from the file name '{key}'")));
                    continue;
                }
            }
            let index = definitions.len();
            fill_scripts(&mut value, "", files, path, text, index, &mut sources, &mut issues);
            definitions.push(Definition { kind, key: key.to_owned(), file: path.clone(), within: String::new(), value });
        } else if path == "roles.json" {
            let Some(text) = text_of(path, bytes, &mut issues) else { continue };
            sources.texts.insert(path.clone(), text.to_owned());
            let Some(value) = json_of(path, text, &mut issues) else { continue };
            let roles = value.get("roles").and_then(Value::as_object).filter(|_| value.as_object().is_some_and(|o| o.len() == 1));
            let Some(roles) = roles else {
                issues.push(issue(path, 1, 1, "roles.json is {\"roles\": {\"staff\": {\"title\": …, \"description\": …}, …}}"));
                continue;
            };
            for (key, role) in roles {
                let mut role = role.clone();
                if let Some(o) = role.as_object_mut() {
                    o.insert("key".into(), Value::String(key.clone()));
                }
                definitions.push(Definition { kind: ROLE, key: key.clone(), file: path.clone(), within: format!("/roles/{}", crate::issue::escape_token(key)), value: role });
            }
        } else if let Some(name) = path.strip_prefix("data/") {
            let Some(form) = name.strip_suffix(".csv").filter(|f| !f.contains('/')) else {
                issues.push(issue(path, 1, 1, "files in data/ are FORM.csv (sample records) or users.csv (demo users)"));
                continue;
            };
            let Some(text) = text_of(path, bytes, &mut issues) else { continue };
            let file = DataFile { form: form.to_owned(), file: path.clone(), text: text.to_owned() };
            if form == "users" { users = Some(file) } else { data.push(file) }
        } else if let Some(name) = path.strip_prefix("migrations/") {
            let Some(text) = text_of(path, bytes, &mut issues) else { continue };
            let versions = name.strip_suffix(".rhai").and_then(split_versions);
            match versions {
                Some((from, to)) if from < to => migrations.push(Migration { from, to, file: path.clone(), source: text.to_owned() }),
                Some(_) => issues.push(issue(path, 1, 1, "a migration leads from an older version to a newer one: FROM-TO.rhai")),
                None => issues.push(issue(path, 1, 1, "migrations are named FROM-TO.rhai with two semantic versions: 1.0.0-1.1.0.rhai")),
            }
        } else {
            issues.push(issue(path, 1, 1, "a pack does not hold this file: see docs/packs.md for the folders it reads"));
        }
    }
    match (manifest, version) {
        (Some((_, manifest)), Some(version)) if issues.is_empty() => Ok(Pack { manifest, version, definitions, data, users, migrations, sources }),
        _ => Err(issues),
    }
}

/// `1.0.0-1.1.0` → (1.0.0, 1.1.0). Versions with a pre-release part hold `-` too, so try each split.
fn split_versions(name: &str) -> Option<(semver::Version, semver::Version)> {
    name.match_indices('-').find_map(|(i, _)| Some((semver::Version::parse(&name[..i]).ok()?, semver::Version::parse(&name[i + 1..]).ok()?)))
}

/// Replaces every `{"file": "scripts/….rhai"}` inside a definition by the script's text.
#[allow(clippy::too_many_arguments)]
fn fill_scripts(v: &mut Value, pointer: &str, files: &Files, path: &str, text: &str, index: usize, sources: &mut Sources, issues: &mut Vec<PackIssue>) {
    match v {
        Value::Object(o) => {
            if let Some(file) = script_ref(o) {
                let file = file.to_owned();
                match files.get(&file).map(|b| std::str::from_utf8(b)) {
                    Some(Ok(script)) => {
                        sources.scripts.push((index, pointer.to_owned(), file));
                        *v = Value::String(script.to_owned());
                    }
                    Some(Err(_)) => issues.push(issue(&file, 1, 1, "the script is not UTF-8 text")),
                    None => {
                        let (l, c) = locate::locate(text, &format!("{pointer}/file"));
                        issues.push(issue(path, l, c, format!("there is no file '{file}' in the pack")));
                    }
                }
                return;
            }
            for (k, child) in o.iter_mut() {
                fill_scripts(child, &format!("{pointer}/{}", crate::issue::escape_token(k)), files, path, text, index, sources, issues);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter_mut().enumerate() {
                fill_scripts(child, &format!("{pointer}/{i}"), files, path, text, index, sources, issues);
            }
        }
        _ => {}
    }
}

/// `{"file": "scripts/x.rhai"}`, exactly.
fn script_ref(o: &Map<String, Value>) -> Option<&str> {
    if o.len() != 1 {
        return None;
    }
    o.get("file").and_then(Value::as_str).filter(|f| f.ends_with(".rhai"))
}

/// A pack's files for a set of definitions in force, the reverse of [`read`]:
/// one file per definition (scripts stay inline), roles in `roles.json`.
pub fn write(manifest: &Manifest, definitions: &[(String, String, Value)]) -> Files {
    let pretty = |v: &Value| {
        let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
        s.push('\n');
        s.into_bytes()
    };
    let mut files = Files::new();
    files.insert("pack.json".into(), pretty(&serde_json::to_value(manifest).unwrap_or_default()));
    let mut roles = Map::new();
    for (kind, key, value) in definitions {
        match kind.as_str() {
            MESSAGE => {
                let template = value.get("template").and_then(Value::as_str).unwrap_or_default();
                files.insert(format!("messages/{key}.jinja"), template.as_bytes().to_vec());
            }
            ROLE => {
                let mut v = value.clone();
                if let Some(o) = v.as_object_mut() {
                    o.remove("key");
                }
                roles.insert(key.clone(), v);
            }
            kind => {
                if let Some((folder, _, _)) = FOLDERS.iter().find(|(_, k, _)| *k == kind) {
                    files.insert(format!("{folder}{key}.json"), pretty(value));
                }
            }
        }
    }
    if !roles.is_empty() {
        files.insert("roles.json".into(), pretty(&serde_json::json!({ "roles": roles })));
    }
    files
}

#[cfg(test)]
mod tests;
