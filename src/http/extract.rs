//! Extractors whose rejections are problem+json.

use crate::app::ledger::GrantRequest;
use crate::error::Error;
use crate::geometry::{CoordSys, GeometryLimits, PreRead};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

/// The media type of a request (`text/csv`), lower case, without parameters.
pub(super) fn content_type(headers: &axum::http::HeaderMap) -> String {
    let value = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    value.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// A body as text; not UTF-8 is a 400 problem.
pub(super) fn utf8(body: &[u8]) -> Result<&str, Error> {
    std::str::from_utf8(body).map_err(|e| Error::BadRequest(format!("the body is not UTF-8: {e}")))
}

/// A date given in the query as `name=YYYY-MM-DD`; a bad one is a 400 naming it.
pub(super) fn query_date(value: Option<&str>, name: &str) -> Result<Option<chrono::NaiveDate>, Error> {
    value.map(|d| crate::input::parse_date(d, name).map_err(|e| Error::BadRequest(format!("{name}: {}", e.detail)))).transpose()
}

/// Why a body read as a stream ([`body_reader`]) failed, if it did.
#[derive(Debug, Clone, Default)]
pub(super) struct BodyFailure(std::sync::Arc<std::sync::Mutex<Option<Error>>>);

impl BodyFailure {
    /// The failure: 413 past the limit, 400 for a body that came too slowly or broke off.
    pub(super) fn take(&self) -> Option<Error> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }
}

/// A request body as a blocking reader, for a thread off the async ones: the body is read
/// as the reader asks for it (64 KiB at a time, never whole) and fails past `limit` bytes.
/// Why it failed is kept in the [`BodyFailure`]. Must be called on the runtime.
pub(super) fn body_reader(body: axum::body::Body, limit: usize) -> (Box<dyn std::io::Read + Send>, BodyFailure) {
    use http_body_util::BodyExt;
    let failure = BodyFailure::default();
    let record = failure.clone();
    let body = http_body_util::Limited::new(body, limit).map_err(move |e| {
        let error = if e.is::<http_body_util::LengthLimitError>() {
            Error::TooLarge(format!("the request body is larger than this route's limit of {} MiB", limit >> 20))
        } else {
            Error::BadRequest(format!("the request body could not be read: {e}"))
        };
        let message = error.to_string();
        *record.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(error);
        std::io::Error::other(message)
    });
    let stream = http_body_util::BodyDataStream::new(body);
    (Box::new(tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream))), failure)
}

/// Query parameters; a malformed query string is a 400 problem.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Error))]
pub struct Query<T>(pub T);

/// Path parameters; a malformed one is a 400 problem.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Error))]
pub struct Path<T>(pub T);

/// A JSON body as typed `T`, and the body as received (for the audit log).
/// Malformed JSON is 400; JSON of the wrong shape is 422; too large is 413.
#[derive(Debug)]
pub struct Json<T> {
    /// The typed body.
    pub body: T,
    /// The body as received (valid JSON: `T` was read from it).
    bytes: Bytes,
}

impl<T> Json<T> {
    /// The body as received, as JSON text.
    pub fn raw(&self) -> Result<Box<RawValue>, Error> {
        let text = utf8(&self.bytes)?;
        RawValue::from_string(text.to_owned()).map_err(|e| Error::json(&e))
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = axum::response::Response;

    /// The body is read once, straight into `T` (a drawn geometry is kept as its text and
    /// read into coordinates later, without a `Value` tree). Only if that fails is the
    /// body scanned again, to tell malformed JSON (400) from a wrong shape (422).
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        use axum::response::IntoResponse;
        let bytes = Bytes::from_request(req, state).await.map_err(|e| Error::from(e).into_response())?;
        Json::from_bytes(bytes).map_err(IntoResponse::into_response)
    }
}

