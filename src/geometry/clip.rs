//! The intersection of two valid, RFC 7946-oriented areas, from the places where their
//! boundaries meet (found by [`super::interiors::meeting`]).
//!
//! Both areas have their interior on the left of every edge, so the intersection's boundary
//! is made of the stretches of each boundary that lie inside the other area, plus the
//! stretches both share in the same direction, each kept in its own direction. Every place
//! where the boundaries meet (a proper crossing, a touch, an end of a shared stretch) is a
//! **node**; between two nodes a stretch of either boundary lies wholly inside the other
//! area, outside it, or along its boundary. Which one is told at the stretch's first node:
//! at a crossing by the direction of the crossing, at a touch by whether the stretch leaves
//! into the corner of the other area's interior there (orientation tests on exact vertices).
//! The kept stretches are then linked node to node into rings. Rings without a node lie
//! wholly inside or wholly outside the other area; one point-in-polygon test says which.
//!
//! A district against its city (separately simplified layers: they share most vertices and
//! cross or part between them) is settled this way with no overlay graph, several times
//! faster than a general clipper. Whatever is not certain here gives `None`, and the caller
//! uses the general clipper: a boundary passing a node twice, two nodes too close to order
//! on one edge, a node where the kept stretches could be linked in more than one way, a hole
//! that cannot be placed.

use super::interiors::{Grouped, Meeting, Relation, contains_strictly};
use super::segments::Segment;
use geo::coordinate_position::CoordPos;
use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::{Coord, CoordinatePosition, LineString, MultiPolygon, Polygon};

/// Two nodes closer than this along one edge (as a share of its length) are not ordered by
/// their computed positions.
const MIN_GAP: f64 = 1e-9;

/// An area's edges in ring order, and its rings: what walking its boundary needs.
#[derive(Debug, Clone)]
pub struct Rings {
    /// The index among the sorted edges of the edge of each rank ([`Segment::rank`]).
    by_rank: Vec<u32>,
    /// Each ring: its first rank, its number of edges and its box `[min x, min y, max x, max y]`.
    rings: Vec<(u32, u32, [f64; 4])>,
    /// The index of the ring of each rank.
    ring_of_rank: Vec<u32>,
    /// The largest x-extent of an edge.
    pub widest: f64,
    /// The box `[min x, min y, max x, max y]` of all rings.
    span: [f64; 4],
}

impl Rings {
    /// The rings of the area with these (sorted) edges.
    pub fn new(edges: &[Segment]) -> Rings {
        let mut by_rank = vec![0u32; edges.len()];
        for (k, s) in edges.iter().enumerate() {
            by_rank[s.rank as usize] = k as u32;
        }
        let mut rings = Vec::new();
        let mut ring_of_rank = vec![0u32; edges.len()];
        let mut first = 0usize;
        while first < by_rank.len() {
            let n = edges[by_rank[first] as usize].ring_edges.max(1) as usize;
            let bbox = by_rank[first..first + n]
                .iter()
                .map(|&k| edges[k as usize].bounds())
                .fold([f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY], |[x0, y0, x1, y1], [a, b, c, d]| {
                    [x0.min(a), y0.min(c), x1.max(b), y1.max(d)]
                });
            ring_of_rank[first..first + n].fill(rings.len() as u32);
            rings.push((first as u32, n as u32, bbox));
            first += n;
        }
        let widest = edges.iter().map(|s| s.max_x() - s.min_x()).fold(0.0, f64::max);
        let span = rings.iter().fold([f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY], |[x0, y0, x1, y1], (_, _, [a, b, c, d])| {
            [x0.min(*a), y0.min(*b), x1.max(*c), y1.max(*d)]
        });
        Rings { by_rank, rings, ring_of_rank, widest, span }
    }

    /// The index of the ring holding the edge of rank `rank`.
    fn ring_of(&self, rank: u32) -> usize {
        self.ring_of_rank[rank as usize] as usize
    }
}

/// How a boundary passes through a node: the ranks of the edge arriving and of the edge
/// leaving (the same edge when the node lies inside it), and where the node lies along the
/// leaving edge.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Pass {
    arriving: u32,
    leaving: u32,
    along: f64,
}

/// Where a stretch of one boundary, from a node to the next, lies against the other area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lies {
    Inside,
    Outside,
    /// Along the other boundary in the same direction (both interiors on its left).
    AlongSame,
    /// Along the other boundary in the opposite direction.
    AlongOpposite,
}

