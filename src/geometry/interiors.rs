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
//!
//! [`meeting`] runs the same sweep to the end and records every crossing and touch, from
//! which [`super::clip`] settles the relation and walks the overlap.
//!
//! [`relate`] runs the same sweep once to the end (unless a proper crossing settles it) and
//! also answers whether either area covers the other, which is what the overlap decision
//! needs: a covered area is its own overlap, with no clipping.

use super::segments::{Segment, segments};
use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::line_intersection::{LineIntersection, line_intersection};
use geo::{Coord, MultiPolygon};

/// A stretch of boundary both areas share: its two ends.
type Stretch = (Coord<f64>, Coord<f64>);

/// Values found on the candidate edges of one area, grouped by the edge's place in ring
/// order ([`Segment::rank`]): pushed as found, then grouped by a counting sort.
pub(super) struct Grouped<T> {
    /// What was found, with the rank of its edge.
    pub(super) found: Vec<(u32, T)>,
    /// After [`Grouped::group`]: the values of rank `r` are `values[starts[r]..starts[r + 1]]`.
    starts: Vec<u32>,
    values: Vec<T>,
}

impl<T: Copy + Default> Grouped<T> {
    pub(super) fn new() -> Grouped<T> {
        Grouped { found: Vec::new(), starts: Vec::new(), values: Vec::new() }
    }

    /// Groups what was found over ranks `0..ranks` (a stable counting sort).
    pub(super) fn group(&mut self, ranks: usize) {
        let mut starts = vec![0u32; ranks + 1];
        for (r, _) in &self.found {
            starts[*r as usize + 1] += 1;
        }
        for r in 0..ranks {
            starts[r + 1] += starts[r];
        }
        let mut next = starts.clone();
        let mut values = vec![T::default(); self.found.len()];
        for &(r, v) in &self.found {
            values[next[r as usize] as usize] = v;
            next[r as usize] += 1;
        }
        (self.starts, self.values) = (starts, values);
    }

    /// The values found on the edge of rank `r` (after [`Grouped::group`]).
    pub(super) fn at(&self, r: u32) -> &[T] {
        &self.values[self.starts[r as usize] as usize..self.starts[r as usize + 1] as usize]
    }

    /// The values found on the edge of rank `r`, to reorder (after [`Grouped::group`]).
    pub(super) fn at_mut(&mut self, r: u32) -> &mut [T] {
        &mut self.values[self.starts[r as usize] as usize..self.starts[r as usize + 1] as usize]
    }
}

/// Touch points and shared stretches found on the candidate edges of one area: lists as
/// long as the touches, not as the edges (a city has ~2,000).
struct Touches {
    points: Grouped<Coord<f64>>,
    shared: Grouped<Stretch>,
}

impl Touches {
    fn new() -> Touches {
        Touches { points: Grouped::new(), shared: Grouped::new() }
    }

    /// Groups both lists by rank, for an area of `edges` edges.
    fn group(&mut self, edges: usize) {
        self.points.group(edges);
        self.shared.group(edges);
    }
}

/// The edges of one area that can meet the other's: their indices in sweep order.
struct Candidates {
    sweep: Vec<usize>,
}

impl Candidates {
    /// The edges that meet the box `common`, none of them wider than `widest` (so that
    /// those starting more than that left of the box are not looked at; infinite when not
    /// known).
    fn new(edges: &[Segment], common: [f64; 4], widest: f64) -> Candidates {
        Candidates { sweep: edges_in(edges, common, widest) }
    }

    /// The same edges in ring order (part, ring, index: the order [`any_piece`] walks them
    /// in), put there by their ranks.
    fn in_ring_order(&self, edges: &[Segment]) -> Vec<usize> {
        let mut by_rank = vec![u32::MAX; edges.len()];
        for &k in &self.sweep {
            by_rank[edges[k].rank as usize] = k as u32;
        }
        by_rank.into_iter().filter(|&k| k != u32::MAX).map(|k| k as usize).collect()
    }
}

/// Whether the interiors of the areas with these (sorted) edges meet.
pub fn edges_interiors_intersect(a: &[Segment], b: &[Segment]) -> bool {
    let Some(common) = common_box(span(a), span(b)) else { return false };
    let (ca, cb) = (Candidates::new(a, common, f64::INFINITY), Candidates::new(b, common, f64::INFINITY));
    let (mut ta, mut tb) = (Touches::new(), Touches::new());
    if sweep((a, &ca, &mut ta), (b, &cb, &mut tb), Stop::AtProof).prove_interiors_meet() {
        return true;
    }
    ta.group(a.len());
    tb.group(b.len());
    // An edge outside the common box cannot lie inside the other area.
    any_piece(a, &ca.in_ring_order(a), &ta, b, true) || any_piece(b, &cb.in_ring_order(b), &tb, a, true)
}

