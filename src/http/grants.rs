//! `/networks/{net}/grants`: the exclusivity check, grants, revokes, conflicts, audit.

use super::AppState;
use super::extract::{GrantJson, Json, Path, Query};
use super::regions::geojson_response;
use crate::input::parse_bbox;
use crate::error::{Error, Result};
use crate::geometry::CoordSys;
use crate::domain::grants::{ConflictEntry, Status};
use crate::registry::GrantRequest;
use crate::store::grants::{GrantFilter, GrantRow};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/networks/{net}/grants", get(list).post(create))
        .route("/networks/{net}/grants/check", post(check))
        .route("/networks/{net}/grants/{id}", get(one))
        .route("/networks/{net}/grants/{id}/revoke", post(revoke))
        .route("/networks/{net}/conflicts", get(conflicts))
        .route("/networks/{net}/audit", get(audit))
}

/// `?coord_sys=` of routes that take geometry.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct CoordQuery {
    /// Datum of the input coordinates: `wgs84` (default), `gcj02` (Amap) or `bd09` (Baidu).
    #[serde(default)]
    pub coord_sys: CoordSys,
}

/// A stored grant as a GeoJSON Feature. It borrows the row: the stored GeoJSON text is
/// copied into the answer, not parsed and written again (a city is tens of KB).
#[derive(Debug, serde::Serialize)]
pub struct GrantFeature<'a> {
    r#type: &'static str,
    id: i64,
    geometry: &'a RawValue,
    properties: GrantProperties<'a>,
    /// Warnings of the decision that made the grant (only in the answer to a grant).
    #[serde(skip_serializing_if = "Option::is_none")]
    warnings: Option<&'a [ConflictEntry]>,
}

/// The properties of a [`GrantFeature`].
#[derive(Debug, serde::Serialize)]
struct GrantProperties<'a> {
    id: i64,
    network: &'a str,
    partner_id: i64,
    partner_name: &'a str,
    tier: &'a str,
    adcodes: &'a RawValue,
    exclusive: bool,
    valid_from: &'a str,
    valid_to: Option<&'a str>,
    status: &'a str,
    note: &'a str,
    area_km2: f64,
    created_at: &'a str,
    revoked_at: Option<&'a str>,
    revoke_reason: Option<&'a str>,
}

/// Stored JSON text as it is, or `null` if it is not JSON (never written so).
fn stored_json(text: Option<&str>) -> &RawValue {
    text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or(RawValue::NULL)
}

/// A stored grant as a GeoJSON Feature.
pub fn grant_feature(row: &GrantRow) -> GrantFeature<'_> {
    GrantFeature {
        r#type: "Feature",
        id: row.id,
        geometry: stored_json(Some(&row.geometry)),
        properties: GrantProperties {
            id: row.id,
            network: &row.network,
            partner_id: row.partner_id,
            partner_name: &row.partner_name,
            tier: &row.tier,
            adcodes: stored_json(row.adcodes.as_deref()),
            exclusive: row.exclusive,
            valid_from: &row.valid_from,
            valid_to: row.valid_to.as_deref(),
            status: &row.status,
            note: &row.note,
            area_km2: row.area_km2,
            created_at: &row.created_at,
            revoked_at: row.revoked_at.as_deref(),
            revoke_reason: row.revoke_reason.as_deref(),
        },
        warnings: None,
    }
}

/// Grants as a GeoJSON FeatureCollection.
#[derive(Debug, serde::Serialize)]
struct GrantCollection<'a> {
    r#type: &'static str,
    features: Vec<GrantFeature<'a>>,
}

/// Grants a territory: 201 with the grant, or 409 listing every conflicting grant.
#[utoipa::path(post, path = "/networks/{net}/grants", tag = "grants", params(("net" = String, Path), CoordQuery), request_body = GrantRequest,
    responses((status = 201, description = "granted: the grant as a Feature (with `warnings`)", content_type = "application/geo+json"),
              (status = 409, description = "refused: problem+json with `conflicts`", content_type = "application/problem+json"),
              (status = 422, description = "invalid input, located", content_type = "application/problem+json")))]
pub async fn create(State(app): State<AppState>, Path(net): Path<String>, Query(q): Query<CoordQuery>, GrantJson(req): GrantJson) -> Result<Response> {
    let (proposal, policy) = app.propose(&net, &req.body, q.coord_sys).await?;
    let (row, decision) = app.grant(&proposal, policy, &req.raw()?).await?;
    let mut body = grant_feature(&row);
    body.warnings = Some(&decision.warnings);
    let mut response = geojson_response(body);
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

/// Dry run: would this grant be refused? Writes nothing.
#[utoipa::path(post, path = "/networks/{net}/grants/check", tag = "grants", params(("net" = String, Path), CoordQuery), request_body = GrantRequest,
    responses((status = 200, description = "`{ok, conflicts, warnings}`", body = CheckAnswer), (status = 422, description = "invalid input, located")))]
