//! The single mapping from [`Error`] to HTTP: `application/problem+json` (RFC 9457).
//! Database and internal details are logged here and never sent to the client.

use crate::error::Error;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Media type of error bodies.
pub const PROBLEM_JSON: &str = "application/problem+json";

impl Error {
    /// The HTTP status this error becomes.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Error::Conflict { .. } | Error::Placement { .. } | Error::WouldBreak { .. } | Error::Duplicate(_) | Error::NotReady(_) => StatusCode::CONFLICT,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::Database(_) | Error::Migrate(_) | Error::Task(_) | Error::Io { .. } | Error::Data { .. } | Error::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Error::BadRequest(_) => "bad-request",
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::NotFound(_) => "not-found",
            Error::MethodNotAllowed(_) => "method-not-allowed",
            Error::Conflict { .. } => "exclusivity-conflict",
            Error::Placement { .. } => "outlet-placement",
            Error::WouldBreak { .. } => "would-break",
            Error::Duplicate(_) => "duplicate",
            Error::NotReady(_) => "not-ready",
            Error::TooLarge(_) => "payload-too-large",
            Error::Invalid(_) => "invalid-input",
            Error::Busy { .. } => "service-unavailable",
            Error::Database(_) | Error::Migrate(_) | Error::Task(_) | Error::Io { .. } | Error::Data { .. } | Error::Internal(_) => "internal",
        }
    }
}

/// An RFC 9457 body with extra members `E` (flattened).
#[derive(serde::Serialize)]
struct Problem<'a, E: serde::Serialize> {
    r#type: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    #[serde(flatten)]
    extra: E,
}

/// A problem+json response with any status and extra members (a JSON object or a struct).
pub fn problem(status: StatusCode, kind: &str, detail: &str, extra: impl serde::Serialize) -> Response {
    let body = Problem {
        r#type: format!("urn:territory:problem:{kind}"),
        title: status.canonical_reason().unwrap_or("Error"),
        status: status.as_u16(),
        detail,
        extra,
    };
    let text = serde_json::to_string(&body).unwrap_or_else(|_| format!("{{\"status\":{}}}", status.as_u16()));
    let mut response = (status, text).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}

/// Longest request target (path and query) taken, bytes: longer ones are 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Makes every error answer `application/problem+json`, also those that no handler wrote
/// (a body-limit rejection of a framework extractor, say): their status is kept, and
/// their text, if any, becomes the detail. Request targets over [`MAX_URI_BYTES`] are
/// 414 here. (A target over hyper's own limit, 64 KiB, is answered 414 by hyper itself,
/// with an empty body, before any of this runs.)
pub async fn every_error_a_problem(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target > MAX_URI_BYTES {
        let detail = format!("the request target has {target} bytes; at most {MAX_URI_BYTES}");
        return problem(StatusCode::URI_TOO_LONG, "uri-too-long", &detail, json!({}));
    }
    let response = next.run(req).await;
    let status = response.status();
    let is_problem = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.map(|b| String::from_utf8_lossy(&b).trim().to_string()).unwrap_or_default();
    let detail = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_lowercase() } else { text };
    let kind = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "payload-too-large",
        StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed",
        StatusCode::NOT_FOUND => "not-found",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type",
        s if s.is_server_error() => "internal",
        _ => "bad-request",
    };
    let mut answer = problem(status, kind, &detail, json!({}));
    for name in [header::RETRY_AFTER, header::ALLOW, header::WWW_AUTHENTICATE] {
        if let Some(v) = parts.headers.get(&name) {
            answer.headers_mut().insert(name, v.clone());
        }
    }
    answer
}

/// The extra members of a refusal: typed, so overlap geometries are copied, not re-parsed.
#[derive(serde::Serialize)]
struct Refusal {
    conflicts: Vec<crate::domain::grants::SeenConflict>,
    warnings: Vec<crate::domain::grants::SeenConflict>,
}

/// The error and every cause under it, for the log.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let kind = self.kind();
        match self {
            Error::Invalid(errors) => {
                let detail = match errors.as_slice() {
                    [one] => format!("invalid input at {}: {}", if one.pointer.is_empty() { "/" } else { &one.pointer }, one.detail),
                    many => format!("{} problems in the input; see `errors`", many.len()),
                };
                problem(status, kind, &detail, json!({ "errors": errors }))
            }
            Error::Conflict { detail, conflicts, warnings } => problem(status, kind, &detail, Refusal { conflicts, warnings }),
            Error::Placement { detail, grants } => problem(status, kind, &detail, json!({ "grants": grants })),
            Error::WouldBreak { detail, breaks } => problem(status, kind, &detail, json!({ "breaks": breaks })),
            Error::Unauthorized(detail) => {
                let mut r = problem(status, kind, &detail, json!({}));
                r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"territory\""));
                r
            }
            Error::Busy { detail, retry_after } => {
                let mut r = problem(status, kind, &detail, json!({}));
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                r
            }
            e if e.is_internal() => {
                tracing::error!(error = %chain(&e), "request failed");
                problem(status, kind, "the service failed to answer; the error is logged", json!({}))
            }
            other => problem(status, kind, &other.to_string(), json!({})),
        }
    }
}

impl From<QueryRejection> for Error {
    fn from(r: QueryRejection) -> Error {
        Error::BadRequest(format!("bad query string: {}", r.body_text()))
    }
}

impl From<PathRejection> for Error {
    fn from(r: PathRejection) -> Error {
        Error::BadRequest(format!("bad path: {}", r.body_text()))
    }
}

impl From<BytesRejection> for Error {
    /// A request body that could not be read: too large (413), or broken (400).
    fn from(r: BytesRejection) -> Error {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::TooLarge("the request body is larger than the limit".into())
        } else {
            Error::BadRequest(r.body_text())
        }
    }
}
