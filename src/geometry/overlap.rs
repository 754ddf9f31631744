//! The overlap decision between two areas: do their interiors meet (DE-9IM `T********`,
//! GEOS semantics), and if so, how large is the overlap and is it only a sliver?
//!
//! Sharing a border or a corner is never an overlap. An overlap below the sliver
//! tolerance is a warning, not a conflict: boundary data from different sources
//! disagrees by slivers.

use super::measure::area_km2;
use geo::{BooleanOps, CoordsIter, Intersects, MultiPolygon};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::sync::Arc;

/// Overlaps at or below both limits are slivers (warnings), not conflicts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SliverTolerance {
    /// Largest sliver area, km².
    pub max_km2: f64,
    /// Largest sliver share of the smaller of the two areas (0.001 = 0.1 %).
    pub max_ratio: f64,
}

impl Default for SliverTolerance {
    fn default() -> Self {
        SliverTolerance { max_km2: 0.05, max_ratio: 0.001 }
    }
}

impl SliverTolerance {
    /// Whether an overlap of this size is only a sliver.
    pub fn is_sliver(&self, km2: f64, ratio: f64) -> bool {
        km2 <= self.max_km2 && ratio <= self.max_ratio
    }
}

/// How two areas overlap, measured.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Geodesic overlap area, km².
    pub km2: f64,
    /// Overlap area / area of the smaller of the two.
    pub ratio: f64,
    /// The overlap itself.
    pub geometry: std::sync::Arc<MultiPolygon<f64>>,
    /// Its GeoJSON, when it is an area whose text is kept (see [`Shape::geojson`]).
    text: Option<std::sync::Arc<serde_json::value::RawValue>>,
}

impl Measured {
    /// The overlap as GeoJSON text (the kept text of a covered area, else written now).
    pub fn geojson(&self) -> std::sync::Arc<serde_json::value::RawValue> {
        self.text.clone().unwrap_or_else(|| super::raw_geojson(&self.geometry))
    }

    /// The overlap for an answer: the kept text of a covered area, else the area itself,
    /// written with the answer.
    pub fn geometry_out(&self) -> OverlapGeometry {
        match &self.text {
            Some(text) => OverlapGeometry::Text(text.clone()),
            None => OverlapGeometry::Area(self.geometry.clone()),
        }
    }
}

/// The outcome of comparing two areas.
#[derive(Debug, Clone)]
pub enum Overlap {
    /// Interiors do not meet (disjoint, or touching along a border or at a point).
    None,
    /// Interiors meet, but by less than the sliver tolerance.
    Sliver(Measured),
    /// Interiors meet by more than the sliver tolerance.
    Conflict(Measured),
}

pub use super::interiors::{Relation, covering, edges_interiors_intersect, interiors_intersect, relate, relate_within};
use super::segments::Segment;

/// Measures the overlap of `a` and `b` (areas `area_a`, `area_b` in km², already known)
/// with geo's general clipper (i_overlay): what [`overlap`] falls back to when the walk of
/// [`super::clip`] cannot settle a pair.
///
/// The one with more vertices is first cut to the other's bounding box (grown by a margin):
/// the overlap lies within that box, and the clipper's cost grows with every vertex it is
/// given (a district against its city: 608 + 1,952 vertices otherwise).
pub fn measure(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>, area_a: f64, area_b: f64) -> Measured {
    let geometry = if b.coords_count() > a.coords_count() {
        a.intersection(&cut_to_box(b, &grown(super::measure::bbox(a))))
    } else {
        cut_to_box(a, &grown(super::measure::bbox(b))).intersection(b)
    };
    measured(geometry, area_a, area_b, None)
}

/// The overlap `geometry` of two areas of `area_a` and `area_b` km², measured (with the
/// latitude terms one of them kept, if any).
fn measured(geometry: MultiPolygon<f64>, area_a: f64, area_b: f64, kept: Option<&super::measure::Latitudes>) -> Measured {
    let km2 = match kept {
        Some(kept) => super::measure::area_km2_using(&geometry, kept),
        None => area_km2(&geometry),
    };
    Measured { km2, ratio: overlap_ratio(km2, area_a, area_b), geometry: std::sync::Arc::new(geometry), text: None }
}

