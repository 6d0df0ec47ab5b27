//! One filter meaning on both backends: random forms (every field kind,
//! arrays, segments of every kind, an untyped field, a computed field of
//! several types), random records, and random well- and ill-typed filters and
//! sorts, run against one SQLite and one PostgreSQL server. Their answers —
//! records in order, page by page, counts, and refusals — must be identical.
//!
//! `TRELLIS_DIFF_SEED=N` replays one seed; `TRELLIS_DIFF_CASES=N` runs more cases.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::both;
use crate::harness::{Backend, Server};

both!(range_and_set_operators_on_arrays_are_400_with_a_pointer);

/// The issue's reproduction: on SQLite `{"tags":{"_lt":"t1"}}` counted 40 and
/// on PostgreSQL 0; `{"segments.lab":{"_gt":"z"}}` 0 and 40. Arrays take only
/// `_contains`, `_null` and `_nnull`; anything else is refused on both.
async fn range_and_set_operators_on_arrays_are_400_with_a_pointer(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.post("/api/v1/forms", json!({"key": "thing", "schema": {"type": "object", "properties": {
        "name": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}, "any": {}}},
        "segments": {"lab": {"kind": "labels", "script": "[\"a\", \"b\"]"}}}))
        .await
        .expect(201);
    let items: Vec<Value> = (0..40).map(|i| json!({"name": format!("n{i}"), "tags": ["t0", format!("t{}", i % 3)], "any": if i % 2 == 0 { json!(i) } else { json!(true) }})).collect();
    s.post("/api/v1/forms/thing/records", Value::Array(items)).await.expect(201);
    for (filter, pointer) in [
        (json!({"tags": {"_lt": "t1"}}), "/tags/_lt"),
        (json!({"segments.lab": {"_gt": "z"}}), "/segments.lab/_gt"),
        (json!({"tags": {"_in": ["t1"]}}), "/tags/_in"),
        (json!({"_or": [{"name": {"_eq": "n1"}}, {"segments.lab": {"_nin": ["a"]}}]}), "/_or/1/segments.lab/_nin"),
        (json!({"tags": {"_contains": 1}}), "/tags/_contains"),
    ] {
        for path in ["/api/v1/forms/thing/records", "/api/v1/forms/thing/records/count", "/api/v1/forms/thing/export"] {
            let url = format!("{path}?filter={}", urlencode(&filter.to_string()));
            let res = s.get(&url).await.expect(400);
            assert_eq!(res.body["type"], "https://trellis.dev/problems/invalid-parameter", "{filter}");
            assert_eq!(res.body["param"], "filter");
            assert_eq!(res.pointers(), [pointer], "{path} {filter}: {}", res.body);
        }
    }
    let count = |f: Value| {
        let url = format!("/api/v1/forms/thing/records/count?filter={}", urlencode(&f.to_string()));
        let s = &s;
        async move { s.get(&url).await.expect(200).body["count"].as_i64().unwrap() }
    };
    assert_eq!(count(json!({"tags": {"_contains": "t1"}})).await, 13);
    assert_eq!(count(json!({"segments.lab": {"_contains": "b"}})).await, 40);
    assert_eq!(count(json!({"tags": {"_nnull": true}})).await, 40);
    // An untyped field compares like with like: numbers with numbers, never `true` with 1.
    assert_eq!(count(json!({"any": {"_eq": 1}})).await, 0);
    assert_eq!(count(json!({"any": {"_eq": true}})).await, 20);
    assert_eq!(count(json!({"any": {"_gte": 30}})).await, 5);
    assert_eq!(count(json!({"any": {"_lt": "z"}})).await, 0);
    assert_eq!(count(json!({"any": {"_neq": 0}})).await, 39);
    assert_eq!(count(json!({"any": {"_in": [0, 2, true]}})).await, 22);
    s.stop().await;
}