impl<T: DeserializeOwned> Json<T> {
    /// Reads a body already received (see [`Json::from_request`]).
    fn from_bytes(bytes: Bytes) -> Result<Self, Error> {
        let body = crate::input::from_json_located(&bytes)?;
        Ok(Json { body, bytes })
    }
}

/// A grant request body. A drawn geometry that is plainly right is read straight from the
/// body ([`crate::geometry::read::read_area_member`]) and serde_json reads the rest, with
/// the geometry's value replaced by `null`: otherwise serde_json scans the ~14 KB of a
/// district's coordinates once to find where they end, and copies them, before they are
/// read. Any other body, and any error, takes [`Json`]'s path, which names what is wrong.
#[derive(Debug)]
pub struct GrantJson(pub Json<GrantRequest>);

impl FromRequest<super::AppState> for GrantJson {
    type Rejection = axum::response::Response;

    async fn from_request(req: Request, state: &super::AppState) -> Result<Self, Self::Rejection> {
        use axum::response::IntoResponse;
        // The datum as the handler's own `Query` reads it; a bad query is left to it.
        let sys = axum::extract::Query::<CoordQuery>::try_from_uri(req.uri()).ok().map(|q| q.0.coord_sys);
        let bytes = Bytes::from_request(req, state).await.map_err(|e| Error::from(e).into_response())?;
        let (limits, light) = (state.ledger.limits, bytes.len() <= crate::app::INLINE_INPUT_BYTES);
        let read = move || match sys.and_then(|sys| read_geometry_first(&bytes, sys, limits)) {
            Some(body) => Ok(GrantJson(Json { body, bytes })),
            None => Json::from_bytes(bytes).map(GrantJson),
        };
        // Reading is linear in the body; a large one is read on the CPU pool.
        let read = crate::app::cpu_unless_light(light, read).await.and_then(|r| r);
        read.map_err(IntoResponse::into_response)
    }
}

/// The grant request in `bytes` with its geometry read straight from the body, if the
/// geometry is plainly right and the rest reads without error.
fn read_geometry_first(bytes: &Bytes, sys: CoordSys, limits: GeometryLimits) -> Option<GrantRequest> {
    let text = std::str::from_utf8(bytes).ok()?;
    let (span, area, multi) = crate::geometry::read::read_area_member(text, "geometry", sys, limits)?;
    let rest = [&text[..span.start], "null", &text[span.end..]].concat();
    let mut body: GrantRequest = serde_json::from_str(&rest).ok()?;
    body.pre_read = Some(PreRead { area, multi, sys, limits, text: bytes.slice(span) });
    Some(body)
}

/// `?dry_run=` of actions that answer first with what they would break.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct DryRunQuery {
    /// Only show what the action would break (`would_break`); change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// What an action (`revoking grant 3`) should do once its consequences are known: with
/// `dry_run`, answer them (`{dry_run, <key>: id, would_break}`); if it breaks something
/// and the request has no `force`, refuse with a 409 `would-break`; else go on (`None`).
pub(super) fn consequences_first(
    breaks: &[crate::domain::compliance::Breach],
    dry_run: bool,
    force: bool,
    action: &str,
    (key, id): (&str, i64),
) -> Result<Option<axum::response::Response>, Error> {
    use axum::response::IntoResponse;
    if dry_run {
        return Ok(Some(axum::Json(serde_json::json!({"dry_run": true, key: id, "would_break": breaks})).into_response()));
    }
    if !breaks.is_empty() && !force {
        let detail = format!("{action} would break the standard {} time(s) (see `breaks`); send \"force\": true to go ahead", breaks.len());
        return Err(Error::WouldBreak { detail, breaks: breaks.to_vec() });
    }
    Ok(None)
}

/// `?coord_sys=` of routes that take geometry.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct CoordQuery {
    /// Datum of the input coordinates: `wgs84` (default), `gcj02` (Amap) or `bd09` (Baidu).
    #[serde(default)]
    pub coord_sys: CoordSys,
}