/// An overlap's share of the smaller of the two areas (0 if that one has no area).
pub fn overlap_ratio(km2: f64, area_a: f64, area_b: f64) -> f64 {
    let smaller = area_a.min(area_b);
    if smaller > 0.0 { (km2 / smaller).min(1.0) } else { 0.0 }
}

/// A box grown by 1 % of its size and 1e-6° on every side, so that it holds the area it
/// was taken from strictly inside.
fn grown(r: geo::Rect<f64>) -> geo::Rect<f64> {
    let (dx, dy) = (r.width() * 0.01 + 1e-6, r.height() * 0.01 + 1e-6);
    geo::Rect::new((r.min().x - dx, r.min().y - dy), (r.max().x + dx, r.max().y + dy))
}

/// The area `mp` cut to the box `r` ring by ring (Sutherland–Hodgman): as a set it is
/// `mp ∩ r`, but a concave ring may come back with zero-width runs along the box's edges.
/// Those lie on the box's boundary, strictly outside the area the box was grown around, so
/// intersecting that area with the cut one gives exactly its intersection with `mp`.
fn cut_to_box(mp: &MultiPolygon<f64>, r: &geo::Rect<f64>) -> MultiPolygon<f64> {
    let cut = |ring: &geo::LineString<f64>| -> Option<geo::LineString<f64>> {
        let mut points: Vec<geo::Coord<f64>> = ring.0.clone();
        points.pop(); // closed: the last position repeats the first
        for side in 0..4 {
            let inside = |c: &geo::Coord<f64>| match side {
                0 => c.x >= r.min().x,
                1 => c.x <= r.max().x,
                2 => c.y >= r.min().y,
                _ => c.y <= r.max().y,
            };
            let crossing = |s: geo::Coord<f64>, e: geo::Coord<f64>| {
                let (edge, along_x) = match side {
                    0 => (r.min().x, true),
                    1 => (r.max().x, true),
                    2 => (r.min().y, false),
                    _ => (r.max().y, false),
                };
                if along_x {
                    let t = (edge - s.x) / (e.x - s.x);
                    geo::Coord { x: edge, y: s.y + t * (e.y - s.y) }
                } else {
                    let t = (edge - s.y) / (e.y - s.y);
                    geo::Coord { x: s.x + t * (e.x - s.x), y: edge }
                }
            };
            let input = std::mem::take(&mut points);
            for (k, &e) in input.iter().enumerate() {
                let s = input[(k + input.len() - 1) % input.len()];
                match (inside(&s), inside(&e)) {
                    (true, true) => points.push(e),
                    (true, false) => points.push(crossing(s, e)),
                    (false, true) => points.extend([crossing(s, e), e]),
                    (false, false) => {}
                }
            }
            if points.len() < 3 {
                return None;
            }
        }
        points.push(points[0]);
        Some(geo::LineString(points))
    };
    let polygons = mp.0.iter().filter_map(|p| {
        let exterior = cut(p.exterior())?;
        Some(geo::Polygon::new(exterior, p.interiors().iter().filter_map(cut).collect()))
    });
    MultiPolygon(polygons.collect())
}

/// The overlap of `inner`, covered by `outer`: `inner` itself, with the area it has.
fn covered(inner: &Shape, outer: &Shape) -> Measured {
    let ratio = overlap_ratio(inner.area_km2, inner.area_km2, outer.area_km2);
    Measured { km2: inner.area_km2, ratio, geometry: inner.geometry.clone(), text: Some(inner.geojson()) }
}

