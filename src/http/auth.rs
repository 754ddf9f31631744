//! Who asks: every API request carries a bearer token (`Authorization: Bearer terr_...`, or
//! `?access_token=` on GET for GIS clients), unless the service runs open (`serve --open`,
//! loopback only, on a database that never had a token). [`authenticate`] turns it into the request's [`Caller`] once;
//! handlers take the caller as an extractor and pass it to the application, which decides
//! what it may do and see. Also here: the concurrency limit and the request timeout (503
//! with Retry-After).

use super::AppState;
use crate::domain::access::Caller;
use crate::error::Error;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How the service was started, for the open-mode rule.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthConfig {
    /// Started with `--open` (on loopback): requests without a token are allowed as
    /// admin while the database has never had a token.
    pub open: bool,
}

/// The token a request carries: the `Authorization` header, or `access_token` in the
/// query of a GET (GIS clients cannot set headers).
fn bearer(req: &Request) -> Option<String> {
    if let Some(v) = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return Some(v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")).unwrap_or(v).trim().to_string());
    }
    if req.method() == Method::GET || req.method() == Method::HEAD {
        let query = req.uri().query().unwrap_or("");
        return query.split('&').find_map(|kv| kv.strip_prefix("access_token=")).map(str::to_string);
    }
    None
}

/// Removes `access_token` from the query once used, so routes see only their own parameters.
fn strip_access_token(req: &mut Request) {
    let Some(query) = req.uri().query() else { return };
    if !query.split('&').any(|kv| kv.starts_with("access_token=")) {
        return;
    }
    let rest: Vec<&str> = query.split('&').filter(|kv| !kv.starts_with("access_token=")).collect();
    let path = req.uri().path();
    let uri = if rest.is_empty() { path.to_string() } else { format!("{path}?{}", rest.join("&")) };
    if let Ok(uri) = uri.parse() {
        *req.uri_mut() = uri;
    }
}

/// Makes the request's caller (401 if it needs a token it lacks) and hands it to the handler.
pub async fn authenticate(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let config = req.extensions().get::<AuthConfig>().copied().unwrap_or_default();
    let token = bearer(&req);
    match app.access.caller(token.as_deref(), config.open).await {
        Ok(caller) => {
            strip_access_token(&mut req);
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Error;

    /// The caller [`authenticate`] made for this request.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| Error::Internal("a handler that needs a caller is outside the API router".into()))
    }
}

/// Concurrency and time limits.
#[derive(Debug, Clone)]
pub struct Throttle {
    /// Requests in flight at most; more are answered 503 at once.
    pub permits: Arc<Semaphore>,
    /// Requests in flight at most from one client (a token, or an address without one).
    pub per_client: usize,
    /// The slots of each client with requests in flight.
    pub clients: Arc<std::sync::Mutex<std::collections::HashMap<u64, Arc<Semaphore>>>>,
    /// Longest a request may run before it is answered 503.
    pub timeout: Duration,
}

impl Throttle {
    /// At most `total` requests in flight, `per_client` of them from one client, each
    /// stopped after `timeout`.
    pub fn new(total: usize, per_client: usize, timeout: Duration) -> Throttle {
        Throttle { permits: Arc::new(Semaphore::new(total)), per_client, clients: Arc::default(), timeout }
    }

    /// The slots of the client a request comes from: its token, else its address.
    fn client_slots(&self, req: &Request) -> Arc<Semaphore> {
        use std::hash::{BuildHasher, Hash, Hasher};
        static KEYS: std::sync::OnceLock<std::collections::hash_map::RandomState> = std::sync::OnceLock::new();
        let mut h = KEYS.get_or_init(Default::default).build_hasher();
        match bearer(req) {
            Some(token) => token.hash(&mut h),
            None => req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip()).hash(&mut h),
        }
        let key = h.finish();
        let mut clients = self.clients.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if clients.len() > 10_000 {
            // Forget the clients with nothing in flight.
            clients.retain(|_, s| s.available_permits() < self.per_client);
        }
        clients.entry(key).or_insert_with(|| Arc::new(Semaphore::new(self.per_client))).clone()
    }
}

/// The throttling middleware: a concurrency limit per client and in all, then a timeout.
pub async fn throttle(req: Request, next: Next) -> Response {
    let Some(t) = req.extensions().get::<Throttle>().cloned() else { return next.run(req).await };
    let Ok(_own) = t.client_slots(&req).try_acquire_owned() else {
        let detail = format!("this client has {} requests in flight, the most one client may; try again shortly", t.per_client);
        return Error::Busy { detail, retry_after: 1 }.into_response();
    };
    let Ok(_permit) = t.permits.clone().try_acquire_owned() else {
        return Error::Busy { detail: "too many requests in flight; try again shortly".into(), retry_after: 1 }.into_response();
    };
    let deadline = std::time::Instant::now() + t.timeout;
    match tokio::time::timeout(t.timeout, crate::budget::scope(deadline, next.run(req))).await {
        Ok(res) => res,
        Err(_) => Error::Busy {
            detail: format!("the request took longer than {} s and was stopped; nothing it started was kept", t.timeout.as_secs_f64()),
            retry_after: 5,
        }
        .into_response(),
    }
}
