//! Property tests of the exclusivity rule's geometry (proptest).

use geo::{MultiPolygon, Polygon, Rect};
use geos::Geom;
use proptest::prelude::*;
use std::sync::Arc;
use territory::domain::exclusivity::compare;
use territory::domain::grants::{Decision, Grant, Status, Territory, Validity};
use territory::domain::regions::RegionSet;
use territory::geometry::{Shape, SliverTolerance};

fn territory(mp: MultiPolygon<f64>) -> Territory {
    Territory::new(None, Shape::new(Arc::new(mp)))
}

fn grant(id: i64, partner: i64, t: Territory) -> Grant {
    Grant {
        id,
        network: "n".into(),
        partner_id: partner,
        partner_name: format!("p{partner}"),
        tier: "city_partner".into(),
        territory: t,
        exclusive: true,
        validity: Validity { from: "2025-01-01".parse().expect("date"), to: None },
        status: Status::Active,
        reserved_until: None,
        note: String::new(),
        created_at: String::new(),
        revoked_at: None,
        revoke_reason: None,
    }
}

fn decide(a: &Territory, b: &Territory) -> Decision {
    let mut d = Decision::default();
    compare(a, &grant(1, 1, b.clone()), &RegionSet::default(), SliverTolerance::default(), &mut d);
    d
}

/// A star-shaped polygon around (cx, cy) on a 1e-4° grid: valid by construction.
fn star() -> impl Strategy<Value = MultiPolygon<f64>> {
    (110.0f64..120.0, 20.0f64..40.0, prop::collection::vec(0.2f64..1.0, 3..24)).prop_map(|(cx, cy, radii)| {
        let n = radii.len();
        let mut ring: Vec<(f64, f64)> = radii
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let a = std::f64::consts::TAU * i as f64 / n as f64;
                let snap = |v: f64| (v * 1e4).round() / 1e4;
                (snap(cx + 0.1 * r * a.cos()), snap(cy + 0.1 * r * a.sin()))
            })
            .collect();
        ring.dedup();
        ring.push(ring[0]);
        MultiPolygon(vec![Polygon::new(ring.into(), vec![])])
    })
}

/// A star with a hole: the same star shrunk towards its centre (which sees the whole star,
/// so the shrunk copy lies inside it), wound the other way.
fn holed_star() -> impl Strategy<Value = MultiPolygon<f64>> {
    (star(), 0.2f64..0.6).prop_map(|(s, k)| {
        let outer = s.0[0].exterior().clone();
        let n = (outer.0.len() - 1) as f64;
        let (cx, cy) = outer.0[..outer.0.len() - 1].iter().fold((0.0, 0.0), |(x, y), c| (x + c.x / n, y + c.y / n));
        let snap = |v: f64| (v * 1e4).round() / 1e4;
        let mut hole: Vec<(f64, f64)> = outer.0.iter().map(|c| (snap(cx + (c.x - cx) * k), snap(cy + (c.y - cy) * k))).collect();
        hole.reverse();
        hole.dedup();
        MultiPolygon(vec![Polygon::new(outer, vec![hole.into()])])
    })
}

/// Two stars side by side, as the parts of one MultiPolygon.
fn two_stars() -> impl Strategy<Value = MultiPolygon<f64>> {
    (star(), star(), 0.2f64..0.4).prop_map(|(a, b, gap)| {
        use geo::{Centroid, Translate};
        let (ca, cb) = (a.centroid().expect("c"), b.centroid().expect("c"));
        let shift = |v: f64| (v * 1e4).round() / 1e4;
        let b = b.translate(shift(ca.x() - cb.x() + gap), shift(ca.y() - cb.y()));
        MultiPolygon(vec![a.0[0].clone(), b.0[0].clone()])
    })
}

/// A star, a star with a hole, or two stars.
fn area() -> impl Strategy<Value = MultiPolygon<f64>> {
    prop_oneof![star(), holed_star(), two_stars()]
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
    MultiPolygon(vec![Rect::new((x0, y0), (x1, y1)).to_polygon()])
}

