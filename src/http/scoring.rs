//! `/networks/{net}/demand`, `/score` and `/plan`.

use super::AppState;
use super::extract::{Path, Query};
use crate::input::{deserialize_located, parse_bbox};
use super::grants::CoordQuery;
use super::regions::geojson_response;
use crate::domain::demand::input;
use crate::error::{Error, Result};
use crate::domain::scoring::network::{CandidateInput, PlanAnswer, ScoreAnswer, candidates_from_csv, candidates_from_geojson, score_geojson};
use crate::store::demand::GridInfo;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use h3o::CellIndex;
use serde::Deserialize;
use serde_json::{Value, json};

/// Largest demand upload: a national res-8 grid as CSV is about 300 MB.
pub const MAX_DEMAND_BYTES: usize = 512 * 1024 * 1024;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/networks/{net}/demand", put(put_demand).get(get_demand).layer(DefaultBodyLimit::max(MAX_DEMAND_BYTES)))
        .route("/networks/{net}/score", post(score))
        .route("/networks/{net}/plan", post(plan))
}

fn content_type(headers: &HeaderMap) -> String {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

fn utf8(body: &Bytes) -> Result<&str> {
    std::str::from_utf8(body).map_err(|e| Error::BadRequest(format!("the body is not UTF-8: {e}")))
}

fn json_body(body: &Bytes) -> Result<Value> {
    serde_json::from_slice(body).map_err(|e| super::problem::json_error(&e))
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
    Path(net): Path<String>,
    axum::Extension(limits): axum::Extension<super::HttpLimits>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::Json<GridInfo>> {
    app.network(&net).await?;
    let rows = if content_type(&headers) == "text/csv" {
        let text = utf8(&body)?.to_string();
        tokio::task::spawn_blocking(move || input::from_csv(&text)).await.map_err(|e| Error::Internal(e.to_string()))?
    } else {
        input::from_json(&json_body(&body)?)
    };
    let rows = rows.map_err(Error::Invalid)?;
    if rows.len() > limits.max_import_features {
        return Err(Error::invalid("", format!("{} cells; one upload takes at most {} (--max-import-features)", rows.len(), limits.max_import_features)));
    }
    Ok(axum::Json(app.replace_demand(&net, rows, "upload").await?))
}

/// `?bbox=&limit=` of `GET /demand`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct DemandQuery {
    /// `min_lon,min_lat,max_lon,max_lat`: cells whose centre lies inside.
    pub bbox: Option<String>,
    /// Most cells returned (default 10,000, at most 100,000).
    pub limit: Option<usize>,
}

/// The grid's cells as hexagons (`h3`, `demand`), within a box.
#[utoipa::path(get, path = "/networks/{net}/demand", tag = "scoring", params(("net" = String, Path), DemandQuery),
    responses((status = 200, description = "FeatureCollection of hexagons", content_type = "application/geo+json"), (status = 409, description = "no grid yet")))]
pub async fn get_demand(State(app): State<AppState>, Path(net): Path<String>, Query(q): Query<DemandQuery>) -> Result<Response> {
    let (info, grid) = app.grid(&net).await?;
    let limit = q.limit.unwrap_or(10_000);
    if limit == 0 || limit > 100_000 {
        return Err(Error::BadRequest(format!("limit {limit}: use 1 to 100000")));
    }
    let bbox = q.bbox.as_deref().map(parse_bbox).transpose()?;
    let (features, matched) = tokio::task::spawn_blocking(move || {
        let inside = |i: usize| {
            bbox.is_none_or(|[x0, y0, x1, y1]| {
                let (lon, lat) = crate::domain::demand::lon_lat(&grid.centres[i]);
                lon >= x0 && lon <= x1 && lat >= y0 && lat <= y1
            })
        };
        let positions: Vec<usize> = match bbox {
            Some(b) => grid.ranges_in_box(b).into_iter().flatten().filter(|&i| inside(i)).collect(),
            None => (0..grid.len()).collect(),
        };
        let features: Vec<Value> = positions.iter().take(limit).filter_map(|&i| hexagon(grid.cells[i], grid.demand[i])).collect();
        (features, positions.len())
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?;
    let returned = features.len();
    Ok(geojson_response(json!({"type": "FeatureCollection", "grid": info, "numberMatched": matched, "numberReturned": returned, "features": features})))
}

fn hexagon(raw: u64, demand: f64) -> Option<Value> {
    let cell = CellIndex::try_from(raw).ok()?;
    let mut ring: Vec<[f64; 2]> = cell.boundary().iter().map(|ll| [ll.lng(), ll.lat()]).collect();
    ring.push(*ring.first()?);
    Some(json!({"type": "Feature", "id": cell.to_string(), "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": {"h3": cell.to_string(), "demand": demand}}))
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
}

/// Body of `POST /score` as JSON.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreRequest {
    /// The partner the candidates are for (its tier's formats; its territory).
    #[serde(default)]
    pub partner_id: Option<i64>,
    /// The candidates.
    pub candidates: Vec<CandidateInput>,
}

/// Scores candidates against the network's current outlets: every figure of SCORING.md,
/// the site-type comparison, the format recommendation and the territory check.
/// Body: JSON `{partner_id?, candidates}`, a GeoJSON FeatureCollection of Points, or CSV
/// `id,lon,lat,site_type,format` (`text/csv`).
#[utoipa::path(post, path = "/networks/{net}/score", tag = "scoring", params(("net" = String, Path), ScoreQuery), request_body = ScoreRequest,
    responses((status = 200, description = "one result per candidate", body = ScoreAnswer), (status = 409, description = "no demand grid yet"), (status = 422, description = "invalid candidates, located")))]