/// An area with what comparing it needs, computed once: its edges sorted for the sweep,
/// its bounding box and its geodesic area.
#[derive(Debug, Clone)]
pub struct Shape {
    /// The area (valid, RFC 7946-oriented).
    pub geometry: std::sync::Arc<MultiPolygon<f64>>,
    /// Its edges sorted by min x, built on first use and shared by clones.
    edges: std::sync::Arc<std::sync::OnceLock<Vec<Segment>>>,
    /// Its edges in ring order and its rings, built on first use and shared by clones.
    rings: std::sync::Arc<std::sync::OnceLock<super::clip::Rings>>,
    /// Whether its boundary is touch-free ([`super::segments::touch_free`]), found on first
    /// use (or by validation) and shared by clones.
    touch_free: std::sync::Arc<std::sync::OnceLock<bool>>,
    /// For a drawn area, its vertices' latitude terms, kept to measure its overlaps.
    latitudes: Option<std::sync::Arc<super::measure::Latitudes>>,
    /// Bounding box.
    pub bbox: geo::Rect<f64>,
    /// Geodesic area, km².
    pub area_km2: f64,
    /// Its GeoJSON text, written on first use and shared by clones (a stored grant's area
    /// is the overlap of every check it covers).
    geojson: std::sync::Arc<std::sync::OnceLock<std::sync::Arc<serde_json::value::RawValue>>>,
}

impl Shape {
    /// Prepares an area whose geodesic area is already known.
    pub fn with_area(geometry: std::sync::Arc<MultiPolygon<f64>>, area_km2: f64) -> Shape {
        let bbox = super::measure::bbox(&geometry);
        Shape {
            geometry,
            edges: Default::default(),
            rings: Default::default(),
            touch_free: Default::default(),
            latitudes: None,
            bbox,
            area_km2,
            geojson: Default::default(),
        }
    }

    /// The edges, sorted by min x (built once).
    pub fn edges(&self) -> &[Segment] {
        self.edges.get_or_init(|| super::segments::segments(&self.geometry))
    }

    /// The edges in ring order and the rings (built once).
    pub fn rings(&self) -> &super::clip::Rings {
        self.rings.get_or_init(|| super::clip::Rings::new(self.edges()))
    }

    /// Whether the boundary meets itself only where neighbouring edges share a vertex (found once).
    pub fn touch_free(&self) -> bool {
        *self.touch_free.get_or_init(|| super::segments::touch_free(self.edges()))
    }

    /// Every place where this area's boundary meets `other`'s ([`super::interiors::meeting`]),
    /// shared stretches by their ends where both areas are touch-free.
    pub fn meeting(&self, other: &Shape) -> super::interiors::Meeting {
        fn side(s: &Shape) -> (&[Segment], [f64; 4], f64) {
            (s.edges(), corners(&s.bbox), s.rings().widest)
        }
        super::interiors::meeting(side(self), side(other), self.touch_free() && other.touch_free())
    }

    /// How this area relates to `other`, and their intersection when it is partial, from
    /// where their boundaries meet ([`super::clip::settle`]); `None` if not settled there.
    pub fn settle(&self, other: &Shape) -> Option<(Relation, Option<MultiPolygon<f64>>)> {
        super::clip::settle((self.edges(), self.rings()), (other.edges(), other.rings()), &self.meeting(other))
    }

    /// The area as GeoJSON text (written once).
    pub fn geojson(&self) -> std::sync::Arc<serde_json::value::RawValue> {
        self.geojson.get_or_init(|| super::raw_geojson(&self.geometry)).clone()
    }

    /// Prepares an area, measuring it.
    pub fn new(geometry: std::sync::Arc<MultiPolygon<f64>>) -> Shape {
        let area = area_km2(&geometry);
        Shape::with_area(geometry, area)
    }

    /// Prepares a drawn area (compared with many stored ones, then dropped) whose sorted
    /// edges and whether they are touch-free may be known, measuring it and keeping its
    /// latitude terms for measuring its overlaps.
    pub fn drawn(geometry: std::sync::Arc<MultiPolygon<f64>>, edges: Option<(Vec<Segment>, bool)>) -> Shape {
        let (area, latitudes) = super::measure::area_km2_keeping(&geometry);
        let mut shape = Shape::with_area(geometry, area);
        shape.latitudes = Some(std::sync::Arc::new(latitudes));
        if let Some((edges, touch_free)) = edges {
            let _ = shape.edges.set(edges);
            let _ = shape.touch_free.set(touch_free);
        }
        shape
    }

