//! Segment sweep: all pairs of segments whose bounding boxes meet, found by sorting on
//! min x and sweeping (sweep-and-prune). Near O(n log n) for map polygons, whose edges
//! are short; used by validation, where geo's `Validation` is quadratic.

use geo::{Coord, Line, MultiPolygon};

/// One edge of a ring, with where it comes from.
#[derive(Debug, Clone, Copy)]
pub struct Segment {
    /// The edge.
    pub line: Line<f64>,
    /// Polygon index in the MultiPolygon.
    pub part: u32,
    /// Ring index in the polygon (0 = exterior).
    pub ring: u32,
    /// Edge index in the ring.
    pub index: u32,
    /// Number of edges in the ring.
    pub ring_edges: u32,
    min_x: f64,
    max_x: f64,
    min_y: f64,
    max_y: f64,
}

impl Segment {
    /// Smallest x of the edge.
    pub fn min_x(&self) -> f64 {
        self.min_x
    }
    /// Largest x of the edge.
    pub fn max_x(&self) -> f64 {
        self.max_x
    }
    /// Smallest y of the edge.
    pub fn min_y(&self) -> f64 {
        self.min_y
    }
    /// Largest y of the edge.
    pub fn max_y(&self) -> f64 {
        self.max_y
    }

    /// Whether `other` is the next or previous edge of the same ring.
    pub fn adjacent(&self, other: &Segment) -> bool {
        if self.part != other.part || self.ring != other.ring {
            return false;
        }
        let (i, j, n) = (self.index, other.index, self.ring_edges);
        i.abs_diff(j) == 1 || (i == 0 && j == n - 1) || (j == 0 && i == n - 1)
    }
}

/// The edges of every ring, consecutive duplicate points skipped, sorted by min x.
pub fn segments(mp: &MultiPolygon<f64>) -> Vec<Segment> {
    let mut out = Vec::new();
    for (p, polygon) in mp.0.iter().enumerate() {
        let rings = std::iter::once(polygon.exterior()).chain(polygon.interiors());
        for (r, ring) in rings.enumerate() {
            let mut coords: Vec<Coord<f64>> = ring.0.clone();
            coords.dedup();
            let n = coords.len().saturating_sub(1) as u32;
            for (i, w) in coords.windows(2).enumerate() {
                let (a, b) = (w[0], w[1]);
                out.push(Segment {
                    line: Line::new(a, b),
                    part: p as u32,
                    ring: r as u32,
                    index: i as u32,
                    ring_edges: n,
                    min_x: a.x.min(b.x),
                    max_x: a.x.max(b.x),
                    min_y: a.y.min(b.y),
                    max_y: a.y.max(b.y),
                });
            }
        }
    }
    out.sort_unstable_by(|a, b| a.min_x.total_cmp(&b.min_x));
    out
}

/// Calls `f` for every pair of segments (i < j in sweep order) whose boxes meet;
/// stops early when `f` returns `false`.
pub fn for_each_pair(segs: &[Segment], mut f: impl FnMut(&Segment, &Segment) -> bool) {
    for (i, s) in segs.iter().enumerate() {
        for t in &segs[i + 1..] {
            if t.min_x > s.max_x {
                break;
            }
            if t.max_y < s.min_y || t.min_y > s.max_y {
                continue;
            }
            if !f(s, t) {
                return;
            }
        }
    }
}
