//! Layer exports (`/export/...`: GeoJSON, GeoPackage) and vector tiles (`/tiles/...`:
//! MVT and TileJSON). The OGC API lives in [`super::ogc`].

use super::AppState;
use super::extract::{Path, Query};
use crate::app::blocking;
use crate::domain::access::Caller;
use crate::domain::period::Period;
use crate::error::{Error, Result};
use crate::gis::geojson::{GEOJSON, chunks};
use crate::gis::gpkg::{GEOPACKAGE, table_name};
use crate::gis::tiles::{self, MAX_ZOOM};
use crate::gis::{Collection, ExportFormat, NetworkLayer};
use crate::input::parse_bbox;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use geo::Rect;
use serde::Deserialize;
use serde_json::json;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/export/{file}", get(export_regions))
        .route("/networks/{net}/export/{file}", get(export_network))
        .route("/tiles/{file}", get(tilejson))
        .route("/tiles/{layer}/{z}/{x}/{file}", get(tile))
}

/// Query of an export: an optional `bbox` (only features meeting it) and day.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `minx,miny,maxx,maxy` (WGS84): only features that meet this box.
    pub bbox: Option<String>,
    /// The network on this ISO day, past or future (grants, outlets, conflicts): the
    /// grants in force then, the outlets open then.
    pub on: Option<String>,
}

/// `?on=` of the tile routes (other parameters, such as a client's cache key, are ignored).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct OnQuery {
    /// The network on this ISO day (grants, outlets, conflicts).
    pub on: Option<String>,
}

/// The period of `?on=`, if given.
fn on_day(on: Option<&str>) -> Result<Option<Period>> {
    Ok(super::extract::query_date(on, "on")?.map(Period::day))
}

fn split_file(file: &str) -> Result<(&str, ExportFormat)> {
    let (stem, ext) = file.rsplit_once('.').ok_or_else(|| Error::NotFound(format!("`{file}`: expected LAYER.geojson or LAYER.gpkg")))?;
    let format = ExportFormat::parse(ext).ok_or_else(|| Error::NotFound(format!("`{file}`: unknown format `{ext}` (geojson or gpkg)")))?;
    Ok((stem, format))
}

/// Exports a collection's features (those meeting `bbox`, or all) in `format`.
pub async fn export(app: &AppState, caller: &Caller, c: &Collection, format: ExportFormat, bbox: Option<[f64; 4]>, on: Option<Period>) -> Result<Response> {
    let served = app.gis.layer_during(caller, c, on).await?;
    let layer = served.layer.clone();
    let positions = {
        let layer = layer.clone();
        blocking(move || layer.matching(bbox.map(|[a, b, c, d]| Rect::new((a, b), (c, d))).as_ref())).await?
    };
    let name = table_name(&layer);
    match format {
        ExportFormat::GeoJson => {
            let body = super::streamed::body(chunks(layer, positions).map(Bytes::from));
            Ok(([(header::CONTENT_TYPE, HeaderValue::from_static(GEOJSON)), (header::CONTENT_DISPOSITION, attachment(&format!("{name}.geojson")))], body)
                .into_response())
        }
        ExportFormat::GeoPackage => {
            let bytes = crate::gis::gpkg::to_bytes(&layer, &positions).await?;
            Ok(([(header::CONTENT_TYPE, HeaderValue::from_static(GEOPACKAGE)), (header::CONTENT_DISPOSITION, attachment(&format!("{name}.gpkg")))], bytes)
                .into_response())
        }
    }
}

fn attachment(file: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")).unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

#[utoipa::path(get, path = "/export/{file}", tag = "gis",
    params(("file" = String, Path, description = "`regions.geojson` or `regions.gpkg`"), ExportQuery),
    responses((status = 200, description = "The regions layer as GeoJSON or GeoPackage"), (status = 404, description = "Unknown layer or format")))]
/// `GET /export/{file}`: the regions layer.
pub async fn export_regions(State(app): State<AppState>, caller: Caller, Path(file): Path<String>, Query(q): Query<ExportQuery>) -> Result<Response> {
    let (stem, format) = split_file(&file)?;
    if stem != "regions" {
        return Err(Error::NotFound(format!("no shared layer `{stem}`: only `regions` (network layers are under /networks/{{net}}/export/)")));
    }
    let bbox = q.bbox.as_deref().map(parse_bbox).transpose()?;
    export(&app, &caller, &Collection::Regions, format, bbox, on_day(q.on.as_deref())?).await
}

#[utoipa::path(get, path = "/networks/{net}/export/{file}", tag = "gis",
    params(("net" = String, Path, description = "Network code"), ("file" = String, Path, description = "`LAYER.geojson` or `LAYER.gpkg`; layers: grants, outlets, demand, conflicts, candidates"), ExportQuery),
    responses((status = 200, description = "The layer as GeoJSON or GeoPackage"), (status = 404, description = "Unknown network, layer or format")))]
