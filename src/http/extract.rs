//! Extractors whose rejections are problem+json.

use super::problem::{BodyError, json_error};
use crate::error::Error;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Query parameters; a malformed query string is a 400 problem.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Error))]
pub struct Query<T>(pub T);

/// Path parameters; a malformed one is a 400 problem.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Error))]
pub struct Path<T>(pub T);

/// A JSON body as typed `T` plus the raw value (kept for the audit log).
/// Malformed JSON is 400; JSON of the wrong shape is 422; too large is 413.
#[derive(Debug)]
pub struct Json<T> {
    /// The typed body.
    pub body: T,
    /// The body as received.
    pub raw: Value,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = axum::response::Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        use axum::response::IntoResponse;
        let bytes = Bytes::from_request(req, state).await.map_err(|e| BodyError(e).into_response())?;
        let raw: Value = serde_json::from_slice(&bytes).map_err(|e| json_error(&e).into_response())?;
        let body = deserialize_located(&raw).map_err(IntoResponse::into_response)?;
        Ok(Json { body, raw })
    }
}

/// Deserialises a JSON value, locating a wrong shape with a JSON pointer (422).
pub fn deserialize_located<T: DeserializeOwned>(raw: &Value) -> Result<T, Error> {
    serde_path_to_error::deserialize(raw).map_err(|e| {
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
    })
}