const RECORDS: usize = 36;
const USERS: usize = 3;
const COMPANIES: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Int,
    Num,
    Bool,
    Date,
    DateTime,
    Money,
    Phone,
    User,
    Link,
    Tags,
    Obj,
    Untyped,
}

const KINDS: [Kind; 13] =
    [Kind::Str, Kind::Int, Kind::Num, Kind::Bool, Kind::Date, Kind::DateTime, Kind::Money, Kind::Phone, Kind::User, Kind::Link, Kind::Tags, Kind::Obj, Kind::Untyped];

impl Kind {
    fn schema(self) -> Value {
        match self {
            Kind::Str => json!({"type": "string"}),
            Kind::Int => json!({"type": "integer"}),
            Kind::Num => json!({"type": "number"}),
            Kind::Bool => json!({"type": "boolean"}),
            Kind::Date => json!({"type": "string", "format": "date"}),
            Kind::DateTime => json!({"type": "string", "format": "date-time"}),
            Kind::Money => json!({"type": "number", "format": "money"}),
            Kind::Phone => json!({"type": "string", "format": "phone"}),
            Kind::User => json!({"type": "string", "format": "user"}),
            Kind::Link => json!({"type": "string", "x-link": "company"}),
            Kind::Tags => json!({"type": "array", "items": {"type": "string"}}),
            Kind::Obj => json!({"type": "object", "properties": {"city": {"type": "string"}}}),
            Kind::Untyped => json!({}),
        }
    }

    /// Values a record may hold, and a filter may name. Users and links are
    /// placeholders (`@user:N`, `@link:N`), made into each server's own ids.
    fn pool(self) -> Vec<Value> {
        match self {
            Kind::Str => vec![json!(""), json!("a"), json!("A"), json!("ab"), json!("b"), json!("Zed"), json!("é"), json!("张三"), json!("a b"), json!("10"), json!("9")],
            Kind::Int => (-3..=3).chain([10, 100]).map(Value::from).collect(),
            Kind::Num => vec![json!(-1.5), json!(0), json!(0.5), json!(1), json!(2.25), json!(10), json!(100.125)],
            Kind::Bool => vec![json!(true), json!(false)],
            Kind::Date => vec![json!("2025-12-31"), json!("2026-01-01"), json!("2026-01-15"), json!("2026-02-01")],
            Kind::DateTime => vec![json!("2026-01-01T00:00:00Z"), json!("2026-01-01T08:00:00+08:00"), json!("2026-01-01T12:30:00Z"), json!("2025-06-01T00:00:00-05:00")],
            Kind::Money => vec![json!(0), json!(9.99), json!(100), json!(1234.5)],
            Kind::Phone => vec![json!("13800000001"), json!("13900000002"), json!("+8613800000003")],
            Kind::User => (0..USERS).map(|i| json!(format!("@user:{i}"))).collect(),
            Kind::Link => (0..COMPANIES).map(|i| json!(format!("@link:{i}"))).collect(),
            Kind::Tags => vec![json!("t1"), json!("t2"), json!("vip"), json!("T1"), json!("")],
            Kind::Obj => vec![json!({"city": "上海"}), json!({"city": "x"}), json!({})],
            Kind::Untyped => vec![json!("a"), json!("ab"), json!(1), json!(2.5), json!(0), json!(true), json!(false), json!(["a"]), json!({"x": 1}), json!("1")],
        }
    }

    /// A value as stored in a record: users by email, tags as arrays.
    fn record_value(self, rng: &mut fastrand::Rng) -> Value {
        match self {
            Kind::User => json!(format!("u{}@example.com", rng.usize(..USERS))),
            Kind::Tags => {
                let pool = self.pool();
                Value::Array((0..rng.usize(0..=3)).map(|_| pool[rng.usize(..pool.len())].clone()).collect())
            }
            _ => {
                let pool = self.pool();
                pool[rng.usize(..pool.len())].clone()
            }
        }
    }

