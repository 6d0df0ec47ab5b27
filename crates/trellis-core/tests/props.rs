//! Property tests: whatever a user sends — a filter, a definition, a pack, a
//! spreadsheet, a template, a script — the core answers with a value or an
//! error, never a panic. Inputs are partly arbitrary, partly built from the
//! shapes the readers expect (and from the crm-starter pack, mutated), so that
//! they get past the first check.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use trellis_core::action::{Catalog, WorkflowRef};
use trellis_core::dashboard::{self, DashboardCatalog, DashboardDef};
use trellis_core::form::{self, CompiledForm, FormDef};
use trellis_core::query::{self, ListParams};
use trellis_core::trigger::{self, TriggerDef};
use trellis_core::workflow::{self, WorkflowDef};
use trellis_core::{message, pack, script, sheet};

/// 256 cases a property, or `PROPTEST_CASES` for a longer hunt.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256);
    ProptestConfig { cases, ..ProptestConfig::default() }
}

/// Words the readers look for, so that generated objects reach past "unknown key".
const WORDS: &[&str] = &[
    "key", "title", "schema", "type", "object", "string", "integer", "number", "boolean", "array", "properties", "items", "format", "date", "date-time",
    "user", "money", "phone", "x-link", "required", "enum", "segments", "kind", "label", "labels", "score", "flag", "script", "computed", "rollups",
    "from", "via", "op", "field", "unique", "indexes", "permissions", "staff", "manager", "read", "write", "hidden", "form", "states", "initial",
    "transitions", "to", "roles", "guard", "when", "actions", "set", "notify", "message", "after", "event", "created", "updated", "date", "cron",
    "widgets", "filter", "group_by", "measure", "count", "name", "tags", "n", "_and", "_or", "_eq", "_neq", "_lt", "_gt", "_in", "_nin",
    "_contains", "_null", "_between", "segments.lab", "meta.rev", "meta.id", "meta.created_at", "0", "",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![4 => proptest::sample::select(WORDS).prop_map(str::to_owned), 1 => any::<String>(), 1 => "[a-z_.]{0,12}"]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1000i64..1000).prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        word().prop_map(Value::String),
        "[-0-9:T.Z+]{0,25}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((word(), inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn the_form() -> Arc<CompiledForm> {
    let def: FormDef = serde_json::from_value(json!({"key": "customer", "title_field": "name", "schema": {"type": "object", "properties": {
        "name": {"type": "string"}, "n": {"type": "integer"}, "ok": {"type": "boolean"}, "when": {"type": "string", "format": "date"},
        "owner": {"type": "string", "format": "user"}, "tags": {"type": "array", "items": {"type": "string"}}, "addr": {"type": "object"}, "any": {}}},
        "segments": {"lab": {"kind": "labels", "script": "[]"}, "tier": {"kind": "label", "script": "\"A\""}}}))
    .unwrap();
    Arc::new(form::compile(def, 1).unwrap())
}