/// One area as the walk sees it.
struct Side<'s> {
    edges: &'s [Segment],
    rings: &'s Rings,
}

impl Side<'_> {
    fn edge(&self, rank: u32) -> &Segment {
        &self.edges[self.rings.by_rank[rank as usize] as usize]
    }

    /// The rank of the edge after the edge of rank `rank` along its ring.
    fn next(&self, rank: u32) -> u32 {
        self.edge(rank).next_rank()
    }

    /// How the boundary passes `point`, which lies on the edge of sorted index `k`.
    fn pass(&self, k: u32, point: Coord<f64>) -> Pass {
        let s = &self.edges[k as usize];
        if point == s.line.start {
            Pass { arriving: s.previous_rank(), leaving: s.rank, along: 0.0 }
        } else if point == s.line.end {
            Pass { arriving: s.rank, leaving: s.next_rank(), along: 0.0 }
        } else {
            Pass { arriving: s.rank, leaving: s.rank, along: s.along(point) }
        }
    }

    /// Pushes the vertices met walking from a node at `from` (rank, share along the edge)
    /// to the next node, at `to` on the same ring; neither node's own point.
    fn follow(&self, from: (u32, f64), to: (u32, f64), out: &mut Vec<Coord<f64>>) {
        if from.0 == to.0 && from.1 < to.1 {
            return;
        }
        let mut rank = from.0;
        loop {
            rank = self.next(rank);
            if rank == to.0 {
                if to.1 > 0.0 {
                    out.push(self.edge(rank).line.start);
                }
                return;
            }
            out.push(self.edge(rank).line.start);
        }
    }

    /// The ring of index `ring`, closed.
    fn ring(&self, ring: usize) -> Vec<Coord<f64>> {
        let (first, n, _) = self.rings.rings[ring];
        let mut out: Vec<Coord<f64>> = (first..first + n).map(|r| self.edge(r).line.start).collect();
        out.push(out[0]);
        out
    }

    /// For each node (by index, placed at `places`), the next node along this area's ring;
    /// `None` if two cannot be told apart.
    fn order(&self, places: &[(u32, f64)]) -> Option<Vec<usize>> {
        // Sorted on one integer: the rank, then the share along in 2⁻³² steps (nodes that
        // close are refused below whichever way they come out).
        let mut keyed: Vec<(u64, u32)> =
            places.iter().enumerate().map(|(i, &(rank, along))| ((u64::from(rank) << 32) | (along.clamp(0.0, 1.0) * 4294967295.0) as u64, i as u32)).collect();
        keyed.sort_unstable();
        let sorted: Vec<usize> = keyed.into_iter().map(|(_, i)| i as usize).collect();
        let mut next = vec![0usize; places.len()];
        let mut start = 0;
        while start < sorted.len() {
            let ring = self.rings.ring_of(places[sorted[start]].0);
            let mut end = start + 1;
            while end < sorted.len() && self.rings.ring_of(places[sorted[end]].0) == ring {
                end += 1;
            }
            for k in start..end {
                let (i, j) = (sorted[k], sorted[if k + 1 == end { start } else { k + 1 }]);
                if k + 1 < end && places[i].0 == places[j].0 && (places[j].1 - places[i].1).abs() < MIN_GAP {
                    return None;
                }
                next[i] = j;
            }
            start = end;
        }
        Some(next)
    }

    /// Whether each ring (by index) holds a node.
    fn noded(&self, places: &[(u32, f64)]) -> Vec<bool> {
        let mut noded = vec![false; self.rings.rings.len()];
        for &(rank, _) in places {
            noded[self.rings.ring_of(rank)] = true;
        }
        noded
    }

    /// For each ring (by index): `None` if it holds a node, else whether it lies inside the
    /// other area (`other`, box `other_box`).
    fn free_rings(&self, noded: &[bool], other: &[Segment], [ox0, oy0, ox1, oy1]: [f64; 4]) -> Vec<Option<bool>> {
        let rings = self.rings.rings.iter().enumerate();
        rings
            .map(|(k, &(first, _, [x0, y0, x1, y1]))| {
                let apart = x0 > ox1 || x1 < ox0 || y0 > oy1 || y1 < oy0;
                (!noded[k]).then(|| !apart && contains_strictly(other, self.edge(first).line.start))
            })
            .collect()
    }

    /// Where this boundary's stretch leaving the node `p` (passed as `mine`) lies against
    /// the other area, whose boundary passes `p` as `theirs`; `None` if that cannot be.
    fn leaves(&self, p: Coord<f64>, mine: Pass, other: &Side, theirs: Pass) -> Option<Lies> {
        use Orientation::{Clockwise as Cw, Collinear, CounterClockwise as Ccw};
        let d = self.edge(mine.leaving).line.end;
        // The other's interior near `p` is the corner swept counter-clockwise from its
        // leaving edge (towards `u`) to its arriving one (back towards `v`).
        let u = other.edge(theirs.leaving).line.end;
        let v = other.edge(theirs.arriving).line.start;
        let (o_u, o_v) = (RobustKernel::orient2d(p, u, d), RobustKernel::orient2d(p, v, d));
        if o_u == Collinear && ahead_of(p, d, u) {
            return Some(Lies::AlongSame);
        }
        if o_v == Collinear && ahead_of(p, d, v) {
            return Some(Lies::AlongOpposite);
        }
        let inside = match RobustKernel::orient2d(p, u, v) {
            Ccw => o_u == Ccw && o_v == Cw,
            Cw => !(o_v == Ccw && o_u == Cw),
            Collinear if !ahead_of(p, u, v) => o_u == Ccw,
            Collinear => return None, // the other boundary turns back on itself
        };
        Some(if inside { Lies::Inside } else { Lies::Outside })
    }
}

