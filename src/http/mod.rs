//! HTTP/JSON API (axum): the routes of `docs/api.md`. Handlers only read the request,
//! call the application ([`App`]) with the [`Caller`](crate::domain::access::Caller) who
//! asks, and shape the answer; errors become problem+json in [`problem`].
//!
//! Two routers: the open one (the map page's files, `/health`, `/openapi.json`) and the
//! API, where [`auth::authenticate`] makes every matched request's caller first (401
//! without a valid token where one is needed). What each caller may do and see is decided
//! by the application, on the decoded, typed request.

pub mod admission;
pub mod auth;
pub mod body_rate;
pub mod extract;
pub mod gis;
pub mod grants;
pub mod model;
pub mod networks;
pub mod ogc;
pub mod openapi;
pub mod outlets;
pub mod problem;
pub mod regions;
pub mod scoring;
pub mod streamed;
pub mod web;

use crate::app::App;
use crate::error::Error;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

/// Limits applied to requests.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Largest request body, bytes (413 above; the demand upload allows 64 times more).
    pub max_body_bytes: usize,
    /// Longest a request may run (503 with Retry-After after it).
    pub request_timeout: std::time::Duration,
    /// Requests in flight at most (503 with Retry-After beyond).
    pub max_concurrent: usize,
    /// Requests in flight at most from one client: a token, or an address without one
    /// (503 with Retry-After beyond).
    pub max_concurrent_per_client: usize,
    /// Bytes of request bodies being received or held at most, in all (503 beyond).
    pub max_body_bytes_in_flight: usize,
    /// Bytes of request bodies being received or held at most from one client (503 beyond).
    pub max_body_bytes_in_flight_per_client: usize,
    /// Streamed demand uploads being read at most, in all (503 beyond).
    pub max_uploads: usize,
    /// Streamed demand uploads being read at most from one client (503 beyond).
    pub max_uploads_per_client: usize,
    /// How fast a request body must come (400 if slower).
    pub body_rate: body_rate::BodyRate,
    /// Most features (demand cells, candidates) one request may bring (422 beyond).
    pub max_import_features: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_body_bytes: 8 * 1024 * 1024,
            request_timeout: std::time::Duration::from_secs(120),
            max_concurrent: 256,
            max_concurrent_per_client: 32,
            max_body_bytes_in_flight: 256 * 1024 * 1024,
            max_body_bytes_in_flight_per_client: 32 * 1024 * 1024,
            max_uploads: 8,
            max_uploads_per_client: 2,
            body_rate: body_rate::BodyRate::default(),
            max_import_features: 16_000_000,
        }
    }
}

/// How the router is served: the map page's settings, the open-mode rule and the address
/// clients reach it at.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// The map page.
    pub map: web::MapConfig,
    /// Access control.
    pub auth: auth::AuthConfig,
    /// The base of every absolute link the service writes.
    pub public_url: PublicUrl,
}

/// The scheme, authority and path prefix clients reach the service at
/// (`https://gis.example.com/territory`), for the absolute links of OGC API pages and
/// TileJSON: from configuration (`--public-url`), never from a request's `Host` or
/// `X-Forwarded-*` headers, which a client sets as it likes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(String);

impl Default for PublicUrl {
    /// The default listen address.
    fn default() -> Self {
        PublicUrl("http://127.0.0.1:8080".into())
    }
}

impl PublicUrl {
    /// An `http` or `https` URL with a host, and no query or fragment (a trailing `/` is dropped).
    pub fn parse(s: &str) -> std::result::Result<PublicUrl, String> {
        let uri: axum::http::Uri = s.parse().map_err(|e| format!("`{s}` is not a URL: {e}"))?;
        let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
        if !scheme_ok || uri.host().is_none_or(str::is_empty) || uri.query().is_some() || s.contains('#') {
            return Err(format!("`{s}`: give an http or https URL with a host and no query, e.g. https://gis.example.com/territory"));
        }
        Ok(PublicUrl(s.trim_end_matches('/').to_string()))
    }

    /// The URL, without a trailing `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The token a request carried in its URL (`?access_token=`), kept by
/// [`auth::authenticate`] for the links of the answer.
#[derive(Debug, Clone)]
pub struct UrlToken(pub String);

/// How the absolute links of an answer are written: under the [`PublicUrl`], and with the
/// caller's token when it came in the URL (GIS clients cannot set headers), so that a
/// client following a link as given (`next`, `prev`, tiles) is let in too.
#[derive(Debug, Clone)]
pub struct Links {
    base: String,
    token: Option<String>,
}

impl Links {
    /// The public base URL and no token.
    pub fn new(public: &PublicUrl) -> Links {
        Links { base: public.as_str().to_string(), token: None }
    }

