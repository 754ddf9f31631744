//! `/regions`: administrative units shared by all networks.

use super::AppState;
use super::extract::{Path, Query};
use crate::input::parse_bbox;
use crate::error::{Error, Result};
use crate::domain::regions::{Level, Region};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use geo::{Intersects, Rect};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/regions", get(list)).route("/regions/{adcode}", get(one))
}


/// A region as a GeoJSON Feature; the boundary is the text serialised when it was loaded.
#[derive(Serialize)]
struct RegionFeature<'a> {
    r#type: &'static str,
    id: &'a str,
    geometry: &'a RawValue,
    properties: RegionProperties<'a>,
}

/// Regions as a GeoJSON FeatureCollection.
#[derive(Serialize)]
struct RegionCollection<'a> {
    r#type: &'static str,
    features: Vec<RegionFeature<'a>>,
}

#[derive(Serialize)]
struct RegionProperties<'a> {
    adcode: &'a str,
    name: &'a str,
    level: Level,
    parent_adcode: Option<&'a str>,
    area_km2: f64,
}

fn feature(r: &Region) -> RegionFeature<'_> {
    RegionFeature {
        r#type: "Feature",
        id: &r.adcode,
        geometry: &r.geojson,
        properties: RegionProperties {
            adcode: &r.adcode,
            name: &r.name,
            level: r.level,
            parent_adcode: r.parent_adcode.as_deref(),
            area_km2: r.shape.area_km2,
        },
    }
}

/// Filters of `GET /regions`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RegionQuery {
    /// `province`, `city` or `district`.
    pub level: Option<String>,
    /// Only the children of this adcode.
    pub parent: Option<String>,
    /// Name contains, or adcode starts with.
    pub q: Option<String>,
    /// `minx,miny,maxx,maxy` (WGS84): only regions meeting the box.
    pub bbox: Option<String>,
}

/// Regions as a GeoJSON FeatureCollection.
#[utoipa::path(get, path = "/regions", params(RegionQuery), tag = "regions",
    responses((status = 200, description = "FeatureCollection of regions", content_type = "application/geo+json")))]
pub async fn list(State(app): State<AppState>, Query(q): Query<RegionQuery>) -> Result<Response> {
    let level = match q.level.as_deref() {
        Some(l) => Some(Level::parse(l).ok_or_else(|| Error::BadRequest(format!("level `{l}`: expected province, city or district")))?),
        None => None,
    };
    let bbox = q.bbox.as_deref().map(parse_bbox).transpose()?.map(|[a, b, c, d]| Rect::new((a, b), (c, d)));
    app.refresh().await?;
    let regions = app.regions();
    let mut selected: Vec<&std::sync::Arc<Region>> = Vec::new();
    let all = regions.all();
    for r in all {
        let keep = level.is_none_or(|l| r.level == l)
            && q.parent.as_deref().is_none_or(|p| r.parent_adcode.as_deref() == Some(p))
            && q.q.as_deref().is_none_or(|s| r.name.contains(s) || r.adcode.starts_with(s))
            && bbox.is_none_or(|b| b.intersects(&r.shape.bbox) && b.intersects(&*r.shape.geometry));
        if keep {
            selected.push(r);
        }
    }
    selected.sort_by(|a, b| a.adcode.cmp(&b.adcode));
    let features: Vec<RegionFeature<'_>> = selected.iter().map(|r| feature(r)).collect();
    Ok(geojson_response(RegionCollection { r#type: "FeatureCollection", features }))
}

/// One region as a GeoJSON Feature; 404 if unknown.
#[utoipa::path(get, path = "/regions/{adcode}", tag = "regions",
    params(("adcode" = String, Path, description = "GB/T 2260 code")),
    responses((status = 200, description = "Feature", content_type = "application/geo+json"), (status = 404, description = "unknown adcode")))]
pub async fn one(State(app): State<AppState>, Path(adcode): Path<String>) -> Result<Response> {
    app.refresh().await?;
    let regions = app.regions();
    let r = regions.get(&adcode).ok_or_else(|| Error::NotFound(format!("no region with adcode `{adcode}`")))?;
    Ok(geojson_response(feature(r)))
}

/// A JSON body served as `application/geo+json`.
pub fn geojson_response(body: impl Serialize) -> Response {
    let mut r = Json(body).into_response();
    r.headers_mut().insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/geo+json"));
    r
}