pub async fn check(State(app): State<AppState>, Path(net): Path<String>, Query(q): Query<CoordQuery>, GrantJson(req): GrantJson) -> Result<Response> {
    let (proposal, policy) = app.propose(&net, &req.body, q.coord_sys).await?;
    let d = app.check(&proposal, policy).await?;
    // Contract systems call this for every grant they prepare: the overlaps' coordinates
    // are written straight into the answer (the same text as serde_json writes, faster).
    let body = crate::geometry::geojson_io::to_json_bytes(&CheckAnswer { ok: d.ok(), conflicts: d.conflicts, warnings: d.warnings })
        .map_err(|e| Error::Internal(format!("writing the answer: {e}")))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Answer of a dry-run check. Serialised from the typed entries: an overlap kept as GeoJSON
/// text is copied, one kept as an area is written straight into the answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CheckAnswer {
    /// Whether the grant would be made.
    pub ok: bool,
    /// Every grant it would break exclusivity with.
    pub conflicts: Vec<ConflictEntry>,
    /// Overlaps below the sliver tolerance.
    pub warnings: Vec<ConflictEntry>,
}

/// Filters of `GET /networks/{net}/grants`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct GrantQuery {
    /// Only this partner's grants.
    pub partner_id: Option<i64>,
    /// Only grants in force on this ISO date.
    pub active_on: Option<String>,
    /// `minx,miny,maxx,maxy`: only grants meeting the box.
    pub bbox: Option<String>,
    /// `active` or `revoked`.
    pub status: Option<String>,
}

/// Lists grants (revoked ones too, unless filtered) as a FeatureCollection.
#[utoipa::path(get, path = "/networks/{net}/grants", tag = "grants", params(("net" = String, Path), GrantQuery),
    responses((status = 200, description = "FeatureCollection", content_type = "application/geo+json")))]
pub async fn list(State(app): State<AppState>, Path(net): Path<String>, Query(q): Query<GrantQuery>) -> Result<Response> {
    app.network(&net).await?;
    let filter = GrantFilter {
        partner_id: q.partner_id,
        active_on: q.active_on.as_deref().map(|d| d.parse().map_err(|_| Error::BadRequest(format!("active_on `{d}`: expected YYYY-MM-DD")))).transpose()?,
        bbox: q.bbox.as_deref().map(parse_bbox).transpose()?,
        status: match q.status.as_deref() {
            None => None,
            Some("active") => Some(Status::Active),
            Some("revoked") => Some(Status::Revoked),
            Some(s) => return Err(Error::BadRequest(format!("status `{s}`: expected active or revoked"))),
        },
    };
    let rows = app.store.list_grants(&net, &filter).await?;
    Ok(geojson_response(GrantCollection { r#type: "FeatureCollection", features: rows.iter().map(grant_feature).collect() }))
}

/// One grant.
#[utoipa::path(get, path = "/networks/{net}/grants/{id}", tag = "grants", params(("net" = String, Path), ("id" = i64, Path)),
    responses((status = 200, description = "Feature", content_type = "application/geo+json"), (status = 404, description = "unknown")))]
pub async fn one(State(app): State<AppState>, Path((net, id)): Path<(String, i64)>) -> Result<Response> {
    Ok(geojson_response(grant_feature(&app.store.grant(&net, id).await?)))
}

/// Body of a revoke.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// Why.
    #[serde(default)]
    pub reason: String,
}

/// Revokes a grant; it stays, with status `revoked`.
#[utoipa::path(post, path = "/networks/{net}/grants/{id}/revoke", tag = "grants", params(("net" = String, Path), ("id" = i64, Path)), request_body = RevokeRequest,
    responses((status = 200, description = "the revoked grant"), (status = 404, description = "unknown"), (status = 409, description = "revoked already")))]
pub async fn revoke(State(app): State<AppState>, Path((net, id)): Path<(String, i64)>, req: Json<RevokeRequest>) -> Result<Response> {
    let row = app.revoke(&net, id, &req.body.reason).await?;
    Ok(geojson_response(grant_feature(&row)))
}

/// Every conflicting pair among the stored active grants.
#[utoipa::path(get, path = "/networks/{net}/conflicts", tag = "grants", params(("net" = String, Path)),
    responses((status = 200, description = "`{count, conflicts: [{grant_id, conflicts_with}]}`")))]
pub async fn conflicts(State(app): State<AppState>, Path(net): Path<String>) -> Result<axum::Json<Value>> {
    let pairs = app.conflicts(&net).await?;
    let list: Vec<Value> = pairs.iter().map(|(a, c)| json!({"grant_id": a, "conflicts_with": c})).collect();
    Ok(axum::Json(json!({"count": list.len(), "conflicts": list})))
}

/// Every grant decision, oldest first.
#[utoipa::path(get, path = "/networks/{net}/audit", tag = "grants", params(("net" = String, Path)),
    responses((status = 200, description = "`{entries: [...]}`")))]
pub async fn audit(State(app): State<AppState>, Path(net): Path<String>) -> Result<Response> {
    app.network(&net).await?;
    Ok(axum::Json(json!({"entries": app.store.audit(&net).await?})).into_response())
}