fn forms() -> HashMap<String, Arc<CompiledForm>> {
    HashMap::from([("customer".to_owned(), the_form())])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn filters_sorts_and_cursors_never_panic(filter in json_value(), raw in any::<String>(), sort in "[-+a-z_., ]{0,30}", cursor in "[A-Za-z0-9_-]{0,40}", limit in proptest::option::of(any::<u32>())) {
        let f = the_form();
        let _ = query::parse_filter(&f, &filter);
        let text = filter.to_string();
        for fil in [text.as_str(), raw.as_str()] {
            let _ = query::parse_list(&f, &ListParams { filter: Some(fil), sort: Some(&sort), cursor: Some(&cursor), limit, deleted: false });
        }
    }

    #[test]
    fn form_definitions_never_panic(v in json_value(), schema in json_value(), segments in json_value(), computed in json_value()) {
        if let Ok(def) = serde_json::from_value::<FormDef>(v) {
            let _ = form::compile(def, 1);
        }
        let shaped = json!({"key": "thing", "schema": {"type": "object", "properties": {"a": schema}}, "segments": segments, "computed": computed});
        if let Ok(def) = serde_json::from_value::<FormDef>(shaped)
            && let Ok(c) = form::compile(def, 1)
        {
            let _ = form::check_references(&c, &|_| None);
        }
    }

    #[test]
    fn workflow_trigger_and_dashboard_definitions_never_panic(v in json_value(), states in json_value(), when in json_value(), actions in json_value(), widgets in json_value()) {
        let forms = forms();
        let messages = BTreeSet::from(["welcome".to_owned()]);
        let workflows = BTreeMap::from([("flow".to_owned(), WorkflowRef { form: "customer".into(), transitions: BTreeSet::from(["go".to_owned()]) })]);
        let calendars = BTreeSet::from(["cn".to_owned()]);
        let roles = ["admin", "manager", "staff"];
        let catalog = || Catalog { forms: &forms, messages: &messages, workflows: &workflows, roles: &roles, calendars: &calendars };
        let wf = [v.clone(), json!({"key": "flow", "form": "customer", "initial": "new", "states": states, "transitions": actions})];
        for w in wf {
            if let Ok(def) = serde_json::from_value::<WorkflowDef>(w) {
                let _ = workflow::compile(def.clone(), 1, None);
                let _ = workflow::compile(def, 1, Some(catalog()));
            }
        }
        for t in [v.clone(), json!({"key": "t", "form": "customer", "when": when, "actions": actions})] {
            if let Ok(def) = serde_json::from_value::<TriggerDef>(t) {
                let _ = trigger::compile(def.clone(), 1, None, &|_| true);
                let _ = trigger::compile(def, 1, Some(catalog()), &|z| z == "Asia/Shanghai");
            }
        }
        let dcat = DashboardCatalog { forms: &forms, workflows: &workflows };
        for d in [v, json!({"key": "d", "title": "D", "widgets": widgets})] {
            if let Ok(def) = serde_json::from_value::<DashboardDef>(d) {
                let _ = dashboard::check(&def, &dcat);
            }
        }
    }

    #[test]
    fn arbitrary_pack_files_never_panic(files in proptest::collection::btree_map(pack_path(), proptest::collection::vec(any::<u8>(), 0..200), 0..6)) {
        if let Ok(p) = pack::read(&files) {
            let _ = pack::check(&p, &|_| true);
        }
    }

    #[test]
    fn mutated_crm_starter_packs_never_panic(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), mutation()), 1..4)) {
        let mut files = crm_starter();
        let paths: Vec<String> = files.keys().cloned().collect();
        for (file, at, m) in edits {
            let bytes = files.get_mut(&paths[file.index(paths.len())]).unwrap();
            let at = at.index(bytes.len() + 1);
            m.apply(bytes, at);
        }
        if let Ok(p) = pack::read(&files) {
            let _ = pack::check(&p, &|z| z == "Asia/Shanghai");
        }
    }

    #[test]
    fn arbitrary_bytes_as_a_spreadsheet_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), prefix in proptest::sample::select(PREFIXES)) {
        let mut all = prefix.to_vec();
        all.extend(bytes);
        let _ = sheet::read(&all);
        // The streaming reader, with small limits so every bound is crossed.
        let tight = sheet::Limits { columns: 4, cell_chars: 8, header_chars: 8, row_bytes: 64, rows: 5, ..sheet::Limits::DEFAULT };
        let _ = sheet::scan(&all, &tight, &mut |_| std::ops::ControlFlow::Continue(()));
    }

    #[test]
    fn csv_like_text_never_panics(text in "[a-z,;\"\\t\\r\\n张 0-9]{0,300}") {
        let _ = sheet::read(text.as_bytes());
    }

    #[test]
    fn templates_never_panic_when_checked(src in prop_oneof![any::<String>(), "(subject:|[{}%#]|\\{\\{|\\{%|%\\}|\\}\\}|[a-z |.()\\[\\]\"'=+-]|\\n|endfor|endif|for |if |set |in |range|namespace|macro|call|filter|raw|endraw|include|extends|block){0,40}"]) {
        let _ = message::check(&src);
        let _ = message::Message::parse(&src);
    }

    #[test]
    fn scripts_never_panic_when_compiled(src in prop_oneof![any::<String>(), "(record\\.|segments\\.|now|fn |let |if |else|while|loop|for | in |\\{|\\}|\\(|\\)|\\[|\\]|[0-9a-z_\"'`;:,.+*/%=<>!&|^-]|\\n| ){0,60}"]) {
        let _ = script::sandbox().compile(&src);
        let _ = script::sandbox().compile_migration(&src);
    }
}

