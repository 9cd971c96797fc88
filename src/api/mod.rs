//! The HTTP API: router, extractors, envelope, and one module per resource.

mod account;
mod agent;
pub mod auth;
pub mod background;
mod businesshour;
mod calling;
mod campagent;
mod campaign;
pub mod coalesce;
mod console;
mod contact;
mod customcampaign;
mod dnc;
mod download;
pub mod error;
mod filter;
pub mod input;
mod job;
pub mod metrics;
mod operations;
mod portal;
mod sources;
mod team;
mod unreadable;

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;

use crate::config::Limits;
use crate::store::DynStore;
use error::{ApiError, Code};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: DynStore,
    pub limits: Limits,
    /// API keys and their accounts, as read lately.
    pub keys: std::sync::Arc<auth::KeyCache>,
    /// The jobs this server runs.
    pub jobs: std::sync::Arc<background::JobBoard>,
    pub metrics: std::sync::Arc<metrics::Metrics>,
    /// Customer lists being read, by account, filter and page (see [`coalesce`]).
    pub lists: std::sync::Arc<ListReads>,
}

/// The answers of identical customer lists asked at once.
pub type ListReads = coalesce::Coalescer<
    (crate::domain::ids::AccountId, crate::domain::customer::CustomerFilter, Option<String>, crate::domain::page::Page),
    bytes::Bytes,
>;

impl AppState {
    pub fn new(store: DynStore, limits: Limits) -> AppState {
        AppState {
            store,
            limits,
            keys: Default::default(),
            jobs: Default::default(),
            metrics: Default::default(),
            lists: Default::default(),
        }
    }
}

/// The resource routes, without the layers that [`app`] adds.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .merge(console::router())
        .merge(account::router())
        .merge(operations::router())
        .merge(job::router())
        .merge(campaign::router())
        .merge(agent::router())
        .merge(campagent::router())
        .merge(contact::router())
        .merge(portal::router())
        .merge(customcampaign::router())
        .merge(filter::router())
        .merge(calling::router())
        .merge(dnc::router())
        .merge(businesshour::router())
}

/// The complete application: `extra` routes (tests add some) plus the envelope for
/// unknown routes, wrong methods and panics, the body limit and the request log.
pub fn app(state: AppState, extra: Router<AppState>) -> Router {
    crate::domain::phone::warm_up();
    let limit = state.limits.upload_bytes;
    let app = routes()
        .merge(extra)
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(limit))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(head_within_limit))
        .layer(middleware::from_fn_with_state(state.clone(), log_request))
        .with_state(state);
    // Around the whole router: its method routers add `Allow` outside any layer of theirs.
    Router::new().fallback_service(app).layer(middleware::map_response(unmapped))
}

/// hyper refuses a head that fills its read buffer ([`unreadable::MAX_HEAD_BYTES`]),
/// but one read may take it past the buffer's size before it looks: a head up to about
/// 480 KiB came through. One past the limit is refused here, as hyper refuses it.
async fn head_within_limit(req: Request, next: Next) -> Response {
    if unreadable::head_bytes(&req) > unreadable::MAX_HEAD_BYTES {
        let refused = ApiError::too_large(unreadable::head_too_large());
        return ApiError { status: Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE), ..refused }.into_response();
    }
    next.run(req).await
}

/// How the server treats connections (`callsheet serve --header-read-timeout`,
/// `--max-connections`).
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// A connection that has not sent a whole request head within this time is
    /// closed; an idle keep-alive connection too, when its next request is this late.
    pub header_read_timeout: Duration,
    /// Connections served at once; past it, new ones wait in the listen backlog until
    /// one closes, so slow clients cannot exhaust the process's open files.
    pub max_connections: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions { header_read_timeout: Duration::from_secs(10), max_connections: 1024 }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves; in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, shutdown, ServeOptions::default()).await
}

