//! `/networks/{net}/demand`, `/score` and `/plan`.

use super::AppState;
use super::Links;
use super::extract::CoordQuery;
use super::extract::{Path, Query, content_type, utf8};
use super::geojson_response;
use crate::app::demand::{GridInfo, Upload};
use crate::app::scoring::{CandidateSource, PlanOptions, PlanRequest, ScoreRequest, check_candidate_count, read_candidates};
use crate::domain::access::Caller;
use crate::domain::scoring::network::{PlanAnswer, ScoreAnswer, ScoreGeoJson};
use crate::error::{Error, Result};
use crate::input::parse_bbox;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::{post, put};
use serde::Deserialize;
use serde_json::json;

/// Largest demand upload: a national res-8 grid as CSV is about 300 MB. It is read as it
/// comes, so its memory follows the cells kept (about 110 bytes each), not its size.
pub const MAX_DEMAND_BYTES: usize = 512 * 1024 * 1024;

/// The demand route: its upload is read as a stream, as its work (see [`super::admission`]).
pub(super) const DEMAND_ROUTE: &str = "/networks/{net}/demand";

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(DEMAND_ROUTE, put(put_demand).get(get_demand))
        .route("/networks/{net}/registrations", put(put_registrations))
        .route("/networks/{net}/score", post(score))
        .route("/networks/{net}/plan", post(plan))
}

/// Replaces the network's demand grid: CSV `h3,demand` (`text/csv`) or JSON
/// `{"cells": [{"h3", "demand"}]}`. Every bad line is reported and nothing is replaced.
#[utoipa::path(put, path = "/networks/{net}/demand", tag = "scoring", params(("net" = String, Path)),
    request_body(description = "CSV `h3,demand` (text/csv) or JSON `{cells: [{h3, demand}]}`", content(
        (String = "text/csv"),
        (Object = "application/json")
    )),
    responses((status = 200, description = "the stored grid's header", body = GridInfo), (status = 422, description = "bad lines, located")))]
pub async fn put_demand(
    State(app): State<AppState>,
    caller: Caller,
    Path(net): Path<String>,
    axum::Extension(limits): axum::Extension<super::HttpLimits>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<axum::Json<GridInfo>> {
    let (input, failure) = super::extract::body_reader(body, MAX_DEMAND_BYTES);
    let upload = if content_type(&headers) == "text/csv" { Upload::Csv(input) } else { Upload::Json(input) };
    let stored = app.demand.upload(&caller, &net, upload, limits.max_import_features, "upload").await;
    // A body that failed (too large, too slow) is answered as such, whatever the reader made of it.
    failure.take().map_or(stored, Err).map(axum::Json)
}

/// `?year=&share=` of `PUT /registrations`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct RegistrationQuery {
    /// The year to build the grid from (default: the latest in the file).
    pub year: Option<i32>,
    /// The brand's share of the registrations given (default 1: they are the brand's own,
    /// or its segment's share is applied already).
    pub share: Option<f64>,
}

/// Replaces the network's demand grid with new-car registrations (insurance registration
/// counts, 上险数): CSV `adcode,year,units` for districts, cities or provinces, spread over
/// each region's districts by population. Every bad line is named; nothing is replaced then.
#[utoipa::path(put, path = "/networks/{net}/registrations", tag = "scoring", params(("net" = String, Path), RegistrationQuery),
    request_body(description = "CSV `adcode,year,units`", content((String = "text/csv"))),
    responses((status = 200, description = "the stored grid's header", body = GridInfo), (status = 422, description = "bad lines, located")))]
pub async fn put_registrations(
    State(app): State<AppState>,
    caller: Caller,
    Path(net): Path<String>,
    Query(q): Query<RegistrationQuery>,
    body: Bytes,
) -> Result<axum::Json<GridInfo>> {
    let (info, _) = app.demand.registrations(&caller, &net, utf8(&body)?, q.year, q.share).await?;
    Ok(axum::Json(info))
}

/// `?bbox=&limit=&offset=` of `GET /demand`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct DemandQuery {
    /// `min_lon,min_lat,max_lon,max_lat`: cells whose centre lies inside.
    pub bbox: Option<String>,
    /// Most cells returned (default 10,000, at most 100,000); the `next` link gives the rest.
    pub limit: Option<usize>,
    /// Cells skipped first (default 0), as the `next` link sets it.
    #[serde(default)]
    pub offset: usize,
}

/// The grid's cells as hexagons (`h3`, `demand`), within a box, a page at a time: `links`
/// holds `self` and, while cells are left, `next`.
#[utoipa::path(get, path = "/networks/{net}/demand", tag = "scoring", params(("net" = String, Path), DemandQuery),
    responses((status = 200, description = "FeatureCollection of hexagons", content_type = "application/geo+json"), (status = 409, description = "no grid yet")))]