/// How two areas' interiors and covers relate: what the overlap decision needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relation {
    /// The interiors meet (DE-9IM `T********`).
    pub interiors_meet: bool,
    /// `a` is covered by `b` (no point of `a` outside `b`).
    pub a_covered_by_b: bool,
    /// `b` is covered by `a`.
    pub b_covered_by_a: bool,
}

/// Whether the interiors meet, and whether either area covers the other, from one sweep
/// (stopped at a proper crossing, which settles all three).
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
pub fn relate(a: &[Segment], b: &[Segment]) -> Relation {
    relate_within(a, b, span(a), span(b))
}

/// [`relate`] for areas whose bounding boxes (`[min x, min y, max x, max y]`, the span of
/// their edges) are known.
pub fn relate_within(a: &[Segment], b: &[Segment], box_a: [f64; 4], box_b: [f64; 4]) -> Relation {
    let Some(common) = common_box(box_a, box_b) else { return Relation::default() };
    let (ca, cb) = (Candidates::new(a, common, f64::INFINITY), Candidates::new(b, common, f64::INFINITY));
    let (mut ta, mut tb) = (Touches::new(), Touches::new());
    let contacts = sweep((a, &ca, &mut ta), (b, &cb, &mut tb), Stop::AtCrossing);
    if contacts.crossing {
        return Relation { interiors_meet: true, ..Relation::default() };
    }
    ta.group(a.len());
    tb.group(b.len());
    // An edge outside the common box lies outside the other area.
    let (ring_a, ring_b) = (ca.in_ring_order(a), cb.in_ring_order(b));
    let meet = contacts.same_direction || any_piece(a, &ring_a, &ta, b, true) || any_piece(b, &ring_b, &tb, a, true);
    if !meet || contacts.opposite_direction {
        return Relation { interiors_meet: meet, ..Relation::default() };
    }
    let covered_by = |(edges, inside, touches): (&[Segment], &[usize], &Touches), (others, other_inside, other_touches): (&[Segment], &[usize], &Touches)| {
        inside.len() == edges.len() && !any_piece(edges, inside, touches, others, false) && !any_piece(others, other_inside, other_touches, edges, true)
    };
    let (sa, sb) = ((a, ring_a.as_slice(), &ta), (b, ring_b.as_slice(), &tb));
    Relation { interiors_meet: true, a_covered_by_b: covered_by(sa, sb), b_covered_by_a: covered_by(sb, sa) }
}

/// A proper crossing of an edge of `a` with an edge of `b` (each passes from one side of
/// the other to the other side, away from both edges' ends).
#[derive(Debug, Clone, Copy)]
pub struct Crossing {
    /// `a`'s edge (its index in `a`'s sorted edges).
    pub a: u32,
    /// `b`'s edge (its index in `b`'s sorted edges).
    pub b: u32,
    /// Where along `a`'s edge the crossing lies (0 at its start, 1 at its end).
    pub ta: f64,
    /// Where along `b`'s edge the crossing lies.
    pub tb: f64,
    /// The crossing point.
    pub point: Coord<f64>,
    /// `a`'s boundary passes here into `b`'s interior (and `b`'s out of `a`'s), else the
    /// other way round.
    pub a_enters: bool,
}

/// A point where an edge of `a` and an edge of `b` meet without crossing properly: an end
/// of one lying on the other, or an end of a stretch they share (always one of the four
/// ends of the two edges, exactly).
#[derive(Debug, Clone, Copy)]
pub struct Touch {
    /// `a`'s edge (its index in `a`'s sorted edges).
    pub a: u32,
    /// `b`'s edge (its index in `b`'s sorted edges).
    pub b: u32,
    /// The point.
    pub point: Coord<f64>,
}

/// Every place where two boundaries meet, from a sweep run to the end.
#[derive(Debug, Clone, Default)]
pub struct Meeting {
    /// The proper crossings.
    pub crossings: Vec<Crossing>,
    /// The touches (a shared stretch gives a touch at each of its ends).
    pub touches: Vec<Touch>,
}

