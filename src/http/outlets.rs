//! `/networks/{net}/outlets`, the network's format standard and its compliance report.

use super::AppState;
use super::extract::CoordQuery;
use super::extract::{Json, Path, Query};
use super::geojson_response;
use crate::app::outlets::{CloseRequest, NamedOutlet, OutletFilter, StageRequest};
use crate::domain::access::{Caller, Role};
use crate::domain::compliance::Report;
use crate::domain::outlets::{OutletRequest, OutletStatus};
use crate::domain::pipeline::Pipeline;
use crate::domain::standard::Standard;
use crate::error::Result;
use crate::input::parse_bbox;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/networks/{net}/outlets", get(list).post(create))
        .route("/networks/{net}/outlets/{id}", get(one).patch(update))
        .route("/networks/{net}/outlets/{id}/close", post(close))
        .route("/networks/{net}/outlets/{id}/stage", post(stage))
        .route("/networks/{net}/pipeline", get(pipeline))
        .route("/networks/{net}/standard", get(standard))
        .route("/networks/{net}/compliance", get(compliance))
}

/// Creates an outlet: 201 Feature; 409 if an own outlet stands outside its partner's
/// grants or inside another partner's exclusive grant.
#[utoipa::path(post, path = "/networks/{net}/outlets", tag = "outlets", params(("net" = String, Path), CoordQuery), request_body = OutletRequest,
    responses((status = 201, description = "the outlet as a Feature", content_type = "application/geo+json"),
              (status = 409, description = "outside the partner's grants, or inside another partner's exclusive grant (`grants`)", content_type = "application/problem+json"),
              (status = 422, description = "invalid input, located", content_type = "application/problem+json")))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Path(net): Path<String>,
    Query(q): Query<CoordQuery>,
    req: Json<OutletRequest>,
) -> Result<Response> {
    let outlet = app.outlets.create(&caller, &net, &req.body, q.coord_sys).await?;
    let mut response = geojson_response(outlet.feature());
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

/// Filters of `GET /networks/{net}/outlets`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct OutletQuery {
    /// Only this partner's outlets.
    pub partner_id: Option<i64>,
    /// `true`: only competitors' outlets; `false`: only own.
    pub competitor: Option<bool>,
    /// Only outlets with this status (`proposed`, `approved`, `under_construction`,
    /// `open`, `closed`, `rejected`, `cancelled`).
    pub status: Option<OutletStatus>,
    /// `min_lon,min_lat,max_lon,max_lat` (WGS84).
    pub bbox: Option<String>,
    /// Only the outlets open on this ISO day, past or future: opened by then and not closed
    /// by then (for a later day, also those in the pipeline planned to open by then).
    pub on: Option<String>,
}

/// The network's outlets as a FeatureCollection.
#[utoipa::path(get, path = "/networks/{net}/outlets", tag = "outlets", params(("net" = String, Path), OutletQuery),
    responses((status = 200, description = "FeatureCollection", content_type = "application/geo+json")))]
pub async fn list(State(app): State<AppState>, caller: Caller, Path(net): Path<String>, Query(q): Query<OutletQuery>) -> Result<Response> {
    let filter = OutletFilter { partner_id: q.partner_id, competitor: q.competitor, status: q.status, bbox: q.bbox.as_deref().map(parse_bbox).transpose()? };
    let on = super::extract::query_date(q.on.as_deref(), "on")?;
    let outlets = app.outlets.list(&caller, &net, &filter, on).await?;
    let features: Vec<Value> = outlets.iter().map(NamedOutlet::feature).collect();
    Ok(geojson_response(json!({"type": "FeatureCollection", "features": features})))
}

/// One outlet as a Feature.
#[utoipa::path(get, path = "/networks/{net}/outlets/{id}", tag = "outlets", params(("net" = String, Path), ("id" = i64, Path)),
    responses((status = 200, description = "Feature", content_type = "application/geo+json"), (status = 404, description = "unknown")))]
pub async fn one(State(app): State<AppState>, caller: Caller, Path((net, id)): Path<(String, i64)>) -> Result<Response> {
    Ok(geojson_response(app.outlets.one(&caller, &net, id).await?.feature()))
}

/// Updates an open outlet with a JSON Merge Patch (RFC 7396): send only the fields to
/// change; `null` clears an optional one. Checked like a new outlet.
#[utoipa::path(patch, path = "/networks/{net}/outlets/{id}", tag = "outlets", params(("net" = String, Path), ("id" = i64, Path), CoordQuery),
    request_body(content = Object, description = "merge patch of the outlet's fields"),
    responses((status = 200, description = "the updated Feature", content_type = "application/geo+json"),
              (status = 409, description = "closed, or the new place breaks the territory rule"), (status = 422, description = "invalid input, located")))]
pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path((net, id)): Path<(String, i64)>,
    Query(q): Query<CoordQuery>,
    patch: Json<Value>,
) -> Result<Response> {
    Ok(geojson_response(app.outlets.update(&caller, &net, id, &patch.body, q.coord_sys).await?.feature()))
}

/// Closes an outlet; it is kept with status `closed`.
#[utoipa::path(post, path = "/networks/{net}/outlets/{id}/close", tag = "outlets", params(("net" = String, Path), ("id" = i64, Path), super::extract::DryRunQuery), request_body = CloseRequest,
    responses((status = 200, description = "the closed outlet, or with `dry_run` `{dry_run, outlet_id, would_break}`", content_type = "application/geo+json"),
        (status = 409, description = "closed already, or `would-break` with `breaks` (send `force`)")))]
pub async fn close(
    State(app): State<AppState>,
    caller: Caller,
    Path((net, id)): Path<(String, i64)>,
    Query(q): Query<super::extract::DryRunQuery>,
    req: Json<CloseRequest>,
) -> Result<Response> {
    crate::app::check_reason(&req.body.reason)?;
    let breaks = app.compliance.consequences(&caller, &net, crate::app::compliance::Change::Close(id)).await?;
    if let Some(answer) = super::extract::consequences_first(&breaks, q.dry_run, req.body.force, &format!("closing outlet {id}"), ("outlet_id", id))? {
        return Ok(answer);
    }
    Ok(geojson_response(app.outlets.close(&caller, &net, id, &req.body, &breaks).await?.feature()))
}

/// Moves an outlet in the pipeline (proposed → approved → under construction → open, or
/// rejected / cancelled), dated; the move is in the audit log.
#[utoipa::path(post, path = "/networks/{net}/outlets/{id}/stage", tag = "outlets", params(("net" = String, Path), ("id" = i64, Path)), request_body = StageRequest,
    responses((status = 200, description = "the moved outlet as a Feature", content_type = "application/geo+json"),
        (status = 409, description = "its stage does not lead there, or the opening breaks the territory rule", content_type = "application/problem+json"),
        (status = 422, description = "a bad day or a missing reason, located", content_type = "application/problem+json")))]
pub async fn stage(State(app): State<AppState>, caller: Caller, Path((net, id)): Path<(String, i64)>, req: Json<StageRequest>) -> Result<Response> {
    Ok(geojson_response(app.outlets.move_stage(&caller, &net, id, &req.body).await?.feature()))
}

/// `?partner_id=&on=` of the pipeline.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct PipelineQuery {
    /// Only this partner's outlets.
    pub partner_id: Option<i64>,
    /// The day (ISO date, past or future; default today).
    pub on: Option<String>,
}

/// Every outlet not yet open on a day: its stage, due day, days left or overdue.
#[utoipa::path(get, path = "/networks/{net}/pipeline", tag = "outlets", params(("net" = String, Path), PipelineQuery),
    responses((status = 200, description = "the pipeline", body = Pipeline), (status = 404, description = "unknown network or partner")))]
pub async fn pipeline(State(app): State<AppState>, caller: Caller, Path(net): Path<String>, Query(q): Query<PipelineQuery>) -> Result<axum::Json<Pipeline>> {
    let on = super::extract::query_date(q.on.as_deref(), "on")?;
    Ok(axum::Json(app.outlets.pipeline(&caller, &net, q.partner_id, on).await?))
}

/// The network's format standard: formats, minima, tiers, roles.
#[utoipa::path(get, path = "/networks/{net}/standard", tag = "outlets", params(("net" = String, Path)),
    responses((status = 200, description = "the standard", body = Standard)))]
pub async fn standard(State(app): State<AppState>, caller: Caller, Path(net): Path<String>) -> Result<axum::Json<&'static Standard>> {
    Ok(axum::Json(app.catalog.enter(&caller, &net, Role::Viewer).await?.policy.standard()))
}

/// `?partner_id=&on=` of the compliance report.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ComplianceQuery {
    /// Only this partner.
    pub partner_id: Option<i64>,
    /// The day to check (ISO date, today or later; default today): the grants in force
    /// and the outlets open on it.
    pub on: Option<String>,
}

/// The network checked against its format standard: every breach, and a summary per partner.
#[utoipa::path(get, path = "/networks/{net}/compliance", tag = "outlets", params(("net" = String, Path), ComplianceQuery),
    responses((status = 200, description = "the report", body = Report), (status = 404, description = "unknown network or partner")))]
pub async fn compliance(State(app): State<AppState>, caller: Caller, Path(net): Path<String>, Query(q): Query<ComplianceQuery>) -> Result<axum::Json<Report>> {
    let on = super::extract::query_date(q.on.as_deref(), "on")?;
    Ok(axum::Json(app.compliance.report(&caller, &net, q.partner_id, on).await?))
}
