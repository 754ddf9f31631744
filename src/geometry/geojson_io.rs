//! Writing geo-types as GeoJSON (RFC 7946) values.

use geo::{LineString, MultiPolygon, Point, Polygon};
use serde_json::{Value, json};

/// A MultiPolygon as a GeoJSON geometry object (the same writer as [`raw_geojson`]).
pub fn multipolygon_to_geojson(mp: &MultiPolygon<f64>) -> Value {
    // Serialising numbers and strings into a Value cannot fail.
    serde_json::to_value(MultiPolygonGeoJson { r#type: "MultiPolygon", coordinates: Polygons(mp) }).unwrap_or(Value::Null)
}

/// A Point as a GeoJSON geometry object.
pub fn point_to_geojson(p: &Point<f64>) -> Value {
    json!({"type": "Point", "coordinates": [p.x(), p.y()]})
}

/// A MultiPolygon as GeoJSON text, ready to embed in a response without re-serialising.
/// Written straight from the coordinates (no `Value` tree, no second parse).
pub fn raw_geojson(mp: &MultiPolygon<f64>) -> std::sync::Arc<serde_json::value::RawValue> {
    let geometry = MultiPolygonGeoJson { r#type: "MultiPolygon", coordinates: Polygons(mp) };
    // Serialising numbers and strings cannot fail; a non-finite coordinate (never stored)
    // would become `null` as it does in a `Value`.
    serde_json::value::to_raw_value(&geometry).map(std::sync::Arc::from).unwrap_or_else(|_| unreachable_json())
}

/// A GeoJSON MultiPolygon geometry object borrowing its coordinates.
#[derive(serde::Serialize)]
struct MultiPolygonGeoJson<'a> {
    r#type: &'static str,
    coordinates: Polygons<'a>,
}

/// The `coordinates` of a MultiPolygon: polygons, rings, positions.
struct Polygons<'a>(&'a MultiPolygon<f64>);

/// One ring's positions.
struct Ring<'a>(&'a LineString<f64>);

impl serde::Serialize for Polygons<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.0.iter().map(RingsOf))
    }
}

/// The rings of a polygon, exterior first.
struct RingsOf<'a>(&'a Polygon<f64>);

impl serde::Serialize for RingsOf<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(std::iter::once(self.0.exterior()).chain(self.0.interiors()).map(Ring))
    }
}

impl serde::Serialize for Ring<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.coords().map(|c| [c.x, c.y]))
    }
}

fn unreachable_json() -> std::sync::Arc<serde_json::value::RawValue> {
    std::sync::Arc::from(serde_json::value::RawValue::from_string("null".to_string()).expect("null is JSON"))
}
