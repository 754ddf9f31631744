//! Do the interiors of two valid, RFC 7946-oriented areas meet? (DE-9IM `T********`.)
//!
//! geo's `relate` answers this too, but builds a full topology graph per call (1–2 ms on a
//! district against a city). This test reuses each area's edges, sorted once
//! ([`segments`]), and stops at the first proof:
//! 1. sweep both edge lists together; for each pair of edges whose boxes meet, the robust
//!    segment intersection says: a **proper crossing** proves the interiors meet (near the
//!    crossing one of the four sectors lies in both); a **shared stretch run in the same
//!    direction** proves it too (both interiors lie on its left, as both areas are oriented
//!    with the interior on the left of every edge); touches are recorded;
//! 2. with neither, the boundaries only touch. Each boundary is cut at the touch points into
//!    pieces that lie wholly inside, outside, or along the other boundary; a piece strictly
//!    inside the other area (tested at its midpoint) proves the interiors meet. Runs of edges
//!    without touches are tested once.
//!
//! If nothing proves it, the interiors are disjoint (one area inside the other's hole,
//! neighbours along a border, corner touches, or apart).

use super::segments::{Segment, segments};
use geo::line_intersection::{LineIntersection, line_intersection};
use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::{Coord, MultiPolygon};

/// A stretch of boundary both areas share: its two ends.
type Stretch = (Coord<f64>, Coord<f64>);

/// Touch points and shared stretches found on the edges of one area, by edge.
struct Touches {
    points: Vec<Vec<Coord<f64>>>,
    shared: Vec<Vec<Stretch>>,
}

impl Touches {
    /// No touches yet on `edges` edges (allocates only where touches are recorded).
    fn new(edges: usize) -> Touches {
        Touches { points: vec![Vec::new(); edges], shared: vec![Vec::new(); edges] }
    }
}

/// Whether the interiors of the areas with these (sorted) edges meet.
pub fn edges_interiors_intersect(a: &[Segment], b: &[Segment]) -> bool {
    let Some(common) = common_box(a, b) else { return false };
    let (ia, ib) = (edges_in(a, common), edges_in(b, common));
    let (mut ta, mut tb) = (Touches::new(a.len()), Touches::new(b.len()));
    if sweep(a, &ia, b, &ib, &mut ta, &mut tb, true).prove_interiors_meet() {
        return true;
    }
    // An edge outside the common box cannot lie inside the other area.
    any_piece(a, &ia, &ta, b, true) || any_piece(b, &ib, &tb, a, true)
}

/// Whether `a` is covered by `b` and whether `b` is covered by `a` (DE-9IM covered-by:
/// no point of the one outside the other), for areas whose interiors meet.
///
/// `a` is covered by `b` exactly when no boundary crosses the other properly, every shared
/// stretch runs in the same direction (an opposite one has `a`'s interior on `b`'s outer
/// side), no piece of `a`'s boundary lies outside `b` and no piece of `b`'s boundary lies
/// inside `a` (a hole of `b`, or a gap between its parts, inside `a`). Each component of
/// `a`'s interior then meets no boundary of `b`, so it lies wholly inside or wholly outside
/// `b`; outside, its whole boundary would run along `b`'s in the same direction, with `b`'s
/// interior on the same side, which contradicts it.
///
/// Then the overlap of the two is the covered one itself, and its area is known: clipping
/// a district against its own city, or a city against itself, is not needed.
pub fn covering(a: &[Segment], b: &[Segment]) -> (bool, bool) {
    let Some(common) = common_box(a, b) else { return (false, false) };
    let (ia, ib) = (edges_in(a, common), edges_in(b, common));
    let (mut ta, mut tb) = (Touches::new(a.len()), Touches::new(b.len()));
    let contacts = sweep(a, &ia, b, &ib, &mut ta, &mut tb, false);
    if contacts.crossing || contacts.opposite_direction {
        return (false, false);
    }
    // An edge outside the common box lies outside the other area.
    let covered_by = |(edges, inside, touches): (&[Segment], &[usize], &Touches), (others, other_inside, other_touches): (&[Segment], &[usize], &Touches)| {
        inside.len() == edges.len() && !any_piece(edges, inside, touches, others, false) && !any_piece(others, other_inside, other_touches, edges, true)
    };
    let (sa, sb) = ((a, ia.as_slice(), &ta), (b, ib.as_slice(), &tb));
    (covered_by(sa, sb), covered_by(sb, sa))
}

