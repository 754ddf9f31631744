//! Differential test of the overlap decision against GEOS semantics: the fixture
//! `tests/fixtures/relate_cases.json` was produced by `tests/oracle/relate_fixture.py`
//! (shapely/GEOS `relate_pattern(a, b, 'T********')`, pyproj geodesic areas).

use serde_json::Value;
use std::sync::Arc;
use territory::geometry::overlap::{Overlap, Shape, SliverTolerance, covering, interiors_intersect, overlap};
use territory::geometry::segments::segments;
use territory::geometry::{CoordSys, GeometryLimits, area_km2, parse_area};

fn cases() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/relate_cases.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
    fixture["cases"].as_array().expect("cases").clone()
}

fn geometry(v: &Value, name: &str) -> geo::MultiPolygon<f64> {
    parse_area(v, "", CoordSys::Wgs84, GeometryLimits::NONE).unwrap_or_else(|e| panic!("{name}: fixture geometry refused by our validation: {e:?}"))
}

#[test]
fn interior_intersection_agrees_with_geos_on_every_case() {
    let cases = cases();
    assert!(cases.len() >= 200, "fixture has {} cases", cases.len());
    let mut disagreements = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().expect("name");
        let (a, b) = (geometry(&case["a"], name), geometry(&case["b"], name));
        let expected = case["interiors_intersect"].as_bool().expect("bool");
        if interiors_intersect(&a, &b) != expected {
            disagreements.push(format!("{name}: GEOS {} ({}), ours {}", expected, case["relate"], !expected));
        }
        if interiors_intersect(&b, &a) != expected {
            disagreements.push(format!("{name} (swapped): GEOS {expected}"));
        }
    }
    assert!(disagreements.is_empty(), "{} disagreements:\n{}", disagreements.len(), disagreements.join("\n"));
}

/// Covered-by (DE-9IM: `I(a) ∩ E(b)` and `B(a) ∩ E(b)` empty, the matrix's third and sixth
/// letters `F`) decides whether an overlap is the covered area itself or is clipped.
#[test]
fn covered_by_agrees_with_geos_on_every_case_whose_interiors_meet() {
    let (mut checked, mut covered, mut disagreements) = (0, 0, Vec::new());
    for case in cases() {
        if case["interiors_intersect"].as_bool() != Some(true) {
            continue;
        }
        let name = case["name"].as_str().expect("name");
        let m: Vec<char> = case["relate"].as_str().expect("relate").chars().collect();
        let expected = (m[2] == 'F' && m[5] == 'F', m[6] == 'F' && m[7] == 'F');
        let (a, b) = (segments(&geometry(&case["a"], name)), segments(&geometry(&case["b"], name)));
        for (got, want, how) in [(covering(&a, &b), expected, ""), (covering(&b, &a), (expected.1, expected.0), " (swapped)")] {
            if got != want {
                disagreements.push(format!("{name}{how}: GEOS {} says covered {want:?}, ours {got:?}", case["relate"]));
            }
        }
        checked += 1;
        covered += usize::from(expected.0 || expected.1);
    }
    eprintln!("{checked} overlapping cases, {covered} of them covered one way or both");
    assert!(checked >= 60 && covered >= 10, "only {checked} overlapping cases, {covered} covered");
    assert!(disagreements.is_empty(), "{} disagreements:\n{}", disagreements.len(), disagreements.join("\n"));
}

/// The walk's own relation (`clip::settle`, from the nodes where the boundaries meet), which
/// the decision uses first, agrees with GEOS on every case it settles, both ways round.
#[test]
fn the_walk_settles_the_relation_as_geos_does() {
    let (mut settled, mut total, mut disagreements) = (0, 0, Vec::new());
    for case in cases() {
        let name = case["name"].as_str().expect("name");
        let meets = case["interiors_intersect"].as_bool().expect("bool");
        let m: Vec<char> = case["relate"].as_str().expect("relate").chars().collect();
        let covered = (meets && m[2] == 'F' && m[5] == 'F', meets && m[6] == 'F' && m[7] == 'F');
        let (a, b) = (Shape::new(Arc::new(geometry(&case["a"], name))), Shape::new(Arc::new(geometry(&case["b"], name))));
        for (x, y, want, how) in [(&a, &b, covered, ""), (&b, &a, (covered.1, covered.0), " (swapped)")] {
            total += 1;
            let Some((got, _)) = x.settle(y) else { continue };
            settled += 1;
            if (got.interiors_meet, got.a_covered_by_b, got.b_covered_by_a) != (meets, want.0, want.1) {
                disagreements.push(format!("{name}{how}: GEOS {} (interiors meet {meets}, covered {want:?}), walk {got:?}", case["relate"]));
            }
        }
    }
    eprintln!("{settled} of {total} ordered pairs settled by the walk");
    assert!(settled * 10 >= total * 9, "only {settled} of {total} settled");
    assert!(disagreements.is_empty(), "{} disagreements:\n{}", disagreements.len(), disagreements.join("\n"));
}

