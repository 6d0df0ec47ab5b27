//! Starts a real Trellis server on a random port against a fresh database —
//! a temp SQLite file or an own PostgreSQL schema — and talks to it over HTTP.

use std::sync::Arc;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use trellis_engine::{Clock, Engine};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates `sqlite_NAME` and `pg_NAME` tests from one `async fn NAME(b: Backend)`.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::harness::Backend::Sqlite).await })*
        }
        mod pg {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::harness::Backend::Postgres).await })*
        }
    };
}

pub const ADMIN: &str = "admin@example.com";
pub const PASSWORD: &str = "correct horse battery";

/// The PostgreSQL server tests use.
pub fn pg_url() -> String {
    std::env::var("TRELLIS_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub struct Server {
    pub base: String,
    pub http: reqwest::Client,
    pub token: String,
    pub engine: Arc<Engine>,
    pub db_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    schema: Option<String>,
    _dir: tempfile::TempDir,
}

pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Response {
    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Response {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        if status >= 400 {
            assert_eq!(self.headers["content-type"], "application/problem+json", "errors are problem+json");
            assert_eq!(self.body["status"], status, "problem status matches: {}", self.body);
            assert!(self.body["type"].as_str().unwrap().starts_with("https://trellis.dev/problems/"));
            assert!(!self.body["detail"].as_str().unwrap().is_empty());
        }
        self
    }

    /// The pointers of a 422's errors.
    pub fn pointers(&self) -> Vec<String> {
        self.body["errors"].as_array().map(|a| a.iter().map(|e| e["pointer"].as_str().unwrap().to_owned()).collect()).unwrap_or_default()
    }
}

/// A connection to the test PostgreSQL and a fresh schema name for one test;
/// `None` when PostgreSQL is not reachable and `CI` is not set.
pub async fn pg_schema() -> Option<(sqlx::PgPool, String)> {
    let url = pg_url();
    let admin = match sqlx::PgPool::connect(&url).await {
        Ok(p) => p,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping: PostgreSQL at {url} is not reachable ({e}); set CI=1 to make this fail");
            return None;
        }
        Err(e) => panic!("PostgreSQL at {url} is not reachable: {e}"),
    };
    Some((admin, format!("t_{}", uuid::Uuid::now_v7().simple())))
}

/// The test PostgreSQL's URL with `schema` as the search path.
pub fn schema_url(schema: &str) -> String {
    let url = pg_url();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// Makes a database for one test; `None` when PostgreSQL is not reachable
/// and `CI` is not set (so a laptop without PostgreSQL still runs the SQLite half).
async fn database(backend: Backend, dir: &tempfile::TempDir) -> Option<(String, Option<String>)> {
    match backend {
        Backend::Sqlite => Some((format!("sqlite://{}", dir.path().join("trellis.db").display()), None)),
        Backend::Postgres => {
            let (admin, schema) = pg_schema().await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&admin).await.unwrap();
            admin.close().await;
            Some((schema_url(&schema), Some(schema)))
        }
    }
}

impl Server {
    /// A server with one admin signed in; `None` when the backend is unavailable (see [`database`]).
    pub async fn start(backend: Backend) -> Option<Server> {
        Server::start_with(backend, Clock::System).await
    }

    /// A server whose clock stands at `now` until `POST /api/v1/dev/clock` moves it.
    pub async fn start_at(backend: Backend, now: &str) -> Option<Server> {
        Server::start_with(backend, Clock::manual(now.parse().unwrap())).await
    }

    pub async fn start_with(backend: Backend, clock: Clock) -> Option<Server> {
        let dir = tempfile::tempdir().unwrap();
        let (db_url, schema) = database(backend, &dir).await?;
        let engine = Arc::new(Engine::open(&db_url, clock).await.expect("engine opens"));
        engine.add_user(ADMIN, None, "admin", PASSWORD).await.unwrap();
        let (token, _) = engine.login(ADMIN, PASSWORD).await.unwrap();
        Some(Server::serve(engine, token, db_url, schema, dir).await)
    }