/// Starts of files the sheet reader tells apart: a zip (XLSX), UTF-8 and UTF-16 byte order marks.
const PREFIXES: &[&[u8]] = &[b"", b"PK\x03\x04", b"\xEF\xBB\xBF", b"\xFF\xFE", b"\xFE\xFF"];

fn pack_path() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(&[
            "pack.json", "roles.json", "forms/a.json", "workflows/w.json", "triggers/t.json", "messages/m.jinja", "dashboards/d.json", "calendars/c.json",
            "scripts/x.rhai", "data/a.csv", "data/users.csv", "migrations/1.rhai", "README.md", "forms/", "/etc/passwd", "../x", "forms/../../x.json",
        ][..])
        .prop_map(str::to_owned),
        "[a-z./]{0,20}",
    ]
}

/// One change to a file's bytes.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate,
    Insert(Vec<u8>),
    Delete(usize),
    Replace(Vec<u8>),
}

impl Mutation {
    fn apply(self, bytes: &mut Vec<u8>, at: usize) {
        match self {
            Mutation::Truncate => bytes.truncate(at),
            Mutation::Insert(b) => {
                bytes.splice(at..at, b);
            }
            Mutation::Delete(n) => {
                let end = (at + n).min(bytes.len());
                bytes.drain(at..end);
            }
            Mutation::Replace(b) => *bytes = b,
        }
    }
}

const SNIPPETS: &[&[u8]] = &[b"\"", b"{", b"}", b"[", b"]", b",", b":", b"null", b"0", b"-1", b"1e999", b"\"x\"", b"{}", b"[]", b"\\", b"\xff", b"\n", b"{{", b"}}", b"{%"];

fn mutation() -> impl Strategy<Value = Mutation> {
    let snippet = prop_oneof![
        proptest::sample::select(SNIPPETS).prop_map(<[u8]>::to_vec),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    prop_oneof![
        1 => Just(Mutation::Truncate),
        4 => snippet.clone().prop_map(Mutation::Insert),
        2 => (1usize..20).prop_map(Mutation::Delete),
        1 => json_value().prop_map(|v| Mutation::Replace(v.to_string().into_bytes())),
    ]
}

/// A few files of the bundled crm-starter pack, as the pack reader sees them.
fn crm_starter() -> pack::Files {
    macro_rules! file {
        ($p:literal) => {
            ($p.to_owned(), include_bytes!(concat!("../../../templates/crm-starter/", $p)).to_vec())
        };
    }
    BTreeMap::from([
        file!("pack.json"),
        file!("roles.json"),
        file!("forms/customer.json"),
        file!("forms/order.json"),
        file!("forms/follow_up.json"),
        file!("forms/contact.json"),
        file!("forms/opportunity.json"),
        file!("forms/complaint.json"),
        file!("forms/revisit.json"),
        file!("workflows/complaint.json"),
        file!("workflows/pipeline.json"),
        file!("triggers/birthday.json"),
        file!("triggers/weekly_churn.json"),
        file!("messages/welcome.jinja"),
        file!("messages/birthday.jinja"),
        file!("messages/churn_digest.jinja"),
        file!("dashboards/overview.json"),
        file!("scripts/tier.rhai"),
        file!("scripts/rfm.rhai"),
        file!("scripts/health.rhai"),
        file!("scripts/needs.rhai"),
        file!("data/users.csv"),
    ])
}