#[test]
fn areas_agree_with_pyproj_geodesic_areas() {
    let mut worst = (0.0f64, String::new());
    let mut worst_area = (0.0f64, String::new());
    for case in cases() {
        let name = case["name"].as_str().expect("name");
        let (a, b) = (geometry(&case["a"], name), geometry(&case["b"], name));
        let (area_a, area_b) = (area_km2(&a), area_km2(&b));
        for (got, key) in [(area_a, "area_a_km2"), (area_b, "area_b_km2")] {
            let want = case[key].as_f64().expect("area");
            // Relative to the area, or to 10 km² for smaller ones. Measured worst: 2.1e-7 (10 m²
            // on a 48 km² district with long simplified edges); the sliver tolerance is 50,000 m².
            let rel = (got - want).abs() / want.max(10.0);
            if rel > worst_area.0 {
                worst_area = (rel, format!("{name}: {key} {got} vs pyproj {want}"));
            }
        }
        if case["interiors_intersect"].as_bool() == Some(true) {
            // Through the whole decision: covered pairs take the covered one as the overlap,
            // the others are clipped.
            let (sa, sb) = (Shape::with_area(Arc::new(a), area_a), Shape::with_area(Arc::new(b), area_b));
            let m = match overlap(&sa, &sb, SliverTolerance { max_km2: 0.0, max_ratio: 0.0 }) {
                Overlap::Conflict(m) | Overlap::Sliver(m) => m,
                Overlap::None => panic!("{name}: interiors meet, no overlap measured"),
            };
            let want = case["overlap_km2"].as_f64().expect("overlap");
            let rel = (m.km2 - want).abs() / want.max(1e-3);
            if rel > worst.0 {
                worst = (rel, format!("{name}: overlap {} vs GEOS+pyproj {want}", m.km2));
            }
        }
    }
    eprintln!("worst area deviation: {:.2e} ({})", worst_area.0, worst_area.1);
    eprintln!("worst overlap deviation: {:.2e} ({})", worst.0, worst.1);
    assert!(worst_area.0 <= 1e-6, "{}", worst_area.1);
    // Partial overlaps are walked from the exact crossings and touches (`clip`), so they
    // agree with GEOS as closely as the areas themselves (2.1e-7 measured). geo's general
    // clipper (i_overlay), which the walk falls back to, snaps to an integer grid and
    // agreed only to about 5e-6 (a few m² on a district).
    assert!(worst.0 <= 1e-6, "{}", worst.1);
}

