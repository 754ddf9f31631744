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

/// A MultiPolygon written as a GeoJSON geometry object wherever it is serialised (the same
/// text as [`raw_geojson`]).
#[derive(Debug, Clone, Copy)]
pub struct GeoJsonArea<'a>(pub &'a MultiPolygon<f64>);

impl serde::Serialize for GeoJsonArea<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&MultiPolygonGeoJson { r#type: "MultiPolygon", coordinates: Polygons(self.0) }, s)
    }
}

/// JSON text of `value`, the same bytes as `serde_json::to_vec` writes, with numbers that
/// are short decimals written faster ([`ShortDecimals`]).
pub fn to_json_bytes<T: serde::Serialize>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(4096);
    value.serialize(&mut serde_json::Serializer::with_formatter(&mut out, ShortDecimals))?;
    Ok(out)
}

/// serde_json's compact formatter, with doubles that are short decimals (as map
/// coordinates are: six places in the sample data) written from their digits.
///
/// When `x` is the double nearest to `m / 10⁶` for an integer `m` (checked exactly: `m`
/// and 10⁶ are exact doubles and one division is correctly rounded), and 1 ≤ |x| < 10⁹,
/// the digits of `m` with trailing zeros dropped are the shortest decimal that reads back
/// as `x`, which is what serde_json writes: doubles there are less than 10⁻⁶ apart, so no
/// shorter decimal reads back as `x`; and serde_json writes such numbers without exponent,
/// `120.0` for a whole one. Any other double is written by serde_json itself.
#[derive(Debug, Clone, Copy)]
pub struct ShortDecimals;

impl serde_json::ser::Formatter for ShortDecimals {
    fn write_f64<W: ?Sized + std::io::Write>(&mut self, writer: &mut W, x: f64) -> std::io::Result<()> {
        let magnitude = x.abs();
        let m = (magnitude * 1e6 + 0.5) as u64;
        if !(1.0..1e9).contains(&magnitude) || m as f64 / 1e6 != magnitude {
            return serde_json::ser::CompactFormatter.write_f64(writer, x);
        }
        let (whole, mut fraction) = (m / 1_000_000, m % 1_000_000);
        writer.write_all(if x < 0.0 { b"-" } else { b"" })?;
        writer.write_all(itoa::Buffer::new().format(whole).as_bytes())?;
        if fraction == 0 {
            return writer.write_all(b".0");
        }
        // Six places, trailing zeros dropped: the leading zeros, then the digits left.
        let mut places = 6;
        while fraction % 10 == 0 {
            fraction /= 10;
            places -= 1;
        }
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(fraction);
        writer.write_all(b".")?;
        writer.write_all(&b"000000"[..places - digits.len()])?;
        writer.write_all(digits.as_bytes())
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;
    use proptest::prelude::*;

    fn fast(x: f64) -> String {
        String::from_utf8(to_json_bytes(&x).expect("writes")).expect("utf-8")
    }

    #[test]
    fn short_decimals_are_written_as_serde_json_writes_them() {
        for x in [118.794583, -118.5, 120.0, 1.0, 999_999_999.999_999, 0.5, 1e-7, 180.0, 32.000001, 1e9, f64::NAN, 0.1 + 0.2, -0.0, 1.0000005] {
            assert_eq!(fast(x), serde_json::to_string(&x).expect("writes"), "{x}");
        }
        let mp = MultiPolygon(vec![polygon![(x: 118.794583, y: 32.097217), (x: 118.0, y: 32.5), (x: 118.1, y: 32.000001)]]);
        assert_eq!(to_json_bytes(&GeoJsonArea(&mp)).expect("writes"), raw_geojson(&mp).get().as_bytes());
    }

    proptest! {
        #[test]
        fn any_double_is_written_as_serde_json_writes_it(micro in -200_000_000i64..200_000_000, bits in any::<u64>()) {
            for x in [micro as f64 / 1e6, micro as f64 / 1e3 + 0.1, f64::from_bits(bits)] {
                prop_assert_eq!(fast(x), serde_json::to_string(&x).expect("writes"), "{}", x);
            }
        }
    }
}
