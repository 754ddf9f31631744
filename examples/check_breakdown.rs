//! Times the phases of a drawn-geometry check: districts against the 121 cities.
use std::sync::Arc;
use std::time::Instant;
use geo::{BooleanOps, Intersects};
use territory::geometry::{self, CoordSys, GeometryLimits, Shape};
fn main() {
    let load = |f: &str| -> Vec<serde_json::Value> {
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(format!("data/{f}")).expect("read")).expect("json");
        v["features"].as_array().expect("features").clone()
    };
    let cities: Vec<Shape> = load("cities.geojson").iter().map(|f| Shape::new(Arc::new(geometry::parse_stored(&f["geometry"]).expect("geom")))).collect();
    for c in &cities { c.edges(); }
    let districts = load("districts.geojson");
    let (mut t_parse, mut t_shape, mut t_inter, mut t_clip, mut t_area, mut t_json) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut cands, mut hits) = (0, 0);
    for f in &districts {
        let t = Instant::now();
        let body = f["geometry"].to_string();
        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
        let mp = geometry::parse_area(&v, "", CoordSys::Wgs84, GeometryLimits::default()).expect("valid");
        t_parse += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let s = Shape::new(Arc::new(mp));
        s.edges();
        t_shape += t.elapsed().as_secs_f64();
        for c in &cities {
            if !c.bbox.intersects(&s.bbox) { continue; }
            cands += 1;
            let t = Instant::now();
            let hit = geometry::overlap::edges_interiors_intersect(s.edges(), c.edges());
            t_inter += t.elapsed().as_secs_f64();
            if hit {
                hits += 1;
                let t = Instant::now();
                let i = s.geometry.intersection(&*c.geometry);
                t_clip += t.elapsed().as_secs_f64();
                let t = Instant::now();
                std::hint::black_box(geometry::area_km2(&i));
                t_area += t.elapsed().as_secs_f64();
                let t = Instant::now();
                std::hint::black_box(geometry::raw_geojson(&i));
                t_json += t.elapsed().as_secs_f64();
            }
        }
    }
    let n = districts.len() as f64;
    println!("{hits} interior-intersecting district/city pairs over {} districts", districts.len());
    println!("per district check (µs): parse+validate {:.0}, shape {:.0}, interior tests {:.0} ({:.1} candidates), clip {:.0} ({:.2} hits), overlap area {:.0}, overlap json {:.0}",
        t_parse / n * 1e6, t_shape / n * 1e6, t_inter / n * 1e6, cands as f64 / n, t_clip / n * 1e6, hits as f64 / n, t_area / n * 1e6, t_json / n * 1e6);
}