/// Whether `v` lies ahead of `p` in the direction of `u`.
fn ahead_of(p: Coord<f64>, u: Coord<f64>, v: Coord<f64>) -> bool {
    (u.x - p.x) * (v.x - p.x) + (u.y - p.y) * (v.y - p.y) > 0.0
}

/// A node: its point, how each boundary passes it, and, at a proper crossing, whether `a`
/// enters `b` there.
struct Node {
    point: Coord<f64>,
    a: Pass,
    b: Pass,
    a_enters: Option<bool>,
}

/// The nodes of a meeting in ring order along `a`, with the next node along `a`'s ring of
/// each; `None` if a boundary passes a node more than once or two nodes are too close to
/// be ordered.
fn nodes(a: &Side, b: &Side, meeting: &Meeting) -> Option<(Vec<Node>, Vec<usize>)> {
    // Every crossing and touch placed on `a` (the edge leaving it, the share along that
    // edge), grouped by rank with a counting sort, then ordered along each edge.
    let crossings = meeting.crossings.len();
    let mut placed: Grouped<(f64, u32)> = Grouped::new();
    placed.found.reserve(crossings + meeting.touches.len());
    for (i, c) in meeting.crossings.iter().enumerate() {
        placed.found.push((a.edges[c.a as usize].rank, (c.ta, i as u32)));
    }
    for (i, t) in meeting.touches.iter().enumerate() {
        let pass = a.pass(t.a, t.point);
        placed.found.push((pass.leaving, (pass.along, (crossings + i) as u32)));
    }
    placed.group(a.edges.len());
    let mut nodes: Vec<Node> = Vec::new();
    let mut next = Vec::new();
    let mut ring_start = 0;
    for rank in 0..a.edges.len() as u32 {
        let here = placed.at_mut(rank);
        if here.is_empty() {
            continue;
        }
        here.sort_unstable_by(|x, y| x.0.total_cmp(&y.0));
        if nodes.len() > ring_start && a.rings.ring_of(nodes[ring_start].a.leaving) != a.rings.ring_of(rank) {
            close_ring(&mut next, ring_start, nodes.len());
            ring_start = nodes.len();
        }
        let (mut last_along, mut last_b) = (f64::NEG_INFINITY, u32::MAX);
        for &(along, id) in placed.at(rank) {
            let node = match meeting.crossings.get(id as usize) {
                Some(c) => {
                    let rb = b.edges[c.b as usize].rank;
                    Node {
                        point: c.point,
                        a: Pass { arriving: rank, leaving: rank, along },
                        b: Pass { arriving: rb, leaving: rb, along: c.tb },
                        a_enters: Some(c.a_enters),
                    }
                }
                None if along == last_along => {
                    // The same touch found again (with another pair of edges): the same node,
                    // unless `b` passes it another way.
                    let (t, same) = (meeting.touches[id as usize - crossings], nodes.last().expect("a node at this place"));
                    if same.a_enters.is_some() || same.point != t.point || (t.b != last_b && b.pass(t.b, t.point) != same.b) {
                        return None;
                    }
                    continue;
                }
                None => {
                    let t = meeting.touches[id as usize - crossings];
                    last_b = t.b;
                    Node { point: t.point, a: a.pass(t.a, t.point), b: b.pass(t.b, t.point), a_enters: None }
                }
            };
            if along - last_along < MIN_GAP {
                return None;
            }
            last_along = along;
            nodes.push(node);
            next.push(0);
        }
    }
    close_ring(&mut next, ring_start, nodes.len());
    Some((nodes, next))
}

