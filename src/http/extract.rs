//! Extractors whose rejections are problem+json.

use super::problem::{BodyError, json_error};
use crate::error::Error;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

/// Query parameters; a malformed query string is a 400 problem.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Error))]
pub struct Query<T>(pub T);

/// Path parameters; a malformed one is a 400 problem.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Error))]
pub struct Path<T>(pub T);

/// A JSON body as typed `T` plus the text as received (kept for the audit log).
/// Malformed JSON is 400; JSON of the wrong shape is 422; too large is 413.
#[derive(Debug)]
pub struct Json<T> {
    /// The typed body.
    pub body: T,
    /// The body as received (checked to be JSON).
    pub raw: Box<RawValue>,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = axum::response::Response;

    /// The body is read once into `T` (a drawn geometry is not built twice, as a `Value`
    /// for the audit log and again for the request); the text is kept as it came.
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        use axum::response::IntoResponse;
        let bytes = Bytes::from_request(req, state).await.map_err(|e| BodyError(e).into_response())?;
        let raw: &RawValue = serde_json::from_slice(&bytes).map_err(|e| json_error(&e).into_response())?;
        let raw = raw.to_owned();
        let mut reader = serde_json::Deserializer::from_str(raw.get());
        let body = match serde_path_to_error::deserialize(&mut reader) {
            Ok(body) => body,
            // Syntax the scan above let through (a number out of range) is still a 400.
            Err(e) if !e.inner().is_data() => return Err(json_error(e.inner()).into_response()),
            Err(e) => return Err(located(e).into_response()),
        };
        Ok(Json { body, raw })
    }
}

/// Deserialises a JSON value, locating a wrong shape with a JSON pointer (422).
pub fn deserialize_located<T: DeserializeOwned>(raw: &Value) -> Result<T, Error> {
    serde_path_to_error::deserialize(raw).map_err(located)
}

/// A wrong shape, located with a JSON pointer (422).
fn located(e: serde_path_to_error::Error<serde_json::Error>) -> Error {
    use serde_path_to_error::Segment;
    let pointer: String = e
        .path()
        .iter()
        .filter_map(|s| match s {
            Segment::Seq { index } => Some(format!("/{index}")),
            Segment::Map { key } => Some(format!("/{}", key.replace('~', "~0").replace('/', "~1"))),
            Segment::Enum { variant } => Some(format!("/{variant}")),
            Segment::Unknown => None,
        })
        .collect();
    Error::Invalid(vec![crate::error::InputError::at(pointer, e.inner().to_string())])
}