    /// The public base URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `path` (from `/`) under the base URL, with `query` (`limit=10&offset=20`, or empty)
    /// and the caller's URL token.
    pub fn href(&self, path: &str, query: &str) -> String {
        let token = self.token.as_deref().map(|t| format!("access_token={}", percent_encode(t)));
        let query: Vec<&str> = [Some(query).filter(|q| !q.is_empty()), token.as_deref()].into_iter().flatten().collect();
        if query.is_empty() { format!("{}{path}", self.base) } else { format!("{}{path}?{}", self.base, query.join("&")) }
    }
}

impl Links {
    /// The page of `path` at `offset` (`limit=&offset=`, and the `bbox` and `datetime`
    /// asked for).
    pub fn page(&self, path: &str, limit: usize, offset: usize, bbox: Option<&str>, datetime: Option<&str>) -> String {
        let mut query = format!("limit={limit}&offset={offset}");
        if let Some(b) = bbox {
            query.push_str("&bbox=");
            query.push_str(&b.replace(' ', ""));
        }
        if let Some(d) = datetime {
            query.push_str("&datetime=");
            query.push_str(&percent_encode(d));
        }
        self.href(path, &query)
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Links {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _state: &S) -> std::result::Result<Self, Self::Rejection> {
        let public = parts.extensions.get::<PublicUrl>().cloned().unwrap_or_default();
        Ok(Links { token: parts.extensions.get::<UrlToken>().map(|t| t.0.clone()), ..Links::new(&public) })
    }
}

/// `s` with every byte but the unreserved ones of RFC 3986 percent-encoded.
fn percent_encode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { char::from(b).to_string() } else { format!("%{b:02X}") }).collect()
}

/// Shared state of every handler.
pub type AppState = Arc<App>;

async fn not_found() -> Response {
    Error::NotFound("no such route; see /openapi.json".into()).into_response()
}

async fn method_not_allowed() -> Response {
    Error::MethodNotAllowed("this route does not take that method; see /openapi.json".into()).into_response()
}

/// The whole API as a router, ready for `axum::serve` or `oneshot` in tests.
pub fn router(app: AppState, limits: HttpLimits) -> Router {
    router_with(app, limits, ServeOptions::default())
}

/// The whole API and the map page with its settings.
pub fn router_with(app: AppState, limits: HttpLimits, options: ServeOptions) -> Router {
    let admission = admission::Admission::new(admission::AdmissionLimits {
        work: admission::Share { total: limits.max_concurrent, per_client: limits.max_concurrent_per_client },
        uploads: admission::Share { total: limits.max_uploads, per_client: limits.max_uploads_per_client },
        body_bytes: admission::Share { total: limits.max_body_bytes_in_flight, per_client: limits.max_body_bytes_in_flight_per_client },
        max_body_bytes: limits.max_body_bytes,
        timeout: limits.request_timeout,
    });
    let api = Router::new()
        .merge(regions::router())
        .merge(networks::router())
        .merge(grants::router())
        .merge(outlets::router())
        .merge(scoring::router())
        .merge(model::router())
        .merge(gis::router())
        .merge(ogc::router())
        // Only API work takes a slot, once its caller is known and its body is in:
        // `/health`, the map page's files and the OpenAPI document never queue behind it.
        .route_layer(axum::middleware::from_fn(admission::admit))
        .route_layer(axum::middleware::from_fn_with_state(app.clone(), auth::authenticate));
    Router::new()
        .merge(web::router(options.map))
        .merge(openapi::router())
        .merge(api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(axum::Extension(limits))
        .layer(axum::Extension(options.auth))
        .layer(axum::Extension(options.public_url))
        .layer(axum::Extension(admission))
        .layer(axum::middleware::from_fn(body_rate::steady_bodies))
        .layer(axum::Extension(limits.body_rate))
        .layer(axum::middleware::from_fn(problem::every_error_a_problem))
        // Spans name the method and the path only: a query may carry `access_token`.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &axum::extract::Request| tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())),
        )
        .with_state(app)
}

/// A JSON body served as `application/geo+json`.
pub fn geojson_response(body: impl serde::Serialize) -> Response {
    let mut r = axum::Json(body).into_response();
    r.headers_mut().insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/geo+json"));
    r
}

/// Limits on connections, below the requests they carry.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Connections open at once at most; more wait in the kernel's listen backlog until
    /// one closes (so that no client can run the process out of file descriptors).
    pub max_connections: usize,
    /// Longest a client may take to send a request's headers, and so the longest an idle
    /// keep-alive connection stays open: then it is closed.
    pub header_timeout: std::time::Duration,
    /// Longest the service waits for the connections left to finish on shutdown.
    pub drain_timeout: std::time::Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits { max_connections: 1024, header_timeout: std::time::Duration::from_secs(10), drain_timeout: std::time::Duration::from_secs(30) }
    }
}

/// Serves the router over HTTP/1.1 on a bound listener until `shutdown` completes, then
/// drains: at most `limits.max_connections` connections at once, each closed when a
/// request's headers take longer than `limits.header_timeout`.
pub async fn serve(listener: TcpListener, app: Router, shutdown: impl Future<Output = ()> + Send + 'static, limits: ConnectionLimits) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => (stream, peer),
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was taken:
                    // wait a little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // Each request knows its peer (`ConnectInfo`): the address is the client of a
        // request without a token.
        let peer = axum::extract::ConnectInfo(peer);
        let service = hyper_util::service::TowerToHyperService::new(tower::ServiceExt::map_request(
            app.clone(),
            move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(peer);
                req
            },
        ));
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection closed");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.drain_timeout, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after {} s at shutdown; closing them", limits.drain_timeout.as_secs());
    }
    Ok(())
}
