//! Who asks: every API request carries a bearer token (`Authorization: Bearer terr_...`, or
//! `?access_token=` on GET for GIS clients), unless the service runs open (`serve --open`,
//! loopback only, on a database that never had a token). [`authenticate`] turns it into the request's [`Caller`] once;
//! handlers take the caller as an extractor and pass it to the application, which decides
//! what it may do and see.

use super::AppState;
use crate::domain::access::Caller;
use crate::error::Error;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// How the service was started, for the open-mode rule.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthConfig {
    /// Started with `--open` (on loopback): requests without a token are allowed as
    /// admin while the database has never had a token.
    pub open: bool,
}

/// The token a request carries: the `Authorization` header, or `access_token` in the
/// query of a GET (GIS clients cannot set headers).
pub(super) fn bearer(req: &Request) -> Option<String> {
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
    let in_url = token.is_some() && !req.headers().contains_key(header::AUTHORIZATION);
    match app.access.caller(token.as_deref(), config.open).await {
        Ok(caller) => {
            strip_access_token(&mut req);
            if let Some(token) = token.filter(|_| in_url) {
                req.extensions_mut().insert(super::UrlToken(token));
            }
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