/// The areas of a layer of the bundled sample data.
fn sample(file: &str) -> Vec<Shape> {
    let path = format!("{}/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
    let features = v["features"].as_array().expect("features");
    features.iter().map(|f| Shape::new(Arc::new(territory::geometry::parse_stored(&f["geometry"]).expect("geometry")))).collect()
}

/// Every district of the sample data against every city, as in `bench/postgis_baseline.sh`:
/// PostGIS 3.3.2 (GEOS 3.11.1) with `geom && $1 AND ST_Relate(geom, $1, 'T********')` finds
/// 1,258 pairs over the 876 district features (each district meets its own city, plus
/// slivers where the separately simplified layers disagree). The same count here means the
/// same decisions at scale on real boundaries.
#[test]
fn district_city_pairs_agree_with_postgis_on_the_sample_data() {
    let (districts, cities) = (sample("districts.geojson"), sample("cities.geojson"));
    assert_eq!((districts.len(), cities.len()), (876, 121));
    let pairs: usize = districts
        .iter()
        .map(|d| {
            cities
                .iter()
                .filter(|c| geo::Intersects::intersects(&d.bbox, &c.bbox) && territory::geometry::overlap::edges_interiors_intersect(d.edges(), c.edges()))
                .count()
        })
        .sum();
    assert_eq!(pairs, 1258);
    // The decision itself (one sweep for interiors and covers) finds the same pairs.
    let decided: usize = districts.iter().map(|d| cities.iter().filter(|c| !matches!(overlap(d, c, SliverTolerance::default()), Overlap::None)).count()).sum();
    assert_eq!(decided, 1258);
}

/// A district sent as GeoJSON (read from the text, validated, its edges' touch-freeness
/// told by the validation, its latitude terms kept) decides against every city exactly as
/// the same district read as a stored area does.
#[test]
fn drawn_districts_decide_as_stored_ones_do() {
    let path = format!("{}/data/districts.geojson", env!("CARGO_MANIFEST_DIR"));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
    let (stored, cities) = (sample("districts.geojson"), sample("cities.geojson"));
    let mut compared = 0;
    for (f, s) in v["features"].as_array().expect("features").iter().zip(&stored) {
        let drawn = territory::geometry::parse_area_text(&f["geometry"].to_string(), "", CoordSys::Wgs84, GeometryLimits::default()).expect("valid");
        assert_eq!(drawn.touch_free(), s.touch_free());
        for c in &cities {
            let (a, b) = (overlap(&drawn, c, SliverTolerance::default()), overlap(s, c, SliverTolerance::default()));
            match (&a, &b) {
                (Overlap::None, Overlap::None) => continue,
                (Overlap::Conflict(x), Overlap::Conflict(y)) | (Overlap::Sliver(x), Overlap::Sliver(y)) => {
                    assert!((x.km2 - y.km2).abs() <= 1e-12 * y.km2.max(1.0), "{} vs {}", x.km2, y.km2);
                }
                _ => panic!("drawn {a:?} but stored {b:?}"),
            }
            compared += 1;
        }
    }
    assert_eq!(compared, 1258);
}

/// The 777 district/city pairs of the sample data whose interiors meet but neither covers
/// the other are clipped by walking their boundaries (`clip`), not by the general clipper
/// (i_overlay): every one of them, with the same area to 1e-6 and a valid overlap.
#[test]
fn partial_district_city_overlaps_are_walked_and_agree_with_the_general_clipper() {
    use territory::geometry::overlap::{measure, relate};
    let (districts, cities) = (sample("districts.geojson"), sample("cities.geojson"));
    let (mut partial, mut walked, mut worst) = (0, 0, (0.0f64, String::new()));
    for (i, d) in districts.iter().enumerate() {
        for (j, c) in cities.iter().enumerate() {
            if !geo::Intersects::intersects(&d.bbox, &c.bbox) {
                continue;
            }
            let relation = relate(d.edges(), c.edges());
            if !relation.interiors_meet || relation.a_covered_by_b || relation.b_covered_by_a {
                continue;
            }
            let meeting = d.meeting(c);
            partial += 1;
            let Some(got) = territory::geometry::clip::intersection((d.edges(), d.rings()), (c.edges(), c.rings()), &meeting) else { continue };
            walked += 1;
            let want = measure(&d.geometry, &c.geometry, d.area_km2, c.area_km2).km2;
            let km2 = territory::geometry::area_km2(&got);
            // i_overlay snaps to an integer grid: a few m² on a district, 0.2 m² on a sliver.
            let deviation = (km2 - want).abs() / want.max(1.0);
            if deviation > worst.0 {
                worst = (deviation, format!("district {i}, city {j}: {km2} km² walked, {want} km² clipped"));
            }
            let text = territory::geometry::multipolygon_to_geojson(&got);
            let valid = territory::geometry::parse_area(&text, "", territory::geometry::CoordSys::Wgs84, Default::default());
            assert!(valid.is_ok(), "district {i}, city {j}: the walked overlap is not valid: {valid:?}");
        }
    }
    eprintln!("{walked} of {partial} partial pairs walked; worst deviation from i_overlay {:.2e} ({})", worst.0, worst.1);
    assert_eq!((partial, walked), (777, 777));
    assert!(worst.0 <= 1e-6, "{}", worst.1);
}