/// Links the nodes `start..end` (one ring's, in order) each to the next, the last to the first.
fn close_ring(next: &mut [usize], start: usize, end: usize) {
    for (k, link) in next.iter_mut().enumerate().take(end).skip(start) {
        *link = if k + 1 == end { start } else { k + 1 };
    }
}

/// A kept stretch: from one node to the next along one boundary.
struct Stretch {
    from: usize,
    to: usize,
    on_a: bool,
}

/// Every node with where each boundary's stretch leaving it lies, and every ring without a
/// node with whether it lies inside the other area: all that the relation and the walk need.
struct Classified<'s> {
    a: Side<'s>,
    b: Side<'s>,
    nodes: Vec<Node>,
    /// Each node's place on `a` and on `b` (leaving rank, share along that edge).
    on_a: Vec<(u32, f64)>,
    on_b: Vec<(u32, f64)>,
    /// Each node's next node along `a`, and along `b`.
    next_a: Vec<usize>,
    next_b: Vec<usize>,
    /// Where the stretch of `a`, and of `b`, leaving each node lies.
    lies_a: Vec<Lies>,
    lies_b: Vec<Lies>,
    /// For each ring without a node (by ring index; `None` for rings with nodes): inside the other area?
    free_a: Vec<Option<bool>>,
    free_b: Vec<Option<bool>>,
}

impl<'s> Classified<'s> {
    fn new((a_edges, a_rings): (&'s [Segment], &'s Rings), (b_edges, b_rings): (&'s [Segment], &'s Rings), meeting: &Meeting) -> Option<Classified<'s>> {
        let (a, b) = (Side { edges: a_edges, rings: a_rings }, Side { edges: b_edges, rings: b_rings });
        let (nodes, next_a) = nodes(&a, &b, meeting)?;
        let on_a: Vec<(u32, f64)> = nodes.iter().map(|n| (n.a.leaving, n.a.along)).collect();
        let on_b: Vec<(u32, f64)> = nodes.iter().map(|n| (n.b.leaving, n.b.along)).collect();
        let next_b = b.order(&on_b)?;
        let (mut lies_a, mut lies_b) = (Vec::with_capacity(nodes.len()), Vec::with_capacity(nodes.len()));
        for n in &nodes {
            let (la, lb) = match n.a_enters {
                Some(true) => (Lies::Inside, Lies::Outside),
                Some(false) => (Lies::Outside, Lies::Inside),
                None => (a.leaves(n.point, n.a, &b, n.b)?, b.leaves(n.point, n.b, &a, n.a)?),
            };
            lies_a.push(la);
            lies_b.push(lb);
        }
        let free_a = a.free_rings(&a.noded(&on_a), b_edges, b_rings.span);
        let free_b = b.free_rings(&b.noded(&on_b), a_edges, a_rings.span);
        Some(Classified { a, b, nodes, on_a, on_b, next_a, next_b, lies_a, lies_b, free_a, free_b })
    }

    /// How the two areas relate (see [`super::interiors::relate`]): their interiors meet
    /// where the boundaries cross, where a stretch or a ring of either lies inside the
    /// other, or along it in the same direction; `a` is covered by `b` when nothing of
    /// `a`'s boundary lies outside `b` or runs along it the other way, and nothing of `b`'s
    /// lies inside `a`.
    fn relation(&self) -> Relation {
        let crossing = self.nodes.iter().any(|n| n.a_enters.is_some());
        let lies = |l: &[Lies], what: Lies| l.contains(&what);
        let free = |f: &[Option<bool>], inside: bool| f.contains(&Some(inside));
        let same = lies(&self.lies_a, Lies::AlongSame);
        let opposite = lies(&self.lies_a, Lies::AlongOpposite);
        let (a_in, b_in) = (lies(&self.lies_a, Lies::Inside) || free(&self.free_a, true), lies(&self.lies_b, Lies::Inside) || free(&self.free_b, true));
        let (a_out, b_out) = (lies(&self.lies_a, Lies::Outside) || free(&self.free_a, false), lies(&self.lies_b, Lies::Outside) || free(&self.free_b, false));
        let interiors_meet = crossing || same || a_in || b_in;
        let plain = interiors_meet && !crossing && !opposite;
        Relation { interiors_meet, a_covered_by_b: plain && !a_out && !b_in, b_covered_by_a: plain && !b_out && !a_in }
    }

    /// The intersection, walked: the kept stretches linked node to node, and the rings
    /// without a node that lie inside the other area.
    fn walk(&self) -> Option<MultiPolygon<f64>> {
        let n = self.nodes.len();
        // The kept stretches, and the one leaving each node (a node may have none).
        let mut stretches: Vec<Stretch> = Vec::new();
        let mut leaving = vec![usize::MAX; n];
        let mut arriving = vec![0u32; n];
        for k in 0..n {
            for (on_a, lies, next) in [(true, self.lies_a[k], &self.next_a), (false, self.lies_b[k], &self.next_b)] {
                // A stretch both run along in the same direction is kept once, as `a`'s.
                if lies == Lies::Inside || (on_a && lies == Lies::AlongSame) {
                    if leaving[k] != usize::MAX {
                        return None; // two ways on from one node
                    }
                    leaving[k] = stretches.len();
                    arriving[next[k]] += 1;
                    stretches.push(Stretch { from: k, to: next[k], on_a });
                }
            }
        }
        if (0..n).any(|k| arriving[k] != u32::from(leaving[k] != usize::MAX)) {
            return None;
        }
        let mut rings: Vec<Vec<Coord<f64>>> = Vec::new();
        let mut used = vec![false; stretches.len()];
        for first in 0..stretches.len() {
            if used[first] {
                continue;
            }
            let mut ring = Vec::new();
            let mut at = first;
            while !used[at] {
                used[at] = true;
                let s = &stretches[at];
                ring.push(self.nodes[s.from].point);
                if s.on_a {
                    self.a.follow(self.on_a[s.from], self.on_a[s.to], &mut ring);
                } else {
                    self.b.follow(self.on_b[s.from], self.on_b[s.to], &mut ring);
                }
                at = leaving[s.to];
            }
            if at != first {
                return None;
            }
            ring.push(ring[0]);
            rings.push(ring);
        }
        for (side, free) in [(&self.a, &self.free_a), (&self.b, &self.free_b)] {
            rings.extend(free.iter().enumerate().filter(|(_, f)| **f == Some(true)).map(|(k, _)| side.ring(k)));
        }
        assemble(rings)
    }
}

