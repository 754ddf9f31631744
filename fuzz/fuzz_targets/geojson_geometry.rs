//! Fuzzes the GeoJSON area parser (`territory::geometry::validate::parse_area`), the gate
//! every grant and region geometry passes through.
//!
//! Input: arbitrary bytes; only UTF-8 text that parses as JSON reaches the parser.
//! Properties checked:
//! - it never panics (libFuzzer reports any panic as a crash);
//! - on `Err`: at least one error, each with a non-empty detail and a pointer under
//!   `/geometry` that names a place in the input (or a missing member / the vertex limit);
//! - on `Ok`: at least one polygon; every ring has >= 4 positions, is closed, has >= 3
//!   distinct points, and every coordinate is finite and within [-180, 180] x [-90, 90];
//!   the exterior is counter-clockwise and holes clockwise (RFC 7946); the vertex count is
//!   within the limit; the geodesic area is finite; what the service stores (`raw_geojson`)
//!   reads back (`parse_stored`) to the same geometry, and re-validates;
//! - the text path (`parse_area_text`: read straight from the text, the located parser only
//!   on doubt) gives exactly what the located parser gives: the same geometry, or the same
//!   errors.
#![no_main]

use geo::{Coord, MultiPolygon, Winding, winding_order::WindingOrder};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use territory::geometry::validate::{CoordSys, InputError, parse_area, parse_area_text};
use territory::geometry::{GeometryLimits, area_km2, parse_stored, raw_geojson};

const BASE: &str = "/geometry";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(value) = serde_json::from_str::<Value>(text) else { return };
    let limits = GeometryLimits::default();
    let located = parse_area(&value, BASE, CoordSys::Wgs84, limits);
    match &located {
        Ok(mp) => check_ok(&value, mp, limits),
        Err(errors) => check_errors(&value, errors),
    }
    let from_text = parse_area_text(text, BASE, CoordSys::Wgs84, limits).map(|shape| (*shape.geometry).clone());
    assert_eq!(from_text, located, "the text path and the located parser disagree on {text}");
});

fn check_errors(value: &Value, errors: &[InputError]) {
    assert!(!errors.is_empty(), "Err with no error for {value}");
    for e in errors {
        assert!(!e.detail.trim().is_empty(), "error without detail: {e:?}");
        assert!(!e.pointer.is_empty(), "error without pointer: {e:?}");
        let rest = e
            .pointer
            .strip_prefix(BASE)
            .unwrap_or_else(|| panic!("pointer {:?} is not under {BASE}", e.pointer));
        assert!(rest.is_empty() || rest.starts_with('/'), "malformed pointer {:?}", e.pointer);
        // The pointer names a place in the input, except for a missing member.
        let resolves = value.pointer(rest).is_some();
        let missing_member = matches!(rest, "/type" | "/coordinates");
        assert!(resolves || missing_member, "pointer {:?} does not resolve in the input {value} ({e:?})", e.pointer);
    }
}

