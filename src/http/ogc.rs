//! OGC API – Features – Part 1 (Core, GeoJSON, OpenAPI 3.0) under `/ogc`: the layers of
//! [`crate::gis`] as collections that QGIS and GDAL (`OAPIF:`) read live.

use super::AppState;
use super::Links;
use super::extract::{Path, Query};
use crate::app::blocking;
use crate::app::gis::Served;
use crate::domain::access::Caller;
use crate::domain::period::Period;
use crate::error::{Error, Result};
use crate::gis::Collection;
use crate::gis::geojson::{GEOJSON, feature};
use crate::input::parse_bbox;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use geo::Rect;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Items per page when the client gives no `limit`.
pub const DEFAULT_LIMIT: usize = 1_000;
/// Largest `limit` honoured; larger ones are lowered to it.
pub const MAX_LIMIT: usize = 10_000;

/// The conformance classes implemented.
pub const CONFORMANCE: [&str; 3] = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
];

const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
/// The temporal reference system of OGC API – Features (the Gregorian calendar, UTC).
const GREGORIAN: &str = "http://www.opengis.net/def/uri/ogc/1.3/gregorian";
const OPENAPI_30: &str = "application/vnd.oai.openapi+json;version=3.0";

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/ogc", get(landing))
        .route("/ogc/", get(landing))
        .route("/ogc/api", get(api))
        .route("/ogc/conformance", get(conformance))
        .route("/ogc/collections", get(collections))
        .route("/ogc/collections/{id}", get(collection))
        .route("/ogc/collections/{id}/items", get(items))
        .route("/ogc/collections/{id}/items/{fid}", get(item))
}

