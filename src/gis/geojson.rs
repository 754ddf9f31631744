//! Layers as GeoJSON (RFC 7946): features, pages of features, and whole layers written
//! in chunks so that a large layer streams instead of being built in memory.

use super::layer::{Feature, Layer};
use crate::geometry::geojson_io::{multipolygon_to_geojson, point_to_geojson};
use geo::Geometry;
use serde_json::{Map, Value, json};

/// Media type of GeoJSON.
pub const GEOJSON: &str = "application/geo+json";

/// A geometry as a GeoJSON geometry object (points, polygons and multipolygons; anything
/// else is `null`, which layers never hold).
pub fn geometry(g: &Geometry<f64>) -> Value {
    match g {
        Geometry::Point(p) => point_to_geojson(p),
        Geometry::Polygon(p) => {
            let mp = multipolygon_to_geojson(&geo::MultiPolygon(vec![p.clone()]));
            json!({"type": "Polygon", "coordinates": mp["coordinates"][0]})
        }
        Geometry::MultiPolygon(mp) => multipolygon_to_geojson(mp),
        _ => Value::Null,
    }
}

/// A feature of a layer as a GeoJSON Feature.
pub fn feature(layer: &Layer, f: &Feature) -> Value {
    let mut props = Map::new();
    for (field, value) in layer.fields.iter().zip(&f.values) {
        props.insert(field.name.to_string(), value.to_json());
    }
    json!({"type": "Feature", "id": f.id, "geometry": geometry(&f.geometry), "properties": props})
}

/// Features per chunk of a streamed layer.
pub const CHUNK: usize = 2_000;

/// A whole layer (or the features at `positions`) as FeatureCollection text, in chunks:
/// the head, then `CHUNK` features at a time, then the tail. Concatenated, the chunks are
/// one JSON document.
pub fn chunks(layer: std::sync::Arc<Layer>, positions: Vec<usize>) -> impl Iterator<Item = String> + Send {
    let head = format!("{{\"type\":\"FeatureCollection\",\"name\":{},\"features\":[", Value::String(layer.id.clone()));
    let total = positions.len();
    let body = (0..total.div_ceil(CHUNK)).map(move |c| {
        let mut out = String::new();
        for (k, &i) in positions[c * CHUNK..((c + 1) * CHUNK).min(total)].iter().enumerate() {
            if c > 0 || k > 0 {
                out.push(',');
            }
            out.push_str(&feature(&layer, &layer.feature(i)).to_string());
        }
        out
    });
    std::iter::once(head).chain(body).chain(std::iter::once("]}".to_string()))
}