/// `GET /networks/{net}/export/{file}`: a network layer.
pub async fn export_network(
    State(app): State<AppState>,
    caller: Caller,
    Path((net, file)): Path<(String, String)>,
    Query(q): Query<ExportQuery>,
) -> Result<Response> {
    let (stem, format) = split_file(&file)?;
    let layer =
        NetworkLayer::parse(stem).ok_or_else(|| Error::NotFound(format!("no layer `{stem}`: layers are grants, outlets, demand, conflicts, candidates")))?;
    let bbox = q.bbox.as_deref().map(parse_bbox).transpose()?;
    export(&app, &caller, &Collection::Network(net, layer), format, bbox, on_day(q.on.as_deref())?).await
}

fn collection(layer: &str) -> Result<Collection> {
    Collection::parse(layer)
        .ok_or_else(|| Error::NotFound(format!("no layer `{layer}`: layers are `regions` and `{{net}}.{{grants|outlets|demand|conflicts|candidates}}`")))
}

/// The TileJSON name of a field type (`Number`, `Boolean` or `String`).
fn tilejson_type(kind: crate::gis::layer::FieldType) -> &'static str {
    use crate::gis::layer::FieldType;
    match kind {
        FieldType::Integer | FieldType::Real => "Number",
        FieldType::Boolean => "Boolean",
        FieldType::Text | FieldType::Date | FieldType::DateTime => "String",
    }
}

#[utoipa::path(get, path = "/tiles/{file}", tag = "gis",
    params(("file" = String, Path, description = "`LAYER.json`, e.g. `smart.grants.json`"), OnQuery),
    responses((status = 200, description = "TileJSON 3.0 of the layer's vector tiles"), (status = 404, description = "Unknown layer")))]
/// `GET /tiles/{layer}.json`: TileJSON of a layer.
pub async fn tilejson(
    State(app): State<AppState>,
    caller: Caller,
    links: super::Links,
    Path(file): Path<String>,
    Query(q): Query<OnQuery>,
) -> Result<Response> {
    let id = file.strip_suffix(".json").ok_or_else(|| Error::NotFound(format!("`{file}`: expected LAYER.json")))?;
    let c = collection(id)?;
    let on = on_day(q.on.as_deref())?;
    let served = app.gis.layer_during(&caller, &c, on).await?;
    let tile_query = on.and_then(|p| p.from).map(|d| format!("on={d}")).unwrap_or_default();
    let layer = &served.layer;
    let bounds = served.extent().map_or([-180.0, -85.0, 180.0, 85.0], |e| [e.min().x, e.min().y, e.max().x, e.max().y]);
    let fields: serde_json::Map<String, serde_json::Value> = layer.fields.iter().map(|f| (f.name.to_string(), json!(tilejson_type(f.kind)))).collect();
    let body = json!({
        "tilejson": "3.0.0",
        "name": layer.title,
        "description": layer.description,
        "tiles": [links.href(&format!("/tiles/{id}/{{z}}/{{x}}/{{y}}.mvt"), &tile_query)],
        "minzoom": 0,
        "maxzoom": 14,
        "bounds": bounds,
        "center": [(bounds[0] + bounds[2]) / 2.0, (bounds[1] + bounds[3]) / 2.0, 6],
        "vector_layers": [{"id": c.layer_name(), "description": layer.description, "fields": fields, "minzoom": 0, "maxzoom": 14}],
    });
    Ok(axum::Json(body).into_response())
}

#[utoipa::path(get, path = "/tiles/{layer}/{z}/{x}/{file}", tag = "gis",
    params(("layer" = String, Path, description = "`regions` or `{net}.{layer}`"), ("z" = u8, Path), ("x" = u32, Path), ("file" = String, Path, description = "`{y}.mvt`"), OnQuery),
    responses((status = 200, description = "A Mapbox vector tile (EPSG:3857) with one layer named after the layer (`grants`, `regions`, ...)", content_type = "application/vnd.mapbox-vector-tile"),
        (status = 400, description = "Not a tile address"), (status = 404, description = "Unknown layer")))]
/// `GET /tiles/{layer}/{z}/{x}/{y}.mvt`: one vector tile.
pub async fn tile(
    State(app): State<AppState>,
    caller: Caller,
    Path((layer, z, x, file)): Path<(String, u8, u32, String)>,
    Query(q): Query<OnQuery>,
) -> Result<Response> {
    let y: u32 = file.strip_suffix(".mvt").and_then(|y| y.parse().ok()).ok_or_else(|| Error::BadRequest(format!("`{file}`: expected {{y}}.mvt")))?;
    if !tiles::valid_tile(z, x, y) {
        return Err(Error::BadRequest(format!("no tile {z}/{x}/{y}: zoom 0..={MAX_ZOOM}, x and y below 2^zoom")));
    }
    let c = collection(&layer)?;
    let served = app.gis.layer_during(&caller, &c, on_day(q.on.as_deref())?).await?;
    let name = c.layer_name();
    let bytes = blocking(move || served.tile(z, x, y, |l| tiles::render(l, name, z, x, y))).await?;
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/vnd.mapbox-vector-tile")), (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))],
        bytes.as_ref().clone(),
    )
        .into_response())
}