    /// Whether both servers can be expected to order it alike: ids differ
    /// between servers, and a field of several JSON types orders them differently.
    fn sortable(self) -> bool {
        !matches!(self, Kind::User | Kind::Link | Kind::Untyped)
    }
}

/// A target a filter or sort can name, with the values worth naming.
#[derive(Debug, Clone)]
struct Target {
    name: String,
    pool: Vec<Value>,
    sortable: bool,
    /// Sorting is allowed but may legitimately differ: ids (each server has
    /// its own) and values of several JSON types (docs/api.md, "Sorting").
    unstable_sort: bool,
}

struct World {
    form: Value,
    records: Vec<Value>,
    targets: Vec<Target>,
}

const SEGMENTS: [(&str, &str, &str); 4] = [
    ("lab", "label", r#"if record.seq % 3 == 0 { "gold" } else if record.seq % 3 == 1 { "silver" } else { () }"#),
    ("sc", "score", "(record.seq * 7) % 10 - 3"),
    ("hot", "flag", "record.seq % 2 == 0"),
    ("tagsx", "labels", r#"if record.seq % 4 == 0 { ["a", "b"] } else if record.seq % 4 == 1 { ["b"] } else if record.seq % 4 == 2 { [] } else { () }"#),
];

fn world(rng: &mut fastrand::Rng) -> World {
    let mut props = serde_json::Map::new();
    props.insert("seq".into(), json!({"type": "integer"}));
    props.insert("name".into(), json!({"type": "string"}));
    let mut fields: Vec<(String, Kind)> = vec![("name".into(), Kind::Str)];
    for (i, k) in KINDS.iter().enumerate() {
        if rng.u8(..10) < 7 {
            let key = format!("f{i}");
            props.insert(key.clone(), k.schema());
            fields.push((key, *k));
        }
    }
    let mut form = json!({"key": "thing", "schema": {"type": "object", "required": ["seq"], "properties": props}});
    let indexed: Vec<&str> = fields.iter().filter(|(_, k)| k.sortable() && !matches!(k, Kind::Obj | Kind::Tags) && rng.bool()).map(|(key, _)| key.as_str()).collect();
    form["indexes"] = json!(indexed);
    let mut targets: Vec<Target> = fields.iter().map(|(key, k)| Target { name: key.clone(), pool: k.pool(), sortable: k.sortable() && !matches!(k, Kind::Obj | Kind::Tags), unstable_sort: !k.sortable() && !matches!(k, Kind::Obj | Kind::Tags) }).collect();
    targets.push(Target { name: "seq".into(), pool: (0..RECORDS as i64 + 2).map(Value::from).collect(), sortable: true, unstable_sort: false });
    let mut segments = serde_json::Map::new();
    for (key, kind, script) in SEGMENTS {
        if rng.u8(..10) < 7 {
            segments.insert(key.into(), json!({"kind": kind, "script": script}));
            let pool = match kind {
                "label" => vec![json!("gold"), json!("silver"), json!("bronze")],
                "score" => (-4..=7).map(Value::from).collect(),
                "flag" => vec![json!(true), json!(false)],
                _ => vec![json!("a"), json!("b"), json!("c")],
            };
            targets.push(Target { name: format!("segments.{key}"), pool, sortable: kind != "labels", unstable_sort: false });
        }
    }
    form["segments"] = Value::Object(segments);
    if rng.bool() {
        // A computed field of several types: an integer, text or a boolean by record.
        form["computed"] = json!({"mixed": r#"if record.seq % 3 == 0 { record.seq } else if record.seq % 3 == 1 { "t" + record.seq } else { record.seq % 2 == 0 }"#});
        targets.push(Target { name: "mixed".into(), pool: vec![json!(0), json!(3), json!(30), json!("t1"), json!("t4"), json!("t"), json!(true), json!(false)], sortable: false, unstable_sort: true });
    }
    targets.push(Target { name: "meta.rev".into(), pool: vec![json!(1), json!(2), json!(3)], sortable: true, unstable_sort: false });
    targets.push(Target { name: "meta.created_at".into(), pool: vec![json!("2000-01-01"), json!("2999-01-01T00:00:00Z")], sortable: true, unstable_sort: false });

    let records = (0..RECORDS)
        .map(|seq| {
            let mut r = serde_json::Map::new();
            r.insert("seq".into(), json!(seq));
            for (key, k) in &fields {
                if rng.u8(..4) < 3 {
                    r.insert(key.clone(), k.record_value(rng));
                }
            }
            Value::Object(r)
        })
        .collect();
    World { form, records, targets }
}

const OPS: [&str; 12] = ["_eq", "_neq", "_lt", "_lte", "_gt", "_gte", "_in", "_nin", "_contains", "_null", "_nnull", "_between"];

fn pick<'a, T>(rng: &mut fastrand::Rng, xs: &'a [T]) -> &'a T {
    &xs[rng.usize(..xs.len())]
}

/// A value for `t`: mostly from its own pool, sometimes from any pool (often ill-typed).
fn value(rng: &mut fastrand::Rng, t: &Target, all: &[Target]) -> Value {
    match rng.u8(..10) {
        0 => {
            let other = pick(rng, all);
            pick(rng, &other.pool).clone()
        }
        1 => pick(rng, &[json!(null), json!([1]), json!({"a": 1}), json!(1.5), json!("zz"), json!(true)]).clone(),
        _ => pick(rng, &t.pool).clone(),
    }
}

fn condition(rng: &mut fastrand::Rng, targets: &[Target]) -> Value {
    let t = pick(rng, targets);
    let name = match rng.u8(..40) {
        0 => "nope".to_owned(),
        1 => "segments.nope".to_owned(),
        _ => t.name.clone(),
    };
    let mut ops = serde_json::Map::new();
    for _ in 0..if rng.u8(..4) == 0 { 2 } else { 1 } {
        let op = if rng.u8(..50) == 0 { "_like" } else { *pick(rng, &OPS) };
        let v = match op {
            "_in" | "_nin" => Value::Array((0..rng.usize(0..=3)).map(|_| value(rng, t, targets)).collect()),
            "_between" if rng.u8(..8) > 0 => json!([value(rng, t, targets), value(rng, t, targets)]),
            "_null" | "_nnull" if rng.u8(..8) > 0 => json!(rng.bool()),
            _ => value(rng, t, targets),
        };
        ops.insert(op.into(), v);
    }
    if rng.u8(..40) == 0 {
        return json!({name: "bare"});
    }
    json!({name: ops})
}

fn filter(rng: &mut fastrand::Rng, targets: &[Target], depth: u32) -> Value {
    match rng.u8(..10) {
        0..=1 if depth < 2 => {
            let parts: Vec<Value> = (0..rng.usize(0..=3)).map(|_| filter(rng, targets, depth + 1)).collect();
            let joiner = if rng.bool() { "_and" } else { "_or" };
            json!({joiner: parts})
        }
        2 if depth < 2 => {
            // Two fields in one object: ANDed.
            let mut a = condition(rng, targets);
            if let (Some(o), Value::Object(b)) = (a.as_object_mut(), condition(rng, targets)) {
                o.extend(b);
            }
            a
        }
        _ => condition(rng, targets),
    }
}

fn sort(rng: &mut fastrand::Rng, targets: &[Target]) -> String {
    let n = pick(rng, &[0, 1, 1, 2, 2, 3]);
    (0..*n)
        .map(|_| {
            let name = match rng.u8(..20) {
                0 => "nope".to_owned(),
                1 => {
                    // Mostly refused: arrays, objects, `labels` segments.
                    let any: Vec<&Target> = targets.iter().filter(|t| !t.unstable_sort).collect();
                    pick(rng, &any).name.clone()
                }
                _ => {
                    let ok: Vec<&Target> = targets.iter().filter(|t| t.sortable).collect();
                    pick(rng, &ok).name.clone()
                }
            };
            if rng.bool() { format!("-{name}") } else { name }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// One server, with the ids its placeholders stand for.
struct Side {
    s: Server,
    ids: HashMap<String, String>,
    /// The record id of each `seq`, for patches.
    by_seq: Vec<String>,
}

fn materialize(v: &Value, ids: &HashMap<String, String>) -> Value {
    match v {
        Value::String(s) if s.starts_with('@') => ids.get(s).map_or_else(|| v.clone(), |id| json!(id)),
        Value::Array(a) => Value::Array(a.iter().map(|x| materialize(x, ids)).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (k.clone(), materialize(x, ids))).collect()),
        other => other.clone(),
    }
}

async fn setup(b: Backend, w: &World, patched: &[usize]) -> Option<Side> {
    let s = Server::start(b).await?;
    let mut ids = HashMap::new();
    for i in 0..USERS {
        let token = s.user(&format!("u{i}@example.com"), "staff").await;
        let me = s.get_as(&token, "/api/v1/auth/me").await.expect(200).body;
        ids.insert(format!("@user:{i}"), me["id"].as_str().unwrap().to_owned());
    }
    s.post("/api/v1/forms", json!({"key": "company", "schema": {"type": "object", "properties": {"name": {"type": "string"}}}})).await.expect(201);
    for i in 0..COMPANIES {
        let id = s.post("/api/v1/forms/company/records", json!({"name": format!("c{i}")})).await.expect(201).body["id"].as_str().unwrap().to_owned();
        ids.insert(format!("@link:{i}"), id);
    }
    s.post("/api/v1/forms", w.form.clone()).await.expect(201);
    let body = materialize(&Value::Array(w.records.clone()), &ids);
    let created = s.post("/api/v1/forms/thing/records", body).await.expect(201).body;
    let mut by_seq = vec![String::new(); RECORDS];
    for r in created.as_array().or_else(|| created["items"].as_array()).expect("a batch answers its records") {
        by_seq[r["data"]["seq"].as_u64().unwrap() as usize] = r["id"].as_str().unwrap().to_owned();
    }
    for (n, seq) in patched.iter().enumerate() {
        let path = format!("/api/v1/forms/thing/records/{}", by_seq[*seq]);
        s.patch(&path, json!({"name": format!("patched {n}")}), None).await.expect(200);
    }
    Some(Side { s, ids, by_seq })
}

/// What a server answered, reduced to what must agree: `seq`s page by page, or the refusal.
#[derive(Debug, PartialEq)]
enum Answer {
    Pages(Vec<Vec<i64>>),
    Count(i64),
    Refused { status: u16, kind: Value, param: Value, pointers: Vec<String> },
}

fn refused(res: &crate::harness::Response) -> Answer {
    Answer::Refused { status: res.status.as_u16(), kind: res.body["type"].clone(), param: res.body["param"].clone(), pointers: res.pointers() }
}

async fn pages(side: &Side, filter: Option<&str>, sort: &str, limit: usize) -> Answer {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    let limit = limit.to_string();
    loop {
        let mut q = vec![("sort", sort), ("limit", limit.as_str())];
        if let Some(f) = filter {
            q.push(("filter", f));
        }
        if let Some(c) = &cursor {
            q.push(("cursor", c));
        }
        let res = side.s.list("thing", &q).await;
        if res.status != 200 {
            return refused(&res);
        }
        out.push(res.body["items"].as_array().unwrap().iter().map(|r| r["data"]["seq"].as_i64().unwrap()).collect());
        assert!(out.len() <= RECORDS + 1, "paging does not end");
        match res.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return Answer::Pages(out),
        }
    }
}

async fn count(side: &Side, filter: Option<&str>) -> Answer {
    let path = match filter {
        Some(f) => format!("/api/v1/forms/thing/records/count?filter={}", urlencode(f)),
        None => "/api/v1/forms/thing/records/count".to_owned(),
    };
    let res = side.s.get(&path).await;
    if res.status != 200 {
        return refused(&res);
    }
    Answer::Count(res.body["count"].as_i64().unwrap())
}

fn urlencode(s: &str) -> String {
    reqwest::Url::parse_with_params("http://x/", &[("f", s)]).unwrap().query().unwrap()[2..].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_answer_every_filter_alike() {
    let seeds: Vec<u64> = match std::env::var("TRELLIS_DIFF_SEED") {
        Ok(s) => vec![s.parse().expect("TRELLIS_DIFF_SEED is a number")],
        Err(_) => vec![21, 2026, 7_654_321],
    };
    let cases: usize = std::env::var("TRELLIS_DIFF_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(120);
    for seed in seeds {
        run(seed, cases).await;
    }
}

async fn run(seed: u64, cases: usize) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let w = world(&mut rng);
    let patched: Vec<usize> = (0..6).map(|_| rng.usize(..RECORDS)).collect();
    let Some(lite) = setup(Backend::Sqlite, &w, &patched).await else { panic!("SQLite always starts") };
    let Some(pg) = setup(Backend::Postgres, &w, &patched).await else {
        // The harness has said why; without CI, a machine without PostgreSQL runs nothing here.
        lite.s.stop().await;
        return;
    };
    let ctx = |what: &str, f: &Option<Value>, sort: &str| format!("seed {seed} (TRELLIS_DIFF_SEED={seed}): {what} filter {} sort {sort:?}\nform {}", f.as_ref().map_or("none".into(), Value::to_string), w.form);
    let mut answered = 0;
    let mut refusals = 0;
    for _ in 0..cases {
        let f = if rng.u8(..8) == 0 { None } else { Some(filter(&mut rng, &w.targets, 0)) };
        let sort = sort(&mut rng, &w.targets);
        let limit = *pick(&mut rng, &[1, 4, 7, 50]);
        let (fl, fp) = (f.as_ref().map(|f| materialize(f, &lite.ids).to_string()), f.as_ref().map(|f| materialize(f, &pg.ids).to_string()));
        let (a, b) = (pages(&lite, fl.as_deref(), &sort, limit).await, pages(&pg, fp.as_deref(), &sort, limit).await);
        assert_eq!(a, b, "{}", ctx("list: SQLite left, PostgreSQL right;", &f, &sort));
        match &a {
            Answer::Pages(p) => {
                answered += 1;
                // Paging neither repeats nor skips: the pages are one full page.
                let flat: Vec<i64> = p.iter().flatten().copied().collect();
                let Answer::Pages(whole) = pages(&lite, fl.as_deref(), &sort, 1000).await else { panic!("{}", ctx("one page refused;", &f, &sort)) };
                assert_eq!(whole.concat(), flat, "{}", ctx("pages differ from one page;", &f, &sort));
            }
            Answer::Refused { status, .. } => {
                refusals += 1;
                assert_eq!(*status, 400, "{}", ctx("refused with a status other than 400;", &f, &sort));
            }
            Answer::Count(_) => unreachable!(),
        }
        let (a, b) = (count(&lite, fl.as_deref()).await, count(&pg, fp.as_deref()).await);
        assert_eq!(a, b, "{}", ctx("count: SQLite left, PostgreSQL right;", &f, &sort));
    }
    // The generator must exercise both halves, or the comparison proves little.
    eprintln!("seed {seed}: {answered} answered, {refusals} refused of {cases} cases");
    assert!(answered > cases / 5 && refusals > cases / 10, "seed {seed}: {answered} answered, {refusals} refused of {cases}");
    assert_eq!(lite.by_seq.len(), pg.by_seq.len());
    lite.s.stop().await;
    pg.s.stop().await;
}