fn json_response(body: Value, content_type: &'static str) -> Response {
    let mut r = axum::Json(body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn link(href: String, rel: &str, kind: &str, title: &str) -> Value {
    json!({"href": href, "rel": rel, "type": kind, "title": title})
}

/// Rejects query parameters this route does not declare (OGC API – Features requires 400).
fn only_params(q: &BTreeMap<String, String>, allowed: &[&str]) -> Result<()> {
    match q.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(Error::BadRequest(format!("unknown query parameter `{k}`; this route takes: {}", allowed.join(", ")))),
        None => Ok(()),
    }
}

/// Checks `f` (output format): only JSON is served.
fn check_format(q: &BTreeMap<String, String>) -> Result<()> {
    match q.get("f").map(String::as_str) {
        None | Some("json" | "geojson" | "application/json" | "application/geo+json") => Ok(()),
        Some(f) => Err(Error::BadRequest(format!("f=`{f}`: only json is served"))),
    }
}

async fn landing(links: Links, Query(q): Query<BTreeMap<String, String>>) -> Result<Response> {
    only_params(&q, &["f"])?;
    check_format(&q)?;
    Ok(json_response(
        json!({
            "title": "territory",
            "description": "Territories, outlets, demand and candidate sites of car dealer/agent networks (OGC API – Features)",
            "links": [
                link(links.href("/ogc", ""), "self", "application/json", "This document"),
                link(links.href("/ogc/api", ""), "service-desc", OPENAPI_30, "The API definition (OpenAPI 3.0)"),
                link(links.href("/ogc/conformance", ""), "conformance", "application/json", "Conformance classes implemented"),
                link(links.href("/ogc/collections", ""), "data", "application/json", "The collections"),
            ],
        }),
        "application/json",
    ))
}

async fn conformance(Query(q): Query<BTreeMap<String, String>>) -> Result<Response> {
    only_params(&q, &["f"])?;
    check_format(&q)?;
    Ok(json_response(json!({"conformsTo": CONFORMANCE}), "application/json"))
}

fn collection_json(links: &Links, served: &Served) -> Value {
    let layer = &served.layer;
    let bbox = served.extent().map_or([-180.0, -90.0, 180.0, 90.0], |e| [e.min().x, e.min().y, e.max().x, e.max().y]);
    let path = format!("/ogc/collections/{}", layer.id);
    let mut extent = json!({"spatial": {"bbox": [bbox], "crs": CRS84}});
    if let Some((first, last)) = served.time {
        let instant = |d: Option<chrono::NaiveDate>| d.map(|d| format!("{d}T00:00:00Z"));
        extent["temporal"] = json!({"interval": [[instant(first), instant(last)]], "trs": GREGORIAN});
    }
    json!({
        "id": layer.id,
        "title": layer.title,
        "description": layer.description,
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "extent": extent,
        "links": [
            link(links.href(&path, ""), "self", "application/json", "This collection"),
            link(links.href(&format!("{path}/items"), ""), "items", GEOJSON, "Its features"),
        ],
    })
}

async fn collections(State(app): State<AppState>, caller: Caller, links: Links, Query(q): Query<BTreeMap<String, String>>) -> Result<Response> {
    only_params(&q, &["f"])?;
    check_format(&q)?;
    let mut list = Vec::new();
    for c in app.gis.collections(&caller).await? {
        list.push(collection_json(&links, &*app.gis.layer(&caller, &c).await?));
    }
    Ok(json_response(
        json!({
            "links": [link(links.href("/ogc/collections", ""), "self", "application/json", "The collections")],
            "collections": list,
        }),
        "application/json",
    ))
}

fn parse_collection(id: &str) -> Result<Collection> {
    Collection::parse(id)
        .ok_or_else(|| Error::NotFound(format!("no collection `{id}`: collections are `regions` and `{{net}}.{{layer}}`; see /ogc/collections")))
}

async fn collection(
    State(app): State<AppState>,
    caller: Caller,
    links: Links,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Response> {
    only_params(&q, &["f"])?;
    check_format(&q)?;
    let served = app.gis.layer(&caller, &parse_collection(&id)?).await?;
    Ok(json_response(collection_json(&links, &served), "application/json"))
}

fn parse_count(q: &BTreeMap<String, String>, name: &str, min: usize) -> Result<Option<usize>> {
    q.get(name)
        .map(|v| v.parse::<usize>().ok().filter(|n| *n >= min).ok_or_else(|| Error::BadRequest(format!("{name}=`{v}`: expected an integer >= {min}"))))
        .transpose()
}

async fn items(
    State(app): State<AppState>,
    caller: Caller,
    links: Links,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Response> {
    only_params(&q, &["f", "bbox", "limit", "offset", "datetime"])?;
    check_format(&q)?;
    let limit = parse_count(&q, "limit", 1)?.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    let offset = parse_count(&q, "offset", 0)?.unwrap_or(0);
    let bbox = q.get("bbox").map(|b| parse_bbox(b)).transpose()?.map(|[x0, y0, x1, y1]| Rect::new((x0, y0), (x1, y1)));
    let period = q.get("datetime").map(|d| Period::parse_datetime(d).map_err(|e| Error::BadRequest(format!("datetime=`{d}`: {e}")))).transpose()?;
    let served = app.gis.layer_during(&caller, &parse_collection(&id)?, period).await?;
    let layer = served.layer.clone();
    let path = format!("/ogc/collections/{id}/items");
    let body = blocking(move || {
        let matching = layer.matching(bbox.as_ref());
        let page: Vec<Value> = matching.iter().skip(offset).take(limit).map(|&i| feature(&layer, &layer.feature(i))).collect();
        let returned = page.len();
        let query = |offset: usize| links.page(&path, limit, offset, q.get("bbox").map(String::as_str), q.get("datetime").map(String::as_str));
        let mut links = vec![link(query(offset), "self", GEOJSON, "This page")];
        if offset + returned < matching.len() {
            links.push(link(query(offset + returned), "next", GEOJSON, "Next page"));
        }
        if offset > 0 {
            links.push(link(query(offset.saturating_sub(limit)), "prev", GEOJSON, "Previous page"));
        }
        json!({
            "type": "FeatureCollection",
            "numberMatched": matching.len(),
            "numberReturned": returned,
            "features": page,
            "links": links,
        })
    })
    .await?;
    Ok(json_response(body, GEOJSON))
}

async fn item(
    State(app): State<AppState>,
    caller: Caller,
    links: Links,
    Path((id, fid)): Path<(String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Response> {
    only_params(&q, &["f"])?;
    check_format(&q)?;
    let served = app.gis.layer(&caller, &parse_collection(&id)?).await?;
    let layer = &served.layer;
    let n: i64 = fid.parse().map_err(|_| Error::NotFound(format!("no feature `{fid}` in `{id}` (feature ids are integers)")))?;
    let f = layer.by_id(n).ok_or_else(|| Error::NotFound(format!("no feature {n} in `{id}`")))?;
    let mut body = feature(layer, &f);
    let path = format!("/ogc/collections/{id}");
    body["links"] = json!([
        link(links.href(&format!("{path}/items/{n}"), ""), "self", GEOJSON, "This feature"),
        link(links.href(&path, ""), "collection", "application/json", "The collection"),
    ]);
    Ok(json_response(body, GEOJSON))
}

/// The OpenAPI 3.0 document of the `/ogc` routes (QGIS reads the page size from
/// `components.parameters.limit`).
pub fn openapi(server: &str) -> Value {
    let ok = |description: &str, media: &str, schema: Value| json!({"200": {"description": description, "content": {media: {"schema": schema}}}, "400": {"$ref": "#/components/responses/BadRequest"}});
    let with_404 = |mut v: Value| {
        v["404"] = json!({"$ref": "#/components/responses/NotFound"});
        v
    };
    let obj = json!({"type": "object"});
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "territory – OGC API – Features",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The layers of territory (regions; per network grants, outlets, demand, conflicts, candidates) as OGC API – Features collections.",
            "license": {"name": "MIT OR Apache-2.0"},
        },
        "servers": [{"url": server}],
        "paths": {
            "/": {"get": {"summary": "Landing page", "operationId": "getLandingPage", "tags": ["Capabilities"],
                "parameters": [{"$ref": "#/components/parameters/f"}],
                "responses": ok("Links to the API definition, the conformance classes and the collections", "application/json", obj.clone())}},
            "/api": {"get": {"summary": "This API definition", "operationId": "getApi", "tags": ["Capabilities"],
                "responses": {"200": {"description": "OpenAPI 3.0 document", "content": {OPENAPI_30: {"schema": obj.clone()}}}}}},
            "/conformance": {"get": {"summary": "Conformance classes", "operationId": "getConformanceDeclaration", "tags": ["Capabilities"],
                "parameters": [{"$ref": "#/components/parameters/f"}],
                "responses": ok("The conformance classes implemented", "application/json", json!({"type": "object", "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}}}))}},
            "/collections": {"get": {"summary": "The collections", "operationId": "getCollections", "tags": ["Capabilities"],
                "parameters": [{"$ref": "#/components/parameters/f"}],
                "responses": ok("Every collection with its extent", "application/json", obj.clone())}},
            "/collections/{collectionId}": {"get": {"summary": "One collection", "operationId": "describeCollection", "tags": ["Capabilities"],
                "parameters": [{"$ref": "#/components/parameters/collectionId"}, {"$ref": "#/components/parameters/f"}],
                "responses": with_404(ok("The collection", "application/json", obj.clone()))}},
            "/collections/{collectionId}/items": {"get": {"summary": "Features of a collection", "operationId": "getFeatures", "tags": ["Data"],
                "parameters": [
                    {"$ref": "#/components/parameters/collectionId"},
                    {"$ref": "#/components/parameters/limit"},
                    {"$ref": "#/components/parameters/offset"},
                    {"$ref": "#/components/parameters/bbox"},
                    {"$ref": "#/components/parameters/datetime"},
                    {"$ref": "#/components/parameters/f"},
                ],
                "responses": with_404(ok("A page of features (GeoJSON) with numberMatched, numberReturned and next/prev links", GEOJSON, obj.clone()))}},
            "/collections/{collectionId}/items/{featureId}": {"get": {"summary": "One feature", "operationId": "getFeature", "tags": ["Data"],
                "parameters": [{"$ref": "#/components/parameters/collectionId"}, {"$ref": "#/components/parameters/featureId"}, {"$ref": "#/components/parameters/f"}],
                "responses": with_404(ok("The feature (GeoJSON)", GEOJSON, obj.clone()))}},
        },
        "components": {
            "parameters": {
                "collectionId": {"name": "collectionId", "in": "path", "required": true, "description": "`regions` or `{net}.{layer}` (layers: grants, outlets, demand, conflicts, candidates)", "schema": {"type": "string"}},
                "featureId": {"name": "featureId", "in": "path", "required": true, "description": "Integer id of the feature (grant id, outlet id, adcode, H3 index, ...)", "schema": {"type": "integer"}},
                "limit": {"name": "limit", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": "Features per page; larger values are lowered to the maximum.",
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
                "offset": {"name": "offset", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": "Features to skip (the `next` link carries it).", "schema": {"type": "integer", "minimum": 0, "default": 0}},
                "bbox": {"name": "bbox", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": "Only features that meet this box: minx,miny,maxx,maxy in CRS84 degrees.",
                    "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}},
                "datetime": {"name": "datetime", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": "Only features in force at this instant or during this interval (RFC 3339 dates or date-times, `start/end`, `..` for an open end), on the collections with a temporal extent (grants, outlets, conflicts).",
                    "schema": {"type": "string"}},
                "f": {"name": "f", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": "Output format (only JSON is served).", "schema": {"type": "string", "enum": ["json", "geojson"]}},
            },
            "responses": {
                "BadRequest": {"description": "A malformed parameter (problem+json naming it)", "content": {"application/problem+json": {"schema": {"type": "object"}}}},
                "NotFound": {"description": "No such collection or feature", "content": {"application/problem+json": {"schema": {"type": "object"}}}},
            },
        },
    })
}

async fn api(links: Links, Query(q): Query<BTreeMap<String, String>>) -> Result<Response> {
    only_params(&q, &["f"])?;
    Ok(json_response(openapi(&format!("{}/ogc", links.base())), OPENAPI_30))
}