/// Every place where the boundaries of two areas meet, from one sweep: what
/// [`super::clip::settle`] decides the relation and the overlap from. Each area is given as
/// its sorted edges, its box and the largest x-extent of its edges.
///
/// With `runs` (both areas touch-free: [`super::segments::touch_free`]), a stretch both
/// boundaries share, edge for edge, is given only by its two ends: its inner vertices are
/// left out, as each is a place where the boundaries meet and run on together. A district
/// shares hundreds of vertices with its city and its neighbours, and each would otherwise
/// be a node of the walk. The shared edges are found first, by their ends, and left out of
/// the sweep. This loses no node: in a touch-free area two edges meet only at the vertex
/// they share, as neighbours along their ring, so an edge of `a` identical to `b`'s edge
/// `f` meets `b`'s other edges only at `f`'s ends, through `f`'s ring neighbours (likewise
/// the other way round). At such an end `v`, either the other edges at `v` (one of each
/// area) are shared too, and `v` lies inside a run, or neither is, and the sweep finds
/// them meeting at `v`. A ring shared whole keeps one node, at the start of `a`'s ring, so
/// that it is not taken for a ring that meets nothing.
pub fn meeting((a, box_a, widest_a): (&[Segment], [f64; 4], f64), (b, box_b, widest_b): (&[Segment], [f64; 4], f64), runs: bool) -> Meeting {
    let Some(common) = common_box(box_a, box_b) else { return Meeting::default() };
    let (mut ca, mut cb) = (Candidates::new(a, common, widest_a), Candidates::new(b, common, widest_b));
    let twins = if runs { identical_pairs((a, &ca.sweep), (b, &cb.sweep)) } else { Vec::new() };
    if !twins.is_empty() {
        let (mut shared_a, mut shared_b) = (vec![false; a.len()], vec![false; b.len()]);
        for &(ka, kb) in &twins {
            (shared_a[ka as usize], shared_b[kb as usize]) = (true, true);
        }
        ca.sweep.retain(|&k| !shared_a[k]);
        cb.sweep.retain(|&k| !shared_b[k]);
    }
    let (mut ta, mut tb) = (Touches::new(), Touches::new());
    let contacts = sweep((a, &ca, &mut ta), (b, &cb, &mut tb), Stop::Never);
    debug_assert!(!runs || contacts.identical.is_empty(), "shared edges are left out of the sweep");
    let mut meeting = contacts.meeting;
    // The touches of the pairs of edges with an end in common.
    for &(ka, kb) in contacts.identical.iter().chain(&contacts.end_to_end) {
        match meet(&a[ka as usize], &b[kb as usize]) {
            None => {}
            Some(LineIntersection::SinglePoint { intersection, .. }) => meeting.touches.push(Touch { a: ka, b: kb, point: intersection }),
            Some(LineIntersection::Collinear { intersection }) => {
                meeting.touches.extend([intersection.start, intersection.end].map(|point| Touch { a: ka, b: kb, point }))
            }
        }
    }
    for &(ka, kb) in &twins {
        let e = &a[ka as usize];
        if e.index == 0 {
            meeting.touches.push(Touch { a: ka, b: kb, point: e.line.start });
        }
    }
    meeting
}

/// The pairs of identical edges (either way round) among the candidates `ia` of `a` and
/// `ib` of `b` (indices in sweep order): both lists are sorted by min x, and twins have
/// the same, so one merge of the lists finds them.
fn identical_pairs((a, ia): (&[Segment], &[usize]), (b, ib): (&[Segment], &[usize])) -> Vec<(u32, u32)> {
    let mut twins = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < ia.len() && j < ib.len() {
        let (x, y) = (a[ia[i]].min_x(), b[ib[j]].min_x());
        if x < y {
            i += 1;
        } else if y < x {
            j += 1;
        } else {
            let i_end = i + ia[i..].iter().take_while(|&&k| a[k].min_x() == x).count();
            let j_end = j + ib[j..].iter().take_while(|&&k| b[k].min_x() == x).count();
            for &ka in &ia[i..i_end] {
                for &kb in &ib[j..j_end] {
                    if identical(&a[ka], &b[kb]) {
                        twins.push((ka as u32, kb as u32));
                    }
                }
            }
            (i, j) = (i_end, j_end);
        }
    }
    twins
}

/// Whether `a` is covered by `b` and whether `b` is covered by `a` (see [`relate`]).
pub fn covering(a: &[Segment], b: &[Segment]) -> (bool, bool) {
    let r = relate(a, b);
    (r.a_covered_by_b, r.b_covered_by_a)
}

