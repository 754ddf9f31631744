//! `/networks/{net}/sales`, `/calibrate` and `/model(s)`: observed sales, and the scoring
//! model fitted to them, its versions and a rollback.

use super::AppState;
use super::extract::{Json, Path, Query, content_type, utf8};
use crate::app::model::{Calibrated, ModelVersion};
use crate::app::sales::{SalesBody, SalesRow, SalesStored, SalesUpload};
use crate::domain::access::Caller;
use crate::error::Result;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/networks/{net}/sales", get(list_sales).put(put_sales))
        .route("/networks/{net}/calibrate", post(calibrate))
        .route("/networks/{net}/model", get(model))
        .route("/networks/{net}/models", get(models))
        .route("/networks/{net}/model/rollback", post(rollback))
}

/// Replaces the sales of every year the upload names: CSV `outlet_id,year,units[,district]`
/// (`text/csv`; `external_id` may stand for `outlet_id`) or JSON `{rows: [...]}`. All or
/// nothing; every bad line named.
#[utoipa::path(put, path = "/networks/{net}/sales", tag = "scoring", params(("net" = String, Path)),
    request_body(description = "CSV `outlet_id,year,units[,district]` (text/csv) or JSON `{rows: [{outlet_id|external_id, year, units, district?}]}`", content(
        (String = "text/csv"),
        (SalesBody = "application/json")
    )),
    responses((status = 200, description = "what was stored", body = SalesStored), (status = 422, description = "bad lines, located")))]
pub async fn put_sales(
    State(app): State<AppState>,
    caller: Caller,
    Path(net): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::Json<SalesStored>> {
    let upload = if content_type(&headers) == "text/csv" { SalesUpload::Csv(utf8(&body)?) } else { SalesUpload::Json(&body) };
    Ok(axum::Json(app.sales.upload(&caller, &net, upload, "upload").await?))
}

/// `?year=` of the sales listing.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct YearQuery {
    /// Only this year.
    pub year: Option<i64>,
}

/// The network's observed sales (a partner token: its own outlets').
#[utoipa::path(get, path = "/networks/{net}/sales", tag = "scoring", params(("net" = String, Path), YearQuery),
    responses((status = 200, description = "`{rows: [{outlet_id, year, district, units, source}]}`")))]
pub async fn list_sales(State(app): State<AppState>, caller: Caller, Path(net): Path<String>, Query(q): Query<YearQuery>) -> Result<axum::Json<Value>> {
    let rows: Vec<SalesRow> = app.sales.list(&caller, &net, q.year).await?;
    Ok(axum::Json(json!({ "rows": rows })))
}

/// Body of `POST /calibrate`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalibrateRequest {
    /// The year of sales to fit (default: the latest).
    #[serde(default)]
    pub year: Option<i64>,
}

/// Fits the scoring model to the network's observed sales and puts the fit in force as a
/// new version: `parameters` (as the policy's `scoring` section), `standard_errors`,
/// `intervals` (95 %), `fit` (`n_outlets`, `r2`, `mape`, `holdout_mape`), `unidentified`.
#[utoipa::path(post, path = "/networks/{net}/calibrate", tag = "scoring", params(("net" = String, Path)), request_body = CalibrateRequest,
    responses((status = 200, description = "the new version", body = Calibrated), (status = 409, description = "no sales or no demand grid yet"),
              (status = 422, description = "too few sales to fit, or no sales of that year")))]
pub async fn calibrate(State(app): State<AppState>, caller: Caller, Path(net): Path<String>, req: Json<CalibrateRequest>) -> Result<axum::Json<Calibrated>> {
    Ok(axum::Json(app.models.calibrate(&caller, &net, req.body.year).await?))
}

/// The model version in force.
#[utoipa::path(get, path = "/networks/{net}/model", tag = "scoring", params(("net" = String, Path)),
    responses((status = 200, description = "the version in force", body = ModelVersion)))]
pub async fn model(State(app): State<AppState>, caller: Caller, Path(net): Path<String>) -> Result<axum::Json<ModelVersion>> {
    Ok(axum::Json(app.models.current(&caller, &net).await?))
}

/// Every version of the network's model: the policy's (0), then each fit.
#[utoipa::path(get, path = "/networks/{net}/models", tag = "scoring", params(("net" = String, Path)),
    responses((status = 200, description = "`{versions: [...]}`")))]
pub async fn models(State(app): State<AppState>, caller: Caller, Path(net): Path<String>) -> Result<axum::Json<Value>> {
    Ok(axum::Json(json!({ "versions": app.models.history(&caller, &net).await? })))
}

/// Body of a rollback.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The version to put back in force (0: the policy's).
    pub version: i64,
}

/// Puts an earlier version (0: the policy's) back in force.
#[utoipa::path(post, path = "/networks/{net}/model/rollback", tag = "scoring", params(("net" = String, Path)), request_body = RollbackRequest,
    responses((status = 200, description = "the version now in force", body = ModelVersion), (status = 422, description = "no such version")))]
pub async fn rollback(State(app): State<AppState>, caller: Caller, Path(net): Path<String>, req: Json<RollbackRequest>) -> Result<axum::Json<ModelVersion>> {
    Ok(axum::Json(app.models.rollback(&caller, &net, req.body.version).await?))
}
