//! Times parsing + validation and geodesic area of the features of a layer file.
use std::time::Instant;
use territory::geometry::{CoordSys, GeometryLimits, area_km2, parse_area};
fn main() {
    let path = std::env::args().nth(1).expect("layer file");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    let (mut tv, mut ta, mut nv) = (0.0, 0.0, 0usize);
    for f in v["features"].as_array().expect("features") {
        let t = Instant::now();
        let mp = parse_area(&f["geometry"], "", CoordSys::Wgs84, GeometryLimits::NONE).expect("valid");
        tv += t.elapsed().as_secs_f64();
        let t = Instant::now();
        std::hint::black_box(area_km2(&mp));
        ta += t.elapsed().as_secs_f64();
        nv += geo::CoordsIter::coords_count(&mp);
    }
    println!(
        "{path}: {nv} vertices; parse+validate {:.1} ms ({:.2} µs/vertex); geodesic area {:.1} ms ({:.2} µs/vertex)",
        tv * 1e3,
        tv * 1e6 / nv as f64,
        ta * 1e3,
        ta * 1e6 / nv as f64
    );
}