/// Convenience for one-off tests: builds the edges first.
pub fn interiors_intersect(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> bool {
    edges_interiors_intersect(&segments(a), &segments(b))
}

/// The indices of the edges (none wider than `widest`) that meet the box [x0, x1] × [y0, y1],
/// in sweep order.
fn edges_in(edges: &[Segment], [x0, y0, x1, y1]: [f64; 4], widest: f64) -> Vec<usize> {
    let start = edges.partition_point(|s| s.min_x() < x0 - widest);
    let end = edges.partition_point(|s| s.min_x() <= x1).max(start);
    // Kept without a branch on each edge (about half are, unpredictably).
    let mut kept = vec![0; end - start];
    let mut n = 0;
    for (k, s) in edges.iter().enumerate().take(end).skip(start) {
        kept[n] = k;
        n += usize::from((s.max_x() >= x0) & (s.max_y() >= y0) & (s.min_y() <= y1));
    }
    kept.truncate(n);
    kept
}

/// The box `[min x, min y, max x, max y]` an edge set spans.
fn span(edges: &[Segment]) -> [f64; 4] {
    edges.iter().fold([f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY], |[x0, y0, x1, y1], s| {
        [x0.min(s.min_x()), y0.min(s.min_y()), x1.max(s.max_x()), y1.max(s.max_y())]
    })
}

/// The box two boxes share, if they overlap.
fn common_box([ax0, ay0, ax1, ay1]: [f64; 4], [bx0, by0, bx1, by1]: [f64; 4]) -> Option<[f64; 4]> {
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
    /// With [`Stop::Never`]: every crossing, and the touches of edges that have no end in
    /// common (else nothing)...
    meeting: Meeting,
    /// ... the pairs of identical edges (either way round) ...
    identical: Vec<(u32, u32)>,
    /// ... and the other pairs of edges with an end in common, left for [`meeting`] to test.
    end_to_end: Vec<(u32, u32)>,
}

impl Contacts {
    /// Whether what was found proves that the interiors meet.
    fn prove_interiors_meet(&self) -> bool {
        self.crossing || self.same_direction
    }
}

/// When the sweep may stop before it has seen every contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// At the first contact that proves the interiors meet (crossing or same direction).
    AtProof,
    /// At the first proper crossing (which also rules out either area covering the other).
    AtCrossing,
    /// Never: every crossing and touch is recorded as a [`Meeting`] (and nothing else).
    Never,
}

/// Step 1: records the touches and shared stretches of each area's candidate edges, until
/// `stop` says enough.
fn sweep((a, ca, ta): (&[Segment], &Candidates, &mut Touches), (b, cb, tb): (&[Segment], &Candidates, &mut Touches), stop: Stop) -> Contacts {
    // Only candidate edges (inside the common box) can meet, and only an edge of `a` with an
    // edge of `b`. Walk both lists (each in min-x order) together; each edge is paired with
    // the other area's edges still ahead whose x-ranges start before it ends, so every pair
    // whose x-ranges overlap is met once (sweep-and-prune), on compact copies of the boxes.
    let boxes = |edges: &[Segment], list: &[usize]| -> Vec<[f64; 4]> { list.iter().map(|&k| edges[k].bounds()).collect() };
    let (ia, ib) = (&ca.sweep, &cb.sweep);
    let (boxes_a, boxes_b) = (boxes(a, ia), boxes(b, ib));
    let mut contacts = Contacts::default();
    let (mut i, mut j) = (0, 0);
    while i < ia.len() || j < ib.len() {
        if (i + j) % 64 == 0 {
            crate::budget::check();
        }
        let a_first = j == ib.len() || (i < ia.len() && boxes_a[i][0] <= boxes_b[j][0]);
        let (s, ahead) = if a_first { (boxes_a[i], &boxes_b[j..]) } else { (boxes_b[j], &boxes_a[i..]) };
        let [_, s_max_x, s_min_y, s_max_y] = s;
        for (n, &[t_min_x, _, t_min_y, t_max_y]) in ahead.iter().enumerate() {
            if t_min_x > s_max_x {
                break;
            }
            if t_max_y < s_min_y || t_min_y > s_max_y {
                continue;
            }
            let (ka, kb) = if a_first { (ia[i], ib[j + n]) } else { (ia[i + n], ib[j]) };
            let (sa, sb) = (&a[ka], &b[kb]);
            let (pa, pb) = (sa.rank, sb.rank);
            if stop == Stop::Never && shares_an_end(sa, sb) {
                (if identical(sa, sb) { &mut contacts.identical } else { &mut contacts.end_to_end }).push((ka as u32, kb as u32));
                continue;
            }
            match meet(sa, sb) {
                None => {}
                Some(LineIntersection::SinglePoint { is_proper: true, intersection }) => {
                    contacts.crossing = true;
                    if stop != Stop::Never {
                        return contacts;
                    }
                    contacts.meeting.crossings.push(crossing((ka, sa), (kb, sb), intersection));
                }
                Some(LineIntersection::SinglePoint { intersection, .. }) => {
                    if stop == Stop::Never {
                        contacts.meeting.touches.push(Touch { a: ka as u32, b: kb as u32, point: intersection });
                    } else {
                        ta.points.found.push((pa, intersection));
                        tb.points.found.push((pb, intersection));
                    }
                }
                Some(LineIntersection::Collinear { intersection }) => {
                    let (da, db) = (sa.line.delta(), sb.line.delta());
                    if da.x * db.x + da.y * db.y > 0.0 {
                        contacts.same_direction = true;
                        if stop == Stop::AtProof {
                            return contacts;
                        }
                    } else {
                        contacts.opposite_direction = true;
                    }
                    if stop == Stop::Never {
                        let ends = [intersection.start, intersection.end].map(|point| Touch { a: ka as u32, b: kb as u32, point });
                        contacts.meeting.touches.extend(ends);
                        continue;
                    }
                    for (touches, place) in [(&mut *ta, pa), (&mut *tb, pb)] {
                        touches.points.found.extend([(place, intersection.start), (place, intersection.end)]);
                        touches.shared.found.push((place, (intersection.start, intersection.end)));
                    }
                }
            }
        }
        if a_first { i += 1 } else { j += 1 }
    }
    contacts
}

