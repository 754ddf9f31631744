//! Validation time against the number of rings: a MultiPolygon of n small triangles on a
//! square grid (the shape of the attack in issue 20: 50,000 triangles, 3.7 MiB of GeoJSON),
//! read and validated as a grant's drawn territory is (`parse_area_text`, no limits).
//!
//! `cargo bench --bench validation` prints a markdown table (recorded in BENCHMARKS.md):
//! rings, GeoJSON size, the best of five runs, and the time per ring.

use std::time::Instant;
use territory::geometry::{CoordSys, GeometryLimits, parse_area_text};

/// `n` disjoint triangles, one per cell of a square grid near Wuhan, as GeoJSON text.
fn triangles(n: usize) -> String {
    let side = (n as f64).sqrt().ceil() as usize;
    let cell = 0.5 / side as f64;
    let parts: Vec<String> = (0..n)
        .map(|i| {
            let (x, y) = (114.0 + (i % side) as f64 * cell, 30.0 + (i / side) as f64 * cell);
            let d = cell * 0.8;
            format!("[[[{x},{y}],[{},{y}],[{x},{}],[{x},{y}]]]", x + d, y + d)
        })
        .collect();
    format!(r#"{{"type":"MultiPolygon","coordinates":[{}]}}"#, parts.join(","))
}

fn main() {
    println!("| rings | GeoJSON | best of 5 | per ring |\n| ---: | ---: | ---: | ---: |");
    for n in [1_000, 2_500, 10_000, 50_000, 200_000] {
        let text = triangles(n);
        let best = (0..5)
            .map(|_| {
                let t = Instant::now();
                let shape = parse_area_text(&text, "", CoordSys::Wgs84, GeometryLimits::NONE).expect("valid");
                std::hint::black_box(shape);
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min);
        println!("| {n} | {:.1} MiB | {:.1} ms | {:.2} µs |", text.len() as f64 / (1 << 20) as f64, best * 1e3, best * 1e6 / n as f64);
    }
}