/// How `a` and `b` (each its sorted edges and rings) relate, given every place where their
/// boundaries meet, and their intersection when their interiors meet but neither covers
/// the other; `None` when that cannot be settled with certainty here (see the module's doc).
pub fn settle(a: (&[Segment], &Rings), b: (&[Segment], &Rings), meeting: &Meeting) -> Option<(Relation, Option<MultiPolygon<f64>>)> {
    let classified = Classified::new(a, b, meeting)?;
    let relation = classified.relation();
    if relation.interiors_meet && !relation.a_covered_by_b && !relation.b_covered_by_a {
        return Some((relation, Some(classified.walk()?)));
    }
    Some((relation, None))
}

/// The intersection of `a` and `b` (each its sorted edges and rings), walked whatever their
/// relation, given every place where their boundaries meet; `None` when it cannot be settled
/// with certainty here, or is empty.
pub fn intersection(a: (&[Segment], &Rings), b: (&[Segment], &Rings), meeting: &Meeting) -> Option<MultiPolygon<f64>> {
    Classified::new(a, b, meeting)?.walk()
}

/// Twice the signed planar area of a closed ring (positive when counter-clockwise).
fn signed_area(ring: &[Coord<f64>]) -> f64 {
    let o = ring[0];
    ring.windows(2).map(|w| (w[0].x - o.x) * (w[1].y - o.y) - (w[1].x - o.x) * (w[0].y - o.y)).sum()
}