/// Convenience for one-off tests: builds the edges first.
pub fn interiors_intersect(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> bool {
    edges_interiors_intersect(&segments(a), &segments(b))
}

/// The indices of the edges that meet the box [x0, x1] × [y0, y1], in sweep order.
fn edges_in(edges: &[Segment], [x0, y0, x1, y1]: [f64; 4]) -> Vec<usize> {
    let end = edges.partition_point(|s| s.min_x() <= x1);
    (0..end).filter(|&k| edges[k].max_x() >= x0 && edges[k].max_y() >= y0 && edges[k].min_y() <= y1).collect()
}

/// The box both edge sets span, if they overlap.
fn common_box(a: &[Segment], b: &[Segment]) -> Option<[f64; 4]> {
    let span = |e: &[Segment]| {
        e.iter().fold([f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY], |[x0, y0, x1, y1], s| {
            [x0.min(s.min_x()), y0.min(s.min_y()), x1.max(s.max_x()), y1.max(s.max_y())]
        })
    };
    let ([ax0, ay0, ax1, ay1], [bx0, by0, bx1, by1]) = (span(a), span(b));
    let c = [ax0.max(bx0), ay0.max(by0), ax1.min(bx1), ay1.min(by1)];
    (c[0] <= c[2] && c[1] <= c[3]).then_some(c)
}

/// What the sweep of step 1 found where the two boundaries meet.
#[derive(Debug, Default)]
struct Contacts {
    /// Two edges cross properly (each passes from one side of the other to the other side).
    crossing: bool,
    /// A shared stretch run in the same direction (both interiors on the same side).
    same_direction: bool,
    /// A shared stretch run in opposite directions (the interiors on either side).
    opposite_direction: bool,
}

impl Contacts {
    /// Whether what was found proves that the interiors meet.
    fn prove_interiors_meet(&self) -> bool {
        self.crossing || self.same_direction
    }
}

/// Step 1: records touches and shared stretches in `ta`, `tb`. With `stop_at_proof` it
/// stops at the first contact that proves the interiors meet; otherwise it sees every
/// contact (what [`covering`] needs).
fn sweep(a: &[Segment], ia: &[usize], b: &[Segment], ib: &[usize], ta: &mut Touches, tb: &mut Touches, stop_at_proof: bool) -> Contacts {
    // Only edges inside the common box (`ia`, `ib`) can meet. Merge the two lists (each in
    // min-x order) into one sweep order, then pair every edge with the later edges whose
    // x-ranges start before it ends (sweep-and-prune).
    let mut merged: Vec<(bool, usize)> = Vec::with_capacity(ia.len() + ib.len());
    let (mut i, mut j) = (0, 0);
    while i < ia.len() || j < ib.len() {
        if j == ib.len() || (i < ia.len() && a[ia[i]].min_x() <= b[ib[j]].min_x()) {
            merged.push((true, ia[i]));
            i += 1;
        } else {
            merged.push((false, ib[j]));
            j += 1;
        }
    }
    let edge = |(from_a, k): (bool, usize)| if from_a { &a[k] } else { &b[k] };
    let mut contacts = Contacts::default();
    for (n, &first) in merged.iter().enumerate() {
        let s = edge(first);
        for &second in &merged[n + 1..] {
            let t = edge(second);
            if t.min_x() > s.max_x() {
                break;
            }
            if first.0 == second.0 || t.max_y() < s.min_y() || t.min_y() > s.max_y() {
                continue;
            }
            let ((ia, sa), (ib, sb)) = if first.0 { ((first.1, s), (second.1, t)) } else { ((second.1, t), (first.1, s)) };
            match line_intersection(sa.line, sb.line) {
                None => {}
                Some(LineIntersection::SinglePoint { is_proper: true, .. }) => {
                    contacts.crossing = true;
                    if stop_at_proof {
                        return contacts;
                    }
                }
                Some(LineIntersection::SinglePoint { intersection, .. }) => {
                    ta.points[ia].push(intersection);
                    tb.points[ib].push(intersection);
                }
                Some(LineIntersection::Collinear { intersection }) => {
                    let (da, db) = (sa.line.delta(), sb.line.delta());
                    if da.x * db.x + da.y * db.y > 0.0 {
                        contacts.same_direction = true;
                        if stop_at_proof {
                            return contacts;
                        }
                    } else {
                        contacts.opposite_direction = true;
                    }
                    for (touches, k) in [(&mut *ta, ia), (&mut *tb, ib)] {
                        touches.points[k].extend([intersection.start, intersection.end]);
                        touches.shared[k].push((intersection.start, intersection.end));
                    }
                }
            }
        }
    }
    contacts
}

/// Step 2 for the edges `candidates` of one area (those in the common box) against the
/// other area's edges: whether a piece of them (cut at the touches, leaving out the shared
/// stretches) lies strictly inside the other area (`inside`), or outside it (`!inside`).
fn any_piece(edges: &[Segment], candidates: &[usize], touches: &Touches, other: &[Segment], inside: bool) -> bool {
    // Walk each ring in order: the sweep order is by min x, so index by (part, ring, index).
    // A gap in the walk (an edge outside the common box) ends a run.
    let mut order = candidates.to_vec();
    order.sort_by_key(|&k| (edges[k].part, edges[k].ring, edges[k].index));
    let mut known: Option<bool> = None;
    let mut previous: Option<(u32, u32, u32)> = None;
    for k in order {
        let s = &edges[k];
        if previous != Some((s.part, s.ring, s.index.wrapping_sub(1))) {
            known = None;
        }
        previous = Some((s.part, s.ring, s.index));
        let points = &touches.points[k];
        if points.is_empty() {
            // No touch on this edge: it lies wholly on one side, as the run it continues.
            let found = *known.get_or_insert_with(|| contains_strictly(other, midpoint(s.line.start, s.line.end)));
            if found == inside {
                return true;
            }
            continue;
        }
        let shared = &touches.shared[k];
        known = None;
        if shared.iter().any(|(p, q)| within_stretch(s.line.start, *p, *q) && within_stretch(s.line.end, *p, *q)) {
            continue; // the whole edge runs along the other boundary
        }
        let (a, d) = (s.line.start, s.line.delta());
        let len2 = d.x * d.x + d.y * d.y;
        let mut cuts: Vec<f64> = points.iter().map(|p| ((p.x - a.x) * d.x + (p.y - a.y) * d.y) / len2).collect();
        cuts.extend([0.0, 1.0]);
        cuts.sort_by(f64::total_cmp);
        cuts.dedup();
        for w in cuts.windows(2) {
            let (t0, t1) = (w[0].clamp(0.0, 1.0), w[1].clamp(0.0, 1.0));
            if t1 <= t0 {
                continue;
            }
            let tm = (t0 + t1) / 2.0;
            let m = Coord { x: a.x + d.x * tm, y: a.y + d.y * tm };
            if shared.iter().any(|(p, q)| within_stretch(m, *p, *q)) {
                continue;
            }
            if contains_strictly(other, m) == inside {
                return true;
            }
        }
    }
    false
}

fn midpoint(p: Coord<f64>, q: Coord<f64>) -> Coord<f64> {
    Coord { x: (p.x + q.x) / 2.0, y: (p.y + q.y) / 2.0 }
}

/// Whether `m` (on the same line) lies between `p` and `q`.
fn within_stretch(m: Coord<f64>, p: Coord<f64>, q: Coord<f64>) -> bool {
    m.x >= p.x.min(q.x) && m.x <= p.x.max(q.x) && m.y >= p.y.min(q.y) && m.y <= p.y.max(q.y)
}

/// Crossing number of a ray from `p` towards −x against the area's edges (sorted by min x,
/// so only a prefix can cross); a point on an edge counts as not strictly inside.
fn contains_strictly(edges: &[Segment], p: Coord<f64>) -> bool {
    let end = edges.partition_point(|s| s.min_x() <= p.x);
    let mut inside = false;
    for s in &edges[..end] {
        let (u, v) = (s.line.start, s.line.end);
        if (u.y > p.y) == (v.y > p.y) {
            if u.y == p.y && v.y == p.y && p.x >= u.x.min(v.x) && p.x <= u.x.max(v.x) {
                return false; // on a horizontal edge
            }
            continue;
        }
        // The edge straddles the ray's line; is the crossing at x < p.x (left of p)?
        let orientation = RobustKernel::orient2d(u, v, p);
        if orientation == Orientation::Collinear {
            return false; // on the edge
        }
        let upward = v.y > u.y;
        // For an upward edge, p is right of it (crossing left of p) when p is clockwise of u→v.
        if (orientation == Orientation::Clockwise) == upward {
            inside = !inside;
        }
    }
    inside
}
