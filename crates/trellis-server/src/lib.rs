//! The Trellis HTTP server: HTTP only. Extractors, auth, routes that call the
//! engine, problem+json errors, metrics and the OpenAPI document.
//!
//! Reading order: [`problem`] (the one error type), [`extract`] (JSON bodies,
//! bearer auth, `If-Match`), [`routes`] (one module per resource),
//! [`metrics`]. [`app`] builds the router; [`serve`] runs it until shutdown,
//! so tests start a server on port 0 exactly as the binary does.

// Handlers return `Result<_, Problem>`; a problem is built at most once per
// request, so its size does not matter and boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;
use trellis_engine::Engine;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

pub mod edge;
pub mod extract;
pub mod lang;
pub mod metrics;
pub mod openapi;
pub mod paging;
pub mod problem;
pub mod routes;
pub mod session;

/// The largest request body: room for a batch of several thousand records.
pub const BODY_LIMIT: usize = 16 << 20;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub metrics: Arc<metrics::Metrics>,
    pub config: Arc<ServerConfig>,
    openapi: Arc<String>,
}

/// How the server answers, beside what the engine decides.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// `/metrics` answers anyone (`trellis serve --metrics-public`). Otherwise
    /// it needs an admin's token or [`ServerConfig::metrics_token`].
    pub metrics_public: bool,
    /// A token only for `/metrics` (`--metrics-token`), so a scraper need
    /// not hold an admin's token, which can do anything.
    pub metrics_token: Option<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Trellis API", description = "Zero-code customer management: forms, records, history, rules, workflows, tasks. Errors are RFC 9457 problem+json."),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
        components.add_security_scheme("cookie", SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Cookie(utoipa::openapi::security::ApiKeyValue::new(crate::session::COOKIE))));
    }
}

/// The API's routes with their OpenAPI description, generated from the handlers.
fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let api = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::auth::router())
        .merge(routes::forms::router())
        .merge(routes::records::router())
        .merge(routes::rules::router())
        .merge(routes::workflows::router())
        .merge(routes::tasks::router())
        .merge(routes::packs::router())
        .merge(routes::sheets::router())
        .merge(routes::public::router());
    let (router, mut doc) = api.split_for_parts();
    // After the merge: the shared responses go on every operation the routers added.
    openapi::SharedResponses.modify(&mut doc);
    (router, doc)
}

/// The OpenAPI document as JSON.
pub fn openapi_json() -> String {
    api().1.to_pretty_json().expect("the OpenAPI document serializes")
}

/// The whole application for one engine, with the default [`ServerConfig`].
pub fn app(engine: Arc<Engine>) -> (Router, AppState) {
    app_with(engine, ServerConfig::default())
}

/// The whole application for one engine.
pub fn app_with(engine: Arc<Engine>, config: ServerConfig) -> (Router, AppState) {
    let (api, doc) = api();
    let state = AppState {
        engine,
        metrics: Arc::new(metrics::Metrics::default()),
        config: Arc::new(config),
        openapi: Arc::new(doc.to_pretty_json().expect("the OpenAPI document serializes")),
    };
    let manual_clock = matches!(state.engine.clock(), trellis_engine::Clock::Manual(_));
    let api = if manual_clock { api.route("/api/v1/dev/clock", post(routes::rules::set_clock)) } else { api };
    // The app's files go out gzipped to browsers that take it (they are text, a fifth of the size);
    // API answers stay as they are, so clients and benchmarks see what they always did.
    let pages = Router::new()
        .route("/app", get(routes::pages::app))
        .route("/app/", get(routes::pages::app))
        .route("/app/static/{*path}", get(routes::pages::asset))
        .route("/favicon.ico", get(routes::pages::favicon))
        .layer(tower_http::compression::CompressionLayer::new().gzip(true));
    let router = api
        .route("/", get(routes::pages::root))
        .merge(pages)
        .route("/f/{token}", get(routes::public::page))
        .route("/healthz", get(routes::ops::healthz))
        .route("/metrics", get(routes::ops::metrics))
        .route("/api/v1/openapi.json", get(routes::ops::openapi))
        .fallback(routes::ops::not_found)
        .method_not_allowed_fallback(routes::ops::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(edge::guard))
        .layer(TraceLayer::new_for_http())
        // Every problem made while answering speaks the request's language.
        .layer(axum::middleware::from_fn(lang::scope))
        // Outermost, so that refusals made by the layers inside carry it too.
        .layer(axum::middleware::map_response(nosniff))
        .with_state(state.clone());
    (router, state)
}

/// Browsers must not guess a type other than the one sent: a JSON answer that
/// echoes user text must never be read as HTML or script.
async fn nosniff(mut res: axum::response::Response) -> axum::response::Response {
    res.headers_mut().insert(axum::http::header::X_CONTENT_TYPE_OPTIONS, axum::http::HeaderValue::from_static("nosniff"));
    res
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets
/// in-flight requests (and so in-flight writes) finish.
pub async fn serve(listener: TcpListener, router: Router, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    // With the peer's address, which public links are rate limited by.
    axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).with_graceful_shutdown(shutdown).await
}