    /// Drops the latitude terms kept by [`Shape::drawn`] (a drawn area about to be stored).
    pub fn forget_latitudes(&mut self) {
        self.latitudes = None;
    }
}

/// A box as `[min x, min y, max x, max y]`.
fn corners(r: &geo::Rect<f64>) -> [f64; 4] {
    [r.min().x, r.min().y, r.max().x, r.max().y]
}

/// Compares two areas under a sliver tolerance: one sweep of both boundaries says whether
/// the interiors meet and whether either covers the other (then it is the overlap), and
/// finds every place they meet, from which a partial overlap is walked ([`super::clip`]).
pub fn overlap(a: &Shape, b: &Shape, tolerance: SliverTolerance) -> Overlap {
    if !a.bbox.intersects(&b.bbox) {
        return Overlap::None;
    }
    // The same area (a city checked against its own grant): no sweep needed, and the
    // overlap is taken as `b` (the stored one, whose text is kept).
    let same = std::sync::Arc::ptr_eq(&a.geometry, &b.geometry) || a.geometry == b.geometry;
    let m = if same {
        covered(b, a)
    } else {
        // What the walk does not settle goes to the sweep's own tests and the general clipper.
        let (relation, walked) = a.settle(b).unwrap_or_else(|| (relate_within(a.edges(), b.edges(), corners(&a.bbox), corners(&b.bbox)), None));
        match relation {
            Relation { interiors_meet: false, .. } => return Overlap::None,
            Relation { a_covered_by_b: true, .. } => covered(a, b),
            Relation { b_covered_by_a: true, .. } => covered(b, a),
            _ => match walked {
                Some(geometry) => measured(geometry, a.area_km2, b.area_km2, a.latitudes.as_deref().or(b.latitudes.as_deref())),
                None => measure(&a.geometry, &b.geometry, a.area_km2, b.area_km2),
            },
        }
    };
    if tolerance.is_sliver(m.km2, m.ratio) { Overlap::Sliver(m) } else { Overlap::Conflict(m) }
}

/// The overlap of a conflict: GeoJSON text already written (a stored area's, kept), or an
/// area written as GeoJSON when the answer is (the same text either way).
#[derive(Debug, Clone)]
pub enum OverlapGeometry {
    /// GeoJSON text.
    Text(Arc<RawValue>),
    /// An area, to be written.
    Area(Arc<geo::MultiPolygon<f64>>),
}

impl OverlapGeometry {
    /// The area (read from the text if that is what is kept); `None` if the text is not a
    /// MultiPolygon this service wrote.
    pub fn area(&self) -> Option<geo::MultiPolygon<f64>> {
        match self {
            OverlapGeometry::Text(text) => super::parse_stored(&serde_json::from_str(text.get()).ok()?).ok(),
            OverlapGeometry::Area(area) => Some((**area).clone()),
        }
    }
}