pub async fn get_demand(State(app): State<AppState>, caller: Caller, links: Links, Path(net): Path<String>, Query(q): Query<DemandQuery>) -> Result<Response> {
    let bbox = q.bbox.as_deref().map(parse_bbox).transpose()?;
    let cells = app.demand.cells(&caller, &net, bbox, q.limit, q.offset).await?;
    let returned = cells.features.len();
    let (path, limit) = (format!("/networks/{net}/demand"), q.limit.unwrap_or(crate::app::demand::CELLS_DEFAULT));
    let page = |offset: usize| links.page(&path, limit, offset, q.bbox.as_deref(), None);
    let mut page_links = vec![json!({"rel": "self", "href": page(q.offset), "type": "application/geo+json"})];
    if q.offset + returned < cells.matched {
        page_links.push(json!({"rel": "next", "href": page(q.offset + returned), "type": "application/geo+json"}));
    }
    Ok(geojson_response(json!({
        "type": "FeatureCollection",
        "grid": cells.info,
        "numberMatched": cells.matched,
        "numberReturned": returned,
        "features": cells.features,
        "links": page_links,
    })))
}

/// `?coord_sys=&partner_id=&output=` of `/score`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ScoreQuery {
    /// Datum of the candidates' coordinates.
    #[serde(default)]
    pub coord_sys: crate::geometry::CoordSys,
    /// The partner (for GeoJSON or CSV bodies; a JSON body names it itself).
    pub partner_id: Option<i64>,
    /// `json` (default) or `geojson` (points with the scores, for QGIS).
    pub output: Option<String>,
    /// The outlets to score against: `open` (default) or `planned` (with the pipeline).
    #[serde(default)]
    pub network: crate::domain::scoring::network::NetworkView,
}

/// Scores candidates against the network's current outlets: every figure of docs/scoring.md,
/// the site-type comparison, the format recommendation and the territory check.
/// Body: JSON `{partner_id?, candidates}`, a GeoJSON FeatureCollection of Points, or CSV
/// `id,lon,lat,site_type,format` (`text/csv`).
#[utoipa::path(post, path = "/networks/{net}/score", tag = "scoring", params(("net" = String, Path), ScoreQuery), request_body = ScoreRequest,
    responses((status = 200, description = "one result per candidate", body = ScoreAnswer), (status = 409, description = "no demand grid yet"), (status = 422, description = "invalid candidates, located")))]
pub async fn score(
    State(app): State<AppState>,
    caller: Caller,
    Path(net): Path<String>,
    Query(q): Query<ScoreQuery>,
    axum::Extension(limits): axum::Extension<super::HttpLimits>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let source = if content_type(&headers) == "text/csv" { CandidateSource::Csv(utf8(&body)?) } else { CandidateSource::Json(&body) };
    let (named, candidates) = read_candidates(source)?;
    let partner_id = named.or(q.partner_id);
    check_candidate_count(candidates.len(), limits.max_import_features)?;
    let answer: ScoreAnswer = app.scoring.score(&caller, &net, partner_id, &candidates, q.coord_sys, q.network).await?;
    let geojson = q.output.as_deref() == Some("geojson") || headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("geo+json"));
    match q.output.as_deref() {
        Some("json" | "geojson") | None => {}
        Some(other) => return Err(Error::BadRequest(format!("output `{other}`: use json or geojson"))),
    }
    // One answer per candidate, often the largest answer of the API: sent as it is written.
    Ok(if geojson { super::streamed::json(ScoreGeoJson(answer), "application/geo+json") } else { super::streamed::json(answer, "application/json") })
}

/// Chooses up to k candidates greedily (docs/scoring.md), reporting each step's gain and the
/// network total after it.
#[utoipa::path(post, path = "/networks/{net}/plan", tag = "scoring", params(("net" = String, Path), CoordQuery), request_body = PlanRequest,
    responses((status = 200, description = "the greedy choice", body = PlanAnswer), (status = 409, description = "no demand grid yet"), (status = 422, description = "invalid input, located")))]
pub async fn plan(
    State(app): State<AppState>,
    caller: Caller,
    Path(net): Path<String>,
    Query(q): Query<CoordQuery>,
    req: super::extract::Json<PlanRequest>,
) -> Result<axum::Json<PlanAnswer>> {
    let r = req.body;
    let options = PlanOptions::new(&r)?;
    Ok(axum::Json(app.scoring.plan(&caller, &net, r.partner_id, &r.candidates, options, q.coord_sys).await?))
}