/// As [`serve`], with the connection settings given.
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    options: ServeOptions,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    use tower::ServiceExt as _;

    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .max_headers(unreadable::MAX_HEADERS)
        .max_buf_size(unreadable::MAX_HEAD_BYTES);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(options.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.map_err(std::io::Error::other)?,
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait, then accept again.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let grace = options.header_read_timeout;
        let service = app.clone().map_request(move |req: axum::http::Request<hyper::body::Incoming>| {
            let read = BodyRead::default();
            let mut req =
                without_trailing_slash(req).map(|body| axum::body::Body::new(Paced::new(body, grace, read.clone())));
            req.extensions_mut().insert(read);
            req
        });
        let connection = builder
            .serve_connection(TokioIo::new(unreadable::Enveloped::new(stream)), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// The request with its path's trailing slashes taken off (`/v1/customcampaign/`, as
/// the reference documents its paths, is `/v1/customcampaign`); `/` stays.
fn without_trailing_slash<B>(mut req: axum::http::Request<B>) -> axum::http::Request<B> {
    let path = req.uri().path();
    let trimmed = path.trim_end_matches('/');
    if trimmed.len() == path.len() || trimmed.is_empty() {
        return req;
    }
    let rebuilt = match req.uri().query() {
        Some(query) => format!("{trimmed}?{query}"),
        None => trimmed.to_string(),
    };
    if let Ok(path_and_query) = rebuilt.parse::<axum::http::uri::PathAndQuery>() {
        let mut parts = req.uri().clone().into_parts();
        parts.path_and_query = Some(path_and_query);
        if let Ok(uri) = axum::http::Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

/// Whether a request's body was read to its end (set by [`Paced`], read by
/// `log_request`): a refusal told before then leaves the connection unable to carry
/// another request.
#[derive(Debug, Clone, Default)]
struct BodyRead(Arc<std::sync::atomic::AtomicBool>);

impl BodyRead {
    fn finish(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn finished(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The slowest a request body may arrive, on average, once its grace is over.
const MIN_BODY_BYTES_PER_SEC: u64 = 1024;

/// A request body that must keep arriving: by `grace` after the head (the header
/// read timeout), plus a second for every [`MIN_BODY_BYTES_PER_SEC`] bytes received,
/// the next bytes are due, else the body ends in an error that the handler answers
/// (r 1) and the connection closes. A client trickling a byte every few seconds, or
/// declaring a length it never sends, would otherwise hold its connection (one of
/// `--max-connections`) for ever, as no timeout covers a body once its head is in.
struct Paced<B> {
    inner: B,
    read: BodyRead,
    start: tokio::time::Instant,
    grace: Duration,
    received: u64,
    due: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl<B> Paced<B> {
    fn new(inner: B, grace: Duration, read: BodyRead) -> Paced<B> {
        let start = tokio::time::Instant::now();
        Paced { inner, read, start, grace, received: 0, due: Box::pin(tokio::time::sleep_until(start + grace)) }
    }
}

impl<B> hyper::body::Body for Paced<B>
where
    B: hyper::body::Body<Data = bytes::Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = bytes::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, Self::Error>>> {
        use std::task::Poll;
        let this = self.get_mut();
        match std::pin::Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    let earned = Duration::from_secs(this.received / MIN_BODY_BYTES_PER_SEC);
                    this.due.as_mut().reset(this.start + this.grace + earned);
                }
                if this.inner.is_end_stream() {
                    this.read.finish();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                this.read.finish();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Pending => match this.due.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(format!(
                    "the body arrives too slowly (after {} s, at least {MIN_BODY_BYTES_PER_SEC} bytes a second)",
                    this.grace.as_secs()
                )
                .into()))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// GET /healthz: a constant answer that needs no token and touches no database, for
/// load balancers, and for the benchmarks as the cost of the HTTP stack alone.
async fn healthz() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], r#"{"r":0,"msg":"Success"}"#).into_response()
}

async fn unknown_route(method: Method, uri: Uri, caller: Result<auth::Caller, ApiError>) -> ApiError {
    refused_first(&uri, caller)
        .unwrap_or_else(|| ApiError::not_found(format!("no such endpoint: {method} {}", uri.path())))
}

/// r 4 with HTTP 404, as CONTRACT §3 pairs them: the route exists, not with this method.
async fn wrong_method(method: Method, uri: Uri, caller: Result<auth::Caller, ApiError>) -> ApiError {
    refused_first(&uri, caller)
        .unwrap_or_else(|| ApiError::new(Code::NotFound, format!("method {method} is not allowed on {}", uri.path())))
}

/// A refused request learns nothing of the path: not even the methods it takes,
/// which the router lists in `Allow` for a method it does not route.
async fn unmapped(mut response: Response) -> Response {
    if response.status() == StatusCode::UNAUTHORIZED {
        response.headers_mut().remove(header::ALLOW);
    }
    response
}

/// Every `/v1/...` request carries a token (CONTRACT §2): one without a valid one
/// is refused (r 5) before anything is said of the path, so that the routes cannot
/// be mapped without a key.
fn refused_first(uri: &Uri, caller: Result<auth::Caller, ApiError>) -> Option<ApiError> {
    let api = uri.path() == "/v1" || uri.path().starts_with("/v1/");
    caller.err().filter(|_| api)
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    ApiError::internal(anyhow::anyhow!("handler panicked: {detail}")).into_response()
}

/// The header that carries a request's id: the client's own when it sent a usable
/// one, else a fresh one; the response always carries it back.
pub const REQUEST_ID: &str = "x-request-id";

fn request_id(req: &Request) -> String {
    let sent = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).map(str::trim);
    match sent {
        Some(id)
            if (1..=64).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) =>
        {
            id.to_string()
        }
        _ => format!("{:016x}", rand::random::<u64>()),
    }
}

/// Runs each request inside a span named by its matched route (low cardinality)
/// and its request id, and writes one line when it ends: method, route, status,
/// latency, and for a failure its result code and reason, with an internal
/// failure's whole cause. This is the one place errors are logged.
async fn log_request(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    use tracing::Instrument as _;
    let start = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "(unmatched)".to_string());
    let id = request_id(&req);
    // Whether the request said a body follows: a refusal may come before it is read.
    let has_body = req.headers().contains_key(axum::http::header::TRANSFER_ENCODING)
        || req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0");
    let read = req.extensions().get::<BodyRead>().cloned();
    let span = tracing::info_span!("request", %method, route, request_id = %id);
    let mut response = next.run(req).instrument(span.clone()).await;
    let _entered = span.enter();
    let status = response.status().as_u16();
    let elapsed = start.elapsed().as_secs_f64();
    state.metrics.request(&route, method.as_str(), status, elapsed);
    // Milliseconds to the microsecond, as a number (JSON logs keep its type).
    let latency_ms = (elapsed * 1_000_000.0).round() / 1000.0;
    match response.extensions().get::<error::Failure>() {
        Some(error::Failure { code: Code::Internal, cause, .. }) => {
            let cause = cause.as_ref().map(|c| format!("{c:#}")).unwrap_or_default();
            tracing::error!(status, latency_ms, r = Code::Internal as u8, error = %cause, "request failed");
        }
        Some(error::Failure { code, msg, .. }) => {
            tracing::info!(status, latency_ms, r = *code as u8, reason = %msg, "request refused");
        }
        None => tracing::info!(status, latency_ms, "request"),
    }
    if let Ok(value) = axum::http::HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    // A refused request's body left unread (a 401 is told before it): the connection
    // cannot carry another request after it. Said, so that a client's pool opens a new
    // one instead of finding this one closed under its next request.
    if has_body && status >= 400 && read.is_some_and(|r| !r.finished()) {
        response.headers_mut().insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    }
    response
}
