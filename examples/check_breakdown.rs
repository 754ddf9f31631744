//! Times the phases of a drawn-geometry check: each district, and each city, sent as
//! GeoJSON against the 121 cities. For every pair whose interiors meet, the overlap is
//! measured both ways in the same run: clipping (geo's `BooleanOps`) and the decision's
//! path (one sweep recording where the boundaries meet, the relation told from those
//! nodes, a partial overlap walked from them).
use geo::{BooleanOps, Intersects};
use std::sync::Arc;
use std::time::Instant;
use territory::geometry::overlap::{Overlap, SliverTolerance, covering};
use territory::geometry::{self, CoordSys, GeometryLimits, Shape};

fn load(f: &str) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(format!("data/{f}")).expect("read")).expect("json");
    v["features"].as_array().expect("features").clone()
}

fn main() {
    let cities: Vec<Shape> = load("cities.geojson").iter().map(|f| Shape::new(Arc::new(geometry::parse_stored(&f["geometry"]).expect("geom")))).collect();
    for c in &cities {
        c.edges();
    }
    for (what, file) in [("district", "districts.geojson"), ("city", "cities.geojson")] {
        let features = load(file);
        let (mut t_parse, mut t_shape, mut t_inter, mut t_clip, mut t_decided, mut t_area, mut t_json) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        let (mut cands, mut hits, mut covered) = (0, 0, 0);
        for f in &features {
            let body = f["geometry"].to_string();
            let t = Instant::now();
            let s = geometry::parse_area_text(&body, "", CoordSys::Wgs84, GeometryLimits::default()).expect("valid");
            t_parse += t.elapsed().as_secs_f64();
            let t = Instant::now();
            s.edges();
            t_shape += t.elapsed().as_secs_f64();
            for c in &cities {
                if !c.bbox.intersects(&s.bbox) {
                    continue;
                }
                cands += 1;
                let t = Instant::now();
                let hit = geometry::overlap::edges_interiors_intersect(s.edges(), c.edges());
                t_inter += t.elapsed().as_secs_f64();
                if !hit {
                    continue;
                }
                hits += 1;
                let t = Instant::now();
                let clipped = s.geometry.intersection(&*c.geometry);
                t_clip += t.elapsed().as_secs_f64();
                let t = Instant::now();
                std::hint::black_box(geometry::area_km2(&clipped));
                t_area += t.elapsed().as_secs_f64();
                // The decision's path, sweep included (as `overlap` runs it).
                let t = Instant::now();
                let decided = geometry::overlap(&s, c, SliverTolerance::default());
                t_decided += t.elapsed().as_secs_f64();
                let (Overlap::Conflict(m) | Overlap::Sliver(m)) = decided else { panic!("interiors meet, no overlap") };
                covered += usize::from(covering(s.edges(), c.edges()) != (false, false));
                let t = Instant::now();
                std::hint::black_box(m.geojson());
                t_json += t.elapsed().as_secs_f64();
            }
        }
        let n = features.len() as f64;
        println!("{what}: {hits} interior-intersecting pairs with the cities over {} features, {covered} of them covered", features.len());
        println!(
            "per {what} check (µs): parse+validate+area {:.0}, edges (if not kept from validation) {:.0}, interior tests {:.0} ({:.1} candidates), overlap by clipping {:.0} + area {:.0} ({:.2} hits), overlap as decided (sweep, relation from the nodes, walk of the partial ones, area) {:.0}, overlap json {:.0}",
            t_parse / n * 1e6,
            t_shape / n * 1e6,
            t_inter / n * 1e6,
            cands as f64 / n,
            t_clip / n * 1e6,
            t_area / n * 1e6,
            hits as f64 / n,
            t_decided / n * 1e6,
            t_json / n * 1e6
        );
    }
}