/// The proper crossing of `a`'s edge `sa` (index `ka`) with `b`'s `sb` at `point`.
fn crossing((ka, sa): (usize, &Segment), (kb, sb): (usize, &Segment), point: Coord<f64>) -> Crossing {
    // `a` passes into `b`'s interior, on the left of `b`'s edge, when its end lies there.
    let a_enters = RobustKernel::orient2d(sb.line.start, sb.line.end, sa.line.end) == Orientation::CounterClockwise;
    Crossing { a: ka as u32, b: kb as u32, ta: sa.along(point), tb: sb.along(point), point, a_enters }
}

/// Whether two edges are the same, either way round.
fn identical(a: &Segment, b: &Segment) -> bool {
    let (a, b) = (a.line, b.line);
    (a.start == b.end && a.end == b.start) || (a.start == b.start && a.end == b.end)
}

/// Whether two edges have an end in common.
fn shares_an_end(a: &Segment, b: &Segment) -> bool {
    let (a, b) = (a.line, b.line);
    a.start == b.start || a.start == b.end || a.end == b.start || a.end == b.end
}

/// How two edges meet: [`line_intersection`], answered without it where the edges share a
/// vertex, as neighbours along a common border do at every vertex (the same edge, or two
/// edges with one end in common and the other ends off their common line).
fn meet(a: &Segment, b: &Segment) -> Option<LineIntersection<f64>> {
    if identical(a, b) {
        return Some(LineIntersection::Collinear { intersection: b.line });
    }
    let (a, b) = (a.line, b.line);
    let shared = [(a.start, a.end, b.start, b.end), (a.start, a.end, b.end, b.start), (a.end, a.start, b.start, b.end), (a.end, a.start, b.end, b.start)]
        .into_iter()
        .find(|(p, _, q, _)| p == q);
    if let Some((p, a_far, _, b_far)) = shared
        && super::segments::off_line(p, a_far, b_far)
    {
        return Some(LineIntersection::SinglePoint { intersection: p, is_proper: false });
    }
    line_intersection(a, b)
}

/// Step 2 for the edges `candidates` of one area (those in the common box, in ring order)
/// against the other area's edges: whether a piece of them (cut at the touches, leaving out
/// the shared stretches) lies strictly inside the other area (`inside`), or outside it
/// (`!inside`).
fn any_piece(edges: &[Segment], candidates: &[usize], touches: &Touches, other: &[Segment], inside: bool) -> bool {
    // Walk each ring in order (`candidates` are in ring order). A gap in the walk (an edge
    // outside the common box) ends a run.
    let mut known: Option<bool> = None;
    let mut previous: Option<(u32, u32, u32)> = None;
    for &k in candidates {
        let s = &edges[k];
        if previous != Some((s.part, s.ring, s.index.wrapping_sub(1))) {
            known = None;
        }
        previous = Some((s.part, s.ring, s.index));
        let (points, shared) = (touches.points.at(s.rank), touches.shared.at(s.rank));
        if points.is_empty() {
            // No touch on this edge: it lies wholly on one side, as the run it continues.
            let found = *known.get_or_insert_with(|| contains_strictly(other, midpoint(s.line.start, s.line.end)));
            if found == inside {
                return true;
            }
            continue;
        }
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
pub(super) fn contains_strictly(edges: &[Segment], p: Coord<f64>) -> bool {
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