pub async fn score(
    State(app): State<AppState>,
    Path(net): Path<String>,
    Query(q): Query<ScoreQuery>,
    axum::Extension(limits): axum::Extension<super::HttpLimits>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let ctype = content_type(&headers);
    let (partner_id, candidates) = if ctype == "text/csv" {
        (q.partner_id, candidates_from_csv(utf8(&body)?)?)
    } else {
        let value = json_body(&body)?;
        if value.get("type").and_then(Value::as_str) == Some("FeatureCollection") {
            (q.partner_id, candidates_from_geojson(&value)?)
        } else {
            let req: ScoreRequest = deserialize_located(&value)?;
            (req.partner_id.or(q.partner_id), req.candidates)
        }
    };
    if candidates.len() > limits.max_import_features {
        return Err(Error::invalid("/candidates", format!("{} candidates; one request takes at most {} (--max-import-features)", candidates.len(), limits.max_import_features)));
    }
    let answer: ScoreAnswer = app.score(&net, partner_id, &candidates, q.coord_sys).await?;
    let geojson = q.output.as_deref() == Some("geojson") || headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("geo+json"));
    match q.output.as_deref() {
        Some("json" | "geojson") | None => {}
        Some(other) => return Err(Error::BadRequest(format!("output `{other}`: use json or geojson"))),
    }
    Ok(if geojson { geojson_response(score_geojson(&answer)) } else { axum::Json(answer).into_response() })
}

/// Body of `POST /plan`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    /// The partner the sites are for.
    #[serde(default)]
    pub partner_id: Option<i64>,
    /// How many sites to choose at most.
    pub k: usize,
    /// The candidates.
    pub candidates: Vec<CandidateInput>,
    /// Stop when no candidate gains at least this (default 0).
    #[serde(default)]
    pub min_gain: Option<f64>,
    /// Only candidates the partner may open (inside its grants, outside others' exclusive ones).
    #[serde(default)]
    pub within_territory: bool,
}

/// Chooses up to k candidates greedily (SCORING.md), reporting each step's gain and the
/// network total after it.
#[utoipa::path(post, path = "/networks/{net}/plan", tag = "scoring", params(("net" = String, Path), CoordQuery), request_body = PlanRequest,
    responses((status = 200, description = "the greedy choice", body = PlanAnswer), (status = 409, description = "no demand grid yet"), (status = 422, description = "invalid input, located")))]
pub async fn plan(State(app): State<AppState>, Path(net): Path<String>, Query(q): Query<CoordQuery>, req: super::extract::Json<PlanRequest>) -> Result<axum::Json<PlanAnswer>> {
    let r = req.body;
    if r.k == 0 {
        return Err(Error::invalid("/k", "choose at least one site"));
    }
    let min_gain = r.min_gain.unwrap_or(0.0);
    if !min_gain.is_finite() {
        return Err(Error::invalid("/min_gain", "must be a finite number"));
    }
    Ok(axum::Json(app.plan(&net, r.partner_id, &r.candidates, crate::registry::PlanOptions { k: r.k, min_gain, within_territory: r.within_territory, progress: None }, q.coord_sys).await?))
}