/// The area as the service would take it: validated and oriented (None if invalid).
fn normalised(mp: &MultiPolygon<f64>) -> Option<MultiPolygon<f64>> {
    let v = territory::geometry::multipolygon_to_geojson(mp);
    territory::geometry::parse_area(&v, "", territory::geometry::CoordSys::Wgs84, Default::default()).ok()
}

/// A MultiPolygon as GEOS holds it (through WKT, every coordinate written exactly).
fn geos_geometry(mp: &MultiPolygon<f64>) -> geos::Geometry {
    let ring = |r: &geo::LineString<f64>| format!("({})", r.0.iter().map(|c| format!("{:?} {:?}", c.x, c.y)).collect::<Vec<_>>().join(","));
    let polygon = |p: &Polygon<f64>| format!("({})", std::iter::once(p.exterior()).chain(p.interiors()).map(ring).collect::<Vec<_>>().join(","));
    let wkt =
        if mp.0.is_empty() { "MULTIPOLYGON EMPTY".to_string() } else { format!("MULTIPOLYGON({})", mp.0.iter().map(polygon).collect::<Vec<_>>().join(",")) };
    geos::Geometry::new_from_wkt(&wkt).expect("WKT that GEOS reads")
}

fn is_valid(mp: &MultiPolygon<f64>) -> bool {
    normalised(mp).is_some()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn conflict_is_symmetric(a in star(), b in star(), dx in -0.15f64..0.15, dy in -0.15f64..0.15) {
        prop_assume!(is_valid(&a) && is_valid(&b));
        // Move b near a so that overlaps actually happen.
        use geo::{Centroid, Translate};
        let (ca, cb) = (a.centroid().expect("c"), b.centroid().expect("c"));
        let b = b.translate(ca.x() - cb.x() + dx, ca.y() - cb.y() + dy);
        let (ta, tb) = (territory(a), territory(b));
        let (ab, ba) = (decide(&ta, &tb), decide(&tb, &ta));
        prop_assert_eq!(ab.conflicts.len(), ba.conflicts.len());
        prop_assert_eq!(ab.warnings.len(), ba.warnings.len());
        if let (Some(x), Some(y)) = (ab.conflicts.first(), ba.conflicts.first()) {
            prop_assert!((x.overlap_km2 - y.overlap_km2).abs() <= 1e-6 * x.overlap_km2.max(1.0));
        }
    }

    #[test]
    fn a_shared_border_never_conflicts(x in 100.0f64..120.0, y in 20.0f64..40.0, w in 0.001f64..0.5, h in 0.001f64..0.5, w2 in 0.001f64..0.5, cut in 0.0f64..1.0) {
        // Two boxes side by side sharing the edge x + w (exactly, in floating point).
        let mid = x + w;
        let a = territory(rect(x, y, mid, y + h));
        let b = territory(rect(mid, y + cut * h, mid + w2, y + h + cut * h));
        let d = decide(&a, &b);
        prop_assert!(d.conflicts.is_empty() && d.warnings.is_empty(), "{:?}", d);
    }

    #[test]
    fn the_sweep_interior_test_agrees_with_geo_relate(a in star(), b in star(), dx in -30i32..30, dy in -30i32..30, mirror in any::<bool>()) {
        prop_assume!(is_valid(&a) && is_valid(&b));
        use geo::{Centroid, Relate, Scale, Translate};
        // Snap b next to a on the same 1e-4° grid, sometimes mirrored, so edges often
        // coincide, touch at vertices or run along each other.
        let (ca, cb) = (a.centroid().expect("c"), b.centroid().expect("c"));
        let shift = |v: f64| (v * 1e4).round() / 1e4;
        let b = if mirror { b.scale_xy(-1.0, 1.0) } else { b };
        let b = b.translate(shift(ca.x() - cb.x()) + f64::from(dx) * 1e-3, shift(ca.y() - cb.y()) + f64::from(dy) * 1e-3);
        let Some(b) = normalised(&b) else { return Err(TestCaseError::reject("invalid")) };
        let Some(a) = normalised(&a) else { return Err(TestCaseError::reject("invalid")) };
        let expected = a.relate(&b).matches("T********").expect("pattern");
        prop_assert_eq!(territory::geometry::overlap::interiors_intersect(&a, &b), expected);
        prop_assert_eq!(territory::geometry::overlap::interiors_intersect(&b, &a), expected);
        prop_assert!(territory::geometry::overlap::interiors_intersect(&a, &a));
        // The walk's relation, which the decision tries first, is the sweep's whenever it settles.
        let (sa, sb) = (Shape::new(Arc::new(a.clone())), Shape::new(Arc::new(b.clone())));
        for (x, y) in [(&sa, &sb), (&sb, &sa)] {
            if let Some((walked, _)) = x.settle(y) {
                prop_assert_eq!(walked, territory::geometry::overlap::relate(x.edges(), y.edges()));
            }
        }
    }

    #[test]
    fn the_walked_intersection_agrees_with_geos(a in area(), b in area(), dx in -30i32..30, dy in -30i32..30, mirror in any::<bool>()) {
        use geo::{Centroid, Scale, Translate};
        // As above: b snapped next to a, so that the boundaries share vertices and stretches.
        let (ca, cb) = (a.centroid().expect("c"), b.centroid().expect("c"));
        let shift = |v: f64| (v * 1e4).round() / 1e4;
        let b = if mirror { b.scale_xy(-1.0, 1.0) } else { b };
        let b = b.translate(shift(ca.x() - cb.x()) + f64::from(dx) * 1e-3, shift(ca.y() - cb.y()) + f64::from(dy) * 1e-3);
        let (Some(a), Some(b)) = (normalised(&a), normalised(&b)) else { return Err(TestCaseError::reject("invalid")) };
        let (sa, sb) = (Shape::new(Arc::new(a.clone())), Shape::new(Arc::new(b.clone())));
        for (x, y) in [(&sa, &sb), (&sb, &sa)] {
            if let Some((walked, _)) = x.settle(y) {
                prop_assert_eq!(walked, territory::geometry::overlap::relate(x.edges(), y.edges()));
            }
        }
        prop_assume!(territory::geometry::overlap::relate(sa.edges(), sb.edges()).interiors_meet);
        let meeting = sa.meeting(&sb);
        let walked = territory::geometry::clip::intersection((sa.edges(), sa.rings()), (sb.edges(), sb.rings()), &meeting);
        let Some(walked) = walked else { return Err(TestCaseError::reject("left to the general clipper")) };
        // GEOS is the reference (geo's i_overlay clipper loses slivers now and then: its
        // area was off by 3e-6 where GEOS and the walk agree exactly).
        let want = geos_geometry(&a).intersection(&geos_geometry(&b)).expect("GEOS intersection");
        let got = geos_geometry(&walked);
        let differ = got.sym_difference(&want).expect("GEOS difference").area().expect("area");
        let area = want.area().expect("area");
        prop_assert!(differ <= 1e-9 * area.max(1e-12), "the walk and GEOS differ by {differ} of {area} deg²: {:?}", walked);
        // The overlap is a valid area itself (closed rings, no crossing, exteriors around holes).
        prop_assert!(is_valid(&walked), "invalid overlap {:?}", walked);
    }

    #[test]
    fn a_polygon_always_conflicts_with_an_exclusive_grant_of_itself(a in star()) {
        prop_assume!(is_valid(&a));
        let t = territory(a);
        let d = decide(&t, &t.clone());
        prop_assert_eq!(d.conflicts.len(), 1);
        prop_assert!((d.conflicts[0].overlap_ratio - 1.0).abs() < 1e-6);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// An outlet is placed by where its point lies: inside (or on the edge of) its
    /// partner's grant it is home; strictly inside another partner's exclusive grant it is
    /// refused; outside both it is nowhere; on that grant's edge it is not inside it.
    #[test]
    fn outlets_are_placed_by_point_in_polygon(
        (x0, y0, w, h) in (100.0..120.0f64, 20.0..40.0f64, 0.01..1.0f64, 0.01..1.0f64),
        (fx, fy) in (-0.5..1.5f64, -0.5..1.5f64),
        on_edge in any::<bool>(),
    ) {
        let rect: MultiPolygon<f64> = Rect::new((x0, y0), (x0 + w, y0 + h)).to_polygon().into();
        let mut index = territory::domain::exclusivity::GrantIndex::default();
        index.apply(vec![grant(1, 1, territory(rect))], 1, &RegionSet::default());
        let grants = index.network("n");
        let (px, py) = if on_edge { (x0 + w * fx.clamp(0.0, 1.0), y0) } else { (x0 + w * fx, y0 + h * fy) };
        let point = geo::Point::new(px, py);
        let day = "2025-06-01".parse().expect("date");
        let strictly_inside = !on_edge && fx > 0.0 && fx < 1.0 && fy > 0.0 && fy < 1.0;
        let covered = on_edge || (0.0..=1.0).contains(&fx) && (0.0..=1.0).contains(&fy);
        let own = territory::domain::outlets::place(grants, 1, point, day, day);
        prop_assert_eq!(!own.own.is_empty(), covered);
        prop_assert!(own.foreign_exclusive.is_empty());
        let other = territory::domain::outlets::place(grants, 2, point, day, day);
        prop_assert!(other.own.is_empty());
        prop_assert_eq!(!other.foreign_exclusive.is_empty(), strictly_inside);
        let before = territory::domain::outlets::place(grants, 1, point, "2024-12-31".parse().expect("date"), day);
        prop_assert!(before.own.is_empty(), "a grant not yet in force holds nothing");
        // As a reservation until `day`, it holds on that day and on no later one.
        let mut reserved = grant(1, 1, territory(Rect::new((x0, y0), (x0 + w, y0 + h)).to_polygon().into()));
        (reserved.status, reserved.reserved_until) = (Status::Reserved, Some(day));
        let mut index = territory::domain::exclusivity::GrantIndex::default();
        index.apply(vec![reserved], 1, &RegionSet::default());
        let next = day.succ_opt().expect("day");
        let held = territory::domain::outlets::place(index.network("n"), 2, point, day, day);
        prop_assert_eq!(!held.foreign_exclusive.is_empty(), strictly_inside);
        let expired = territory::domain::outlets::place(index.network("n"), 2, point, day, next);
        prop_assert!(expired.foreign_exclusive.is_empty(), "an expired reservation holds nothing");
    }
}

/// A square ring on a small grid, counter-clockwise (or clockwise, for a hole).
fn square_ring((x, y, size): (u8, u8, u8), clockwise: bool) -> geo::LineString<f64> {
    let (x0, y0, s) = (110.0 + f64::from(x) * 0.1, 30.0 + f64::from(y) * 0.1, f64::from(size) * 0.1);
    let mut ring = vec![(x0, y0), (x0 + s, y0), (x0 + s, y0 + s), (x0, y0 + s), (x0, y0)];
    if clockwise {
        ring.reverse();
    }
    ring.into()
}

/// Up to four square parts, each with up to two square holes near its corner, on a 12 × 12
/// grid: parts apart, touching at corners, sharing edges, overlapping, inside another or
/// inside another's hole; holes inside, outside, across the exterior, in each other.
fn squares() -> impl Strategy<Value = MultiPolygon<f64>> {
    let polygon = ((0u8..12, 0u8..12, 1u8..9), prop::collection::vec((0u8..6, 0u8..6, 1u8..4), 0..3)).prop_map(|((x, y, size), holes)| {
        let holes = holes.into_iter().map(|(hx, hy, hs)| square_ring((x + hx, y + hy, hs), true)).collect();
        Polygon::new(square_ring((x, y, size), false), holes)
    });
    prop::collection::vec(polygon, 1..5).prop_map(MultiPolygon)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Validation (the segment sweep, then where each ring lies from an R-tree of all edges)
    /// accepts exactly the areas GEOS calls valid.
    #[test]
    fn validation_agrees_with_geos(mp in squares()) {
        let geos_valid = geos_geometry(&mp).is_valid().expect("GEOS answers");
        let ours = territory::geometry::parse_area(&territory::geometry::multipolygon_to_geojson(&mp), "", territory::geometry::CoordSys::Wgs84, Default::default());
        prop_assert_eq!(ours.is_ok(), geos_valid, "ours: {:?}\n{:?}", ours.err(), mp);
    }
}
