//! `/regions`: administrative units shared by all networks.

use super::AppState;
use super::extract::{Path, Query};
use super::geojson_response;
use crate::app::catalog::RegionFilter;
use crate::domain::regions::{Level, Region};
use crate::error::{Error, Result};
use crate::input::parse_bbox;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
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
    let filter = RegionFilter { level, parent: q.parent, q: q.q, bbox: q.bbox.as_deref().map(parse_bbox).transpose()? };
    let selected = app.catalog.regions_matching(&filter).await?;
    let features: Vec<RegionFeature<'_>> = selected.iter().map(|r| feature(r)).collect();
    Ok(geojson_response(RegionCollection { r#type: "FeatureCollection", features }))
}

/// One region as a GeoJSON Feature; 404 if unknown.
#[utoipa::path(get, path = "/regions/{adcode}", tag = "regions",
    params(("adcode" = String, Path, description = "GB/T 2260 code")),
    responses((status = 200, description = "Feature", content_type = "application/geo+json"), (status = 404, description = "unknown adcode")))]
pub async fn one(State(app): State<AppState>, Path(adcode): Path<String>) -> Result<Response> {
    let r = app.catalog.region(&adcode).await?;
    Ok(geojson_response(feature(&r)))
}