    /// A server with one admin signed in on a database that exists already
    /// (`schema`: the PostgreSQL schema it lives in, dropped by [`Server::stop`]).
    pub async fn open(db_url: String, schema: Option<String>, dir: tempfile::TempDir) -> Server {
        let engine = Arc::new(Engine::open(&db_url, Clock::System).await.expect("engine opens"));
        engine.add_user(ADMIN, None, "admin", PASSWORD).await.unwrap();
        let (token, _) = engine.login(ADMIN, PASSWORD).await.unwrap();
        Server::serve(engine, token, db_url, schema, dir).await
    }

    /// A second instance on the same database (its own engine and caches), as a
    /// second `trellis serve` process sharing one PostgreSQL would be.
    pub async fn second_instance(&self) -> Server {
        self.second_instance_with(Clock::System).await
    }

    pub async fn second_instance_with(&self, clock: Clock) -> Server {
        let engine = Arc::new(Engine::open(&self.db_url, clock).await.expect("engine opens"));
        Server::serve(engine, self.token.clone(), self.db_url.clone(), None, tempfile::tempdir().unwrap()).await
    }

    async fn serve(engine: Arc<Engine>, token: String, db_url: String, schema: Option<String>, dir: tempfile::TempDir) -> Server {
        trellis_engine::install_tls();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (router, _) = trellis_server::app(engine.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            trellis_server::serve(listener, router, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Server { base, http: reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap(), token, engine, db_url, shutdown: Some(tx), task: Some(task), schema, _dir: dir }
    }

    /// Signals shutdown and waits until in-flight requests have finished.
    pub async fn shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }

    /// Stops this server and starts a new one (a new engine, as a new process
    /// would have) on the same database, with its clock at `now`.
    pub async fn restart_at(mut self, now: &str) -> Server {
        self.shutdown().await;
        self.engine.close().await;
        let engine = Arc::new(Engine::open(&self.db_url, Clock::manual(now.parse().unwrap())).await.expect("engine reopens"));
        let dir = std::mem::replace(&mut self._dir, tempfile::tempdir().unwrap());
        let schema = self.schema.take();
        Server::serve(engine, self.token.clone(), self.db_url.clone(), schema, dir).await
    }

    /// Moves the manual clock; the server runs what became due before answering.
    pub async fn clock(&self, now: &str) -> Value {
        self.post("/api/v1/dev/clock", json!({"now": now})).await.expect(200).body
    }

    pub async fn get_as(&self, token: &str, path: &str) -> Response {
        self.call(Method::GET, path, Some(token), None, &[]).await
    }

    pub async fn post_as(&self, token: &str, path: &str, body: Value) -> Response {
        self.call(Method::POST, path, Some(token), Some(&body), &[]).await
    }

    /// Shuts down and drops the test's PostgreSQL schema.
    pub async fn stop(mut self) {
        self.shutdown().await;
        self.engine.close().await;
        if let Some(schema) = self.schema.take() {
            let admin = sqlx::PgPool::connect(&pg_url()).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE"))).execute(&admin).await.unwrap();
            admin.close().await;
        }
    }

    /// Adds a user and signs them in; returns their token.
    pub async fn user(&self, email: &str, role: &str) -> String {
        self.engine.add_user(email, None, role, PASSWORD).await.unwrap();
        self.engine.login(email, PASSWORD).await.unwrap().0
    }

    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<&Value>, headers: &[(&str, &str)]) -> Response {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Response { status, headers, body }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.call(Method::GET, path, Some(&self.token), None, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.call(Method::POST, path, Some(&self.token), Some(&body), &[]).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Response {
        self.call(Method::PUT, path, Some(&self.token), Some(&body), &[]).await
    }

    pub async fn patch(&self, path: &str, body: Value, if_match: Option<&str>) -> Response {
        let headers: Vec<(&str, &str)> = if_match.map(|m| vec![("if-match", m)]).unwrap_or_default();
        self.call(Method::PATCH, path, Some(&self.token), Some(&body), &headers).await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.call(Method::DELETE, path, Some(&self.token), None, &[]).await
    }

    /// Lists with the given query string and returns the items' `data.name`s.
    pub async fn names(&self, form: &str, query: &[(&str, &str)]) -> Vec<String> {
        let res = self.list(form, query).await.expect(200);
        res.body["items"].as_array().unwrap().iter().map(|r| r["data"]["name"].as_str().unwrap_or("").to_owned()).collect()
    }

    pub async fn list(&self, form: &str, query: &[(&str, &str)]) -> Response {
        let url = reqwest::Url::parse_with_params(&format!("{}/api/v1/forms/{form}/records", self.base), query).unwrap();
        let path = &url.as_str()[self.base.len()..];
        self.get(path).await
    }

    /// The customer and company forms most tests use.
    pub async fn crm_forms(&self) {
        self.post("/api/v1/forms", json!({"key": "company", "title": "公司", "schema": {"type": "object", "required": ["name"],
            "properties": {"name": {"type": "string", "minLength": 1}}}}))
            .await
            .expect(201);
        self.post("/api/v1/forms", customer_form()).await.expect(201);
    }
}

pub fn customer_form() -> Value {
    json!({
        "key": "customer", "title": "客户", "title_field": "name",
        "schema": {"type": "object", "required": ["name", "phone"], "properties": {
            "name": {"type": "string", "minLength": 1, "title": "名称"},
            "phone": {"type": "string", "format": "phone"},
            "email": {"type": "string", "format": "email"},
            "birthday": {"type": "string", "format": "date"},
            "last_contact": {"type": "string", "format": "date-time"},
            "owner": {"type": "string", "format": "user"},
            "company": {"type": "string", "x-link": "company"},
            "level": {"type": "string", "enum": ["A", "B", "C"]},
            "annual_spend": {"type": "number", "format": "money"},
            "satisfaction": {"type": "integer", "format": "rating"},
            "nps": {"type": "integer", "format": "nps"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "vip": {"type": "boolean"}
        }},
        "unique": [["phone"]],
        "indexes": ["annual_spend", "level"]
    })
}

/// A direct reader of the test's database, for what the API does not show.
pub enum Db {
    Sqlite(sqlx::SqlitePool),
    Pg(sqlx::PgPool),
}

impl Db {
    pub async fn open(url: &str) -> Db {
        if url.starts_with("sqlite:") { Db::Sqlite(sqlx::SqlitePool::connect(url).await.unwrap()) } else { Db::Pg(sqlx::PgPool::connect(url).await.unwrap()) }
    }

    /// Runs `sql` (SQLite's `json_extract(data, '$.F')` is rewritten for PostgreSQL) and returns its one text value.
    pub async fn text(&self, sql: &str) -> Option<String> {
        match self {
            Db::Sqlite(p) => sqlx::query_scalar::<_, Option<String>>(sqlx::AssertSqlSafe(sql.to_owned())).fetch_optional(p).await.unwrap().flatten(),
            Db::Pg(p) => {
                let sql = sql.replace("json_extract(data, '$.phone')", "(data->'phone')").replace("json_extract(data, '$.mobile')", "(data->'mobile')");
                sqlx::query_scalar::<_, Option<String>>(sqlx::AssertSqlSafe(sql)).fetch_optional(p).await.unwrap().flatten()
            }
        }
    }

    /// Every text value `lite` (on SQLite) or `pg` (on PostgreSQL) answers.
    pub async fn strings(&self, lite: &str, pg: &str) -> Vec<String> {
        match self {
            Db::Sqlite(p) => sqlx::query_scalar(sqlx::AssertSqlSafe(lite.to_owned())).fetch_all(p).await.unwrap(),
            Db::Pg(p) => sqlx::query_scalar(sqlx::AssertSqlSafe(pg.to_owned())).fetch_all(p).await.unwrap(),
        }
    }

    /// Runs statements (several, separated by `;`).
    pub async fn execute(&self, sql: &str) {
        match self {
            Db::Sqlite(p) => drop(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(p).await.unwrap()),
            Db::Pg(p) => drop(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(p).await.unwrap()),
        }
    }

    pub async fn number(&self, sql: &str) -> Option<i64> {
        self.text(&format!("SELECT CAST(({sql}) AS TEXT)")).await.and_then(|t| t.parse().ok())
    }

    pub async fn close(self) {
        match self {
            Db::Sqlite(p) => p.close().await,
            Db::Pg(p) => p.close().await,
        }
    }
}