/// Polygons from closed rings: counter-clockwise ones are exteriors, clockwise ones holes,
/// each hole in the smallest exterior around it.
fn assemble(rings: Vec<Vec<Coord<f64>>>) -> Option<MultiPolygon<f64>> {
    let (mut shells, mut holes) = (Vec::new(), Vec::new());
    for ring in rings {
        if ring.len() < 4 {
            return None;
        }
        let area = signed_area(&ring);
        if area > 0.0 {
            shells.push((area, ring, Vec::new()));
        } else if area < 0.0 {
            holes.push(ring);
        } else {
            return None;
        }
    }
    if shells.is_empty() {
        return None;
    }
    for hole in holes {
        crate::budget::check();
        let home = if shells.len() == 1 {
            0
        } else {
            let mut best: Option<(f64, usize)> = None;
            for (k, (area, shell, _)) in shells.iter().enumerate() {
                let around = Polygon::new(LineString(shell.clone()), vec![]).coordinate_position(&hole[0]);
                if around == CoordPos::OnBoundary {
                    return None;
                }
                if around == CoordPos::Inside && best.is_none_or(|(a, _)| *area < a) {
                    best = Some((*area, k));
                }
            }
            best?.1
        };
        shells[home].2.push(LineString(hole));
    }
    Some(MultiPolygon(shells.into_iter().map(|(_, shell, holes)| Polygon::new(LineString(shell), holes)).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, BooleanOps, polygon};

    fn ring_ccw(points: &[(f64, f64)]) -> Polygon<f64> {
        let mut p = Polygon::new(points.iter().map(|&(x, y)| Coord { x, y }).collect::<Vec<_>>().into(), vec![]);
        use geo::orient::{Direction, Orient};
        p = p.orient(Direction::Default);
        p
    }

    fn clipped(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> Option<MultiPolygon<f64>> {
        let (ea, eb) = (super::super::segments::segments(a), super::super::segments::segments(b));
        let (ra, rb) = (Rings::new(&ea), Rings::new(&eb));
        let span = |e: &[Segment]| {
            e.iter().fold([f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY], |[x0, y0, x1, y1], s| {
                [x0.min(s.min_x()), y0.min(s.min_y()), x1.max(s.max_x()), y1.max(s.max_y())]
            })
        };
        let runs = super::super::segments::touch_free(&ea) && super::super::segments::touch_free(&eb);
        let meeting = super::super::interiors::meeting((&ea, span(&ea), f64::INFINITY), (&eb, span(&eb), f64::INFINITY), runs);
        intersection((&ea, &ra), (&eb, &rb), &meeting)
    }

    #[test]
    fn a_cross_of_two_bars_is_their_square() {
        let a = MultiPolygon(vec![ring_ccw(&[(0.0, 1.0), (3.0, 1.0), (3.0, 2.0), (0.0, 2.0), (0.0, 1.0)])]);
        let b = MultiPolygon(vec![ring_ccw(&[(1.0, 0.0), (2.0, 0.0), (2.0, 3.0), (1.0, 3.0), (1.0, 0.0)])]);
        let got = clipped(&a, &b).expect("proper crossings only");
        assert_eq!(got.0.len(), 1);
        assert!((got.unsigned_area() - 1.0).abs() < 1e-12, "{got:?}");
    }

    #[test]
    fn a_u_across_a_bar_gives_two_pieces_and_a_hole_stays_a_hole() {
        let u = MultiPolygon(vec![polygon![
            (x: 0.0, y: 0.0), (x: 3.0, y: 0.0), (x: 3.0, y: 3.0), (x: 2.0, y: 3.0),
            (x: 2.0, y: 1.0), (x: 1.0, y: 1.0), (x: 1.0, y: 3.0), (x: 0.0, y: 3.0), (x: 0.0, y: 0.0)
        ]]);
        let bar = MultiPolygon(vec![ring_ccw(&[(-1.0, 1.5), (4.0, 1.5), (4.0, 2.5), (-1.0, 2.5), (-1.0, 1.5)])]);
        let got = clipped(&u, &bar).expect("proper crossings only");
        assert_eq!(got.0.len(), 2);
        assert!((got.unsigned_area() - 2.0).abs() < 1e-12, "{got:?}");
        // A square with a hole against a larger square: the hole lies inside, no crossings.
        let holed = MultiPolygon(vec![Polygon::new(
            vec![(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0), (0.0, 0.0)].into(),
            vec![vec![(1.0, 1.0), (1.0, 2.0), (2.0, 2.0), (2.0, 1.0), (1.0, 1.0)].into()],
        )]);
        let big = MultiPolygon(vec![ring_ccw(&[(-1.0, -1.0), (3.0, -1.0), (3.0, 5.0), (-1.0, 5.0), (-1.0, -1.0)])]);
        let got = clipped(&holed, &big).expect("proper crossings only");
        let want = holed.intersection(&big);
        assert!((got.unsigned_area() - want.unsigned_area()).abs() < 1e-12, "{got:?} vs {want:?}");
        assert_eq!(got.0[0].interiors().len(), 1);
    }
}
