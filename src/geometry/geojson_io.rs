//! Writing geo-types as GeoJSON (RFC 7946) values.

use geo::{Coord, LineString, MultiPolygon, Point, Polygon};
use serde_json::{Value, json};

fn position(c: &Coord<f64>) -> Value {
    json!([c.x, c.y])
}

fn ring(ls: &LineString<f64>) -> Value {
    Value::Array(ls.coords().map(position).collect())
}

fn polygon_rings(p: &Polygon<f64>) -> Value {
    let mut rings = vec![ring(p.exterior())];
    rings.extend(p.interiors().iter().map(ring));
    Value::Array(rings)
}

/// A MultiPolygon as a GeoJSON geometry object.
pub fn multipolygon_to_geojson(mp: &MultiPolygon<f64>) -> Value {
    json!({
        "type": "MultiPolygon",
        "coordinates": Value::Array(mp.0.iter().map(polygon_rings).collect()),
    })
}

/// A Point as a GeoJSON geometry object.
pub fn point_to_geojson(p: &Point<f64>) -> Value {
    json!({"type": "Point", "coordinates": [p.x(), p.y()]})
}

/// A MultiPolygon as GeoJSON text, ready to embed in a response without re-serialising.
pub fn raw_geojson(mp: &MultiPolygon<f64>) -> std::sync::Arc<serde_json::value::RawValue> {
    let text = multipolygon_to_geojson(mp).to_string();
    // A serde_json::Value always serialises to valid JSON.
    serde_json::value::RawValue::from_string(text).map(std::sync::Arc::from).unwrap_or_else(|_| unreachable_json())
}

fn unreachable_json() -> std::sync::Arc<serde_json::value::RawValue> {
    std::sync::Arc::from(serde_json::value::RawValue::from_string("null".to_string()).expect("null is JSON"))
}