fn check_ok(value: &Value, mp: &MultiPolygon<f64>, limits: GeometryLimits) {
    assert!(!mp.0.is_empty(), "Ok with no polygon for {value}");
    let mut vertices = 0usize;
    for (p, polygon) in mp.0.iter().enumerate() {
        let rings = std::iter::once(polygon.exterior()).chain(polygon.interiors());
        for (r, ring) in rings.enumerate() {
            let c = &ring.0;
            vertices += c.len();
            assert!(c.len() >= 4, "polygon {p} ring {r} has {} positions (< 4): {value}", c.len());
            assert_eq!(c.first(), c.last(), "polygon {p} ring {r} is not closed: {value}");
            for pt in c {
                assert!(pt.x.is_finite() && pt.y.is_finite(), "non-finite coordinate {pt:?}: {value}");
                assert!((-180.0..=180.0).contains(&pt.x), "longitude {} out of range: {value}", pt.x);
                assert!((-90.0..=90.0).contains(&pt.y), "latitude {} out of range: {value}", pt.y);
            }
            let mut distinct = c.clone();
            distinct.dedup();
            assert!(distinct.len() >= 4, "polygon {p} ring {r} has fewer than 3 distinct points: {value}");
            let want = if r == 0 { WindingOrder::CounterClockwise } else { WindingOrder::Clockwise };
            match ring.winding_order() {
                Some(got) => assert_eq!(got, want, "polygon {p} ring {r} winding is not RFC 7946: {value}"),
                // Known (fuzz/README.md): geo decides the winding with orient2d at the ring's
                // lowest vertex, whose products underflow when the edges there span < ~1e-150
                // degrees (only near lon/lat 0); such a ring is stored with the input winding,
                // clockwise or not. Tolerated unless TERRITORY_FUZZ_STRICT=1; any other ring
                // must have a winding order.
                None if !strict() => {
                    assert!(orient2d_underflows(c), "polygon {p} ring {r} has no winding order: {value}");
                }
                None => panic!("polygon {p} ring {r} has no winding order: {value}"),
            }
        }
    }
    assert!(vertices <= limits.max_vertices, "{vertices} vertices over the limit: {value}");
    let area = area_km2(mp);
    assert!(area.is_finite(), "area {area} is not finite: {value}");

    // What the service stores must read back to the same geometry and still be valid.
    let stored = raw_geojson(mp);
    let reread: Value = serde_json::from_str(stored.get()).expect("stored GeoJSON is JSON");
    let back = parse_stored(&reread).unwrap_or_else(|e| panic!("stored geometry does not read back: {e:?}; input {value}"));
    if strict() {
        assert_eq!(&back, mp, "stored geometry reads back different; input {value}");
    } else {
        // Known (fuzz/README.md): serde_json without `float_roundtrip` may parse the shortest
        // representation it wrote back 1 ULP off, so only a larger drift fails by default.
        let same_shape = back.0.len() == mp.0.len()
            && back.0.iter().zip(&mp.0).all(|(a, b)| a.interiors().len() == b.interiors().len());
        assert!(same_shape, "stored geometry reads back with another shape; input {value}");
        let coords = |m: &MultiPolygon<f64>| -> Vec<Coord<f64>> {
            m.0.iter().flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors())).flat_map(|r| r.0.clone()).collect()
        };
        let (a, b) = (coords(&back), coords(mp));
        assert_eq!(a.len(), b.len(), "stored geometry reads back with another vertex count; input {value}");
        for (x, y) in a.iter().zip(&b) {
            assert!(
                ulps(x.x, y.x) <= 2 && ulps(x.y, y.y) <= 2,
                "stored coordinate {x:?} reads back as {y:?} (more than 2 ULP); input {value}"
            );
        }
    }
    if let Err(e) = parse_area(&reread, BASE, CoordSys::Wgs84, limits) {
        panic!("a geometry accepted once is refused when re-submitted: {e:?}; input {value}");
    }
}

/// Whether geo's winding test (orient2d at the lexicographically least vertex and its
/// nearest distinct neighbours) works in the subnormal range, where it cannot be trusted.
fn orient2d_underflows(c: &[Coord<f64>]) -> bool {
    let ring = &c[..c.len() - 1]; // closed: drop the repeated last position
    let n = ring.len();
    let i = (0..n)
        .min_by(|&a, &b| ring[a].x.total_cmp(&ring[b].x).then(ring[a].y.total_cmp(&ring[b].y)))
        .expect("non-empty ring");
    let Some(next) = (1..n).map(|k| ring[(i + k) % n]).find(|q| *q != ring[i]) else { return true };
    let Some(prev) = (1..n).map(|k| ring[(i + n - k) % n]).find(|q| *q != ring[i]) else { return true };
    let (p, q, r) = (prev, ring[i], next);
    let (a, b) = ((q.x - p.x) * (r.y - q.y), (q.y - p.y) * (r.x - q.x));
    a.abs() < 1e-290 && b.abs() < 1e-290
}

/// `TERRITORY_FUZZ_STRICT=1` turns the tolerated known issues back into failures.
fn strict() -> bool {
    static STRICT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *STRICT.get_or_init(|| std::env::var("TERRITORY_FUZZ_STRICT").is_ok_and(|v| v == "1"))
}

/// Distance in units in the last place between two finite floats (0 for equal, incl. ±0).
fn ulps(a: f64, b: f64) -> u64 {
    if a == b {
        return 0;
    }
    if a.is_sign_negative() != b.is_sign_negative() {
        return u64::MAX;
    }
    a.abs().to_bits().abs_diff(b.abs().to_bits())
}