impl Serialize for OverlapGeometry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            OverlapGeometry::Text(text) => text.serialize(s),
            OverlapGeometry::Area(area) => super::geojson_io::GeoJsonArea(area).serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Shape {
        Shape::new(std::sync::Arc::new(MultiPolygon(vec![polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1)]])))
    }

    #[test]
    fn cutting_a_concave_area_to_the_box_keeps_the_overlap() {
        // A U open to the north, and a strip across both arms: the cut U has a zero-width
        // run along the box's southern edge, which must not show in the overlap.
        let u = MultiPolygon(vec![polygon![
            (x: 114.0, y: 22.0), (x: 114.3, y: 22.0), (x: 114.3, y: 22.3), (x: 114.2, y: 22.3),
            (x: 114.2, y: 22.1), (x: 114.1, y: 22.1), (x: 114.1, y: 22.3), (x: 114.0, y: 22.3)
        ]]);
        let strip = MultiPolygon(vec![polygon![(x: 114.05, y: 22.2), (x: 114.25, y: 22.2), (x: 114.25, y: 22.29), (x: 114.05, y: 22.29)]]);
        let cut = cut_to_box(&u, &grown(super::super::measure::bbox(&strip)));
        assert!(cut.coords_count() < u.coords_count() + 8, "{cut:?}");
        let direct = strip.intersection(&u);
        for (a, b) in [(&strip, &u), (&u, &strip)] {
            let m = measure(a, b, area_km2(a), area_km2(b));
            assert_eq!(m.geometry.0.len(), 2, "two arms: {:?}", m.geometry);
            let want = area_km2(&direct);
            assert!((m.km2 - want).abs() <= want * 1e-9, "{} vs {want}", m.km2);
        }
    }

    #[test]
    fn a_ring_both_share_whole_is_still_a_meeting() {
        // With touch-free areas, shared stretches are given by their ends only; a ring both
        // share whole has no end, and must still count as lying along the other.
        let square = polygon![(x: 114.0, y: 22.0), (x: 114.1, y: 22.0), (x: 114.1, y: 22.1), (x: 114.0, y: 22.1)];
        let far = polygon![(x: 114.3, y: 22.0), (x: 114.4, y: 22.0), (x: 114.4, y: 22.1), (x: 114.3, y: 22.1)];
        let a = Shape::new(std::sync::Arc::new(MultiPolygon(vec![square.clone()])));
        let b = Shape::new(std::sync::Arc::new(MultiPolygon(vec![square, far])));
        assert!(a.touch_free() && b.touch_free());
        let (relation, _) = a.settle(&b).expect("settled by the walk");
        assert_eq!(relation, Relation { interiors_meet: true, a_covered_by_b: true, b_covered_by_a: false });
        let (relation, _) = b.settle(&a).expect("settled by the walk");
        assert_eq!(relation, Relation { interiors_meet: true, a_covered_by_b: false, b_covered_by_a: true });
        match overlap(&a, &b, SliverTolerance::default()) {
            Overlap::Conflict(m) => assert!((m.km2 - a.area_km2).abs() < 1e-9 && (m.ratio - 1.0).abs() < 1e-12, "{m:?}"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        // Sharing three of its sides with a wider box, the square lies inside it all the same.
        let wide = polygon![(x: 114.0, y: 22.0), (x: 114.1, y: 22.0), (x: 114.2, y: 22.0), (x: 114.2, y: 22.1), (x: 114.1, y: 22.1), (x: 114.0, y: 22.1)];
        let wide = Shape::new(std::sync::Arc::new(MultiPolygon(vec![wide])));
        assert_eq!(a.settle(&wide).expect("settled").0, Relation { interiors_meet: true, a_covered_by_b: true, b_covered_by_a: false });
    }

    #[test]
    fn shared_border_is_not_an_overlap() {
        let (a, b) = (rect(114.0, 22.0, 114.1, 22.1), rect(114.1, 22.0, 114.2, 22.1));
        assert!(matches!(overlap(&a, &b, SliverTolerance::default()), Overlap::None));
    }

    #[test]
    fn thin_strip_is_a_sliver_and_a_wide_one_a_conflict() {
        let a = rect(114.0, 22.0, 114.1, 22.1);
        let sliver = rect(114.09999, 22.0, 114.2, 22.1); // ~1 m wide, ~0.01 km²
        let wide = rect(114.05, 22.0, 114.2, 22.1);
        let t = SliverTolerance::default();
        assert!(matches!(overlap(&a, &sliver, t), Overlap::Sliver(_)));
        match overlap(&a, &wide, t) {
            Overlap::Conflict(m) => {
                assert!((m.ratio - 0.5).abs() < 1e-6, "{}", m.ratio);
                let half = a.area_km2 / 2.0;
                assert!((m.km2 - half).abs() / half < 1e-6, "{} vs {half}", m.km2);
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
}
