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
    /// Position among all the area's edges in ring order (part, ring, index).
    pub rank: u32,
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

    /// The edge's box as `[min x, max x, min y, max y]` (the order sweeps prune in).
    pub fn bounds(&self) -> [f64; 4] {
        [self.min_x, self.max_x, self.min_y, self.max_y]
    }

    /// Where `point` (on the edge's line) lies along it: 0 at its start, 1 at its end.
    pub fn along(&self, point: Coord<f64>) -> f64 {
        let (o, d) = (self.line.start, self.line.delta());
        ((point.x - o.x) * d.x + (point.y - o.y) * d.y) / (d.x * d.x + d.y * d.y)
    }

    /// Whether this edge and `other`, the next or previous edge of its ring, meet only at
    /// the vertex they share: the third point lies off the line of the other two (one
    /// orientation test instead of intersecting the edges; adjacent edges are most of the
    /// pairs a valid ring's sweep meets). `false` for edges that are not neighbours.
    pub fn only_shares_its_vertex_with(&self, other: &Segment) -> bool {
        let (p, q, r) = if self.line.end == other.line.start {
            (self.line.start, self.line.end, other.line.end)
        } else if other.line.end == self.line.start {
            (other.line.start, other.line.end, self.line.end)
        } else {
            return false;
        };
        off_line(p, q, r)
    }

    /// The rank of the edge before this one along its ring.
    pub fn previous_rank(&self) -> u32 {
        if self.index == 0 { self.rank + self.ring_edges - 1 } else { self.rank - 1 }
    }

    /// The rank of the edge after this one along its ring.
    pub fn next_rank(&self) -> u32 {
        if self.index + 1 == self.ring_edges { self.rank - self.index } else { self.rank + 1 }
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

/// Whether `r` lies off the line through `p` and `q`: the robust orientation test, asked
/// only whether the answer is "collinear".
///
/// The determinant is first taken in floating point with Shewchuk's error bound (the one
/// the `robust` crate's `orient2d` filters with): clear of the bound, it is not zero and the
/// answer is certain. Which side it lies on is not asked, so there is one branch, nearly
/// always taken the same way; the side (left or right turn, half of the vertices each) is
/// a branch the processor cannot predict.
pub fn off_line(p: Coord<f64>, q: Coord<f64>, r: Coord<f64>) -> bool {
    use geo::kernels::{Kernel, Orientation, RobustKernel};
    const THETA: f64 = 3.330_669_062_177_372_2e-16;
    let (left, right) = ((p.x - r.x) * (q.y - r.y), (p.y - r.y) * (q.x - r.x));
    let det = left - right;
    if det.abs() > THETA * (left + right).abs() {
        return true;
    }
    RobustKernel::orient2d(p, q, r) != Orientation::Collinear
}

/// The edges of every ring, consecutive duplicate points skipped, sorted by min x.
pub fn segments(mp: &MultiPolygon<f64>) -> Vec<Segment> {
    let mut out = Vec::with_capacity(geo::CoordsIter::coords_count(mp));
    for (p, polygon) in mp.0.iter().enumerate() {
        let rings = std::iter::once(polygon.exterior()).chain(polygon.interiors());
        for (r, ring) in rings.enumerate() {
            let edges = ring.0.windows(2).filter(|w| w[0] != w[1]);
            let n = edges.clone().count() as u32;
            for (i, w) in edges.enumerate() {
                let (a, b) = (w[0], w[1]);
                out.push(Segment {
                    line: Line::new(a, b),
                    part: p as u32,
                    ring: r as u32,
                    index: i as u32,
                    ring_edges: n,
                    rank: out.len() as u32,
                    min_x: a.x.min(b.x),
                    max_x: a.x.max(b.x),
                    min_y: a.y.min(b.y),
                    max_y: a.y.max(b.y),
                });
            }
        }
    }
    // Sort keys, not the 88-byte edges, then put the edges in that order: min x mapped to
    // an integer of the same order (`f64::total_cmp`'s), with the rank.
    let keys: Vec<(u64, u32)> = out.iter().map(|s| (ordered_bits(s.min_x), s.rank)).collect();
    radix_sort(keys).into_iter().map(|(_, rank)| out[rank as usize]).collect()
}

/// `keys` sorted by their first member, those with the same one kept in the order given:
/// a least-significant-digit radix sort, a byte at a time, skipping the bytes all keys
/// share (the sign and exponent of nearby longitudes). No comparisons, so no branch to
/// mispredict: a drawn district's ~600 edges sort in a few microseconds.
fn radix_sort(mut keys: Vec<(u64, u32)>) -> Vec<(u64, u32)> {
    let mut spare = vec![(0, 0); keys.len()];
    for shift in (0..64).step_by(8) {
        let mut counts = [0usize; 256];
        for &(key, _) in &keys {
            counts[(key >> shift) as usize & 0xff] += 1;
        }
        if counts.contains(&keys.len()) {
            continue;
        }
        let mut start = 0;
        for c in counts.iter_mut() {
            (*c, start) = (start, start + *c);
        }
        for &(key, rank) in &keys {
            let slot = &mut counts[(key >> shift) as usize & 0xff];
            spare[*slot] = (key, rank);
            *slot += 1;
        }
        std::mem::swap(&mut keys, &mut spare);
    }
    keys
}

/// The bits of `x` as an integer ordered as `f64::total_cmp` orders the doubles.
fn ordered_bits(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 { !bits } else { bits | 1 << 63 }
}

/// Whether the boundary meets itself only where neighbouring edges of a ring share their
/// vertex: no ring touches itself or another, at a point or along an edge (valid areas may
/// have such touches; [`super::interiors::meeting`] needs to know).
pub fn touch_free(segs: &[Segment]) -> bool {
    let mut free = true;
    for_each_pair(segs, None, |s, t| {
        free =
            (s.adjacent(t) && s.only_shares_its_vertex_with(t)) || only_as_neighbours(s, t, geo::line_intersection::line_intersection(s.line, t.line).as_ref());
        free
    });
    free
}

/// Whether two edges (found with meeting boxes) whose intersection is `hit` meet, if at
/// all, only as neighbours along their ring at the vertex they share.
pub fn only_as_neighbours(s: &Segment, t: &Segment, hit: Option<&geo::line_intersection::LineIntersection<f64>>) -> bool {
    use geo::line_intersection::LineIntersection;
    match hit {
        None => true,
        Some(LineIntersection::SinglePoint { is_proper: false, intersection }) if s.adjacent(t) => {
            let common = if s.line.end == t.line.start { s.line.end } else { s.line.start };
            *intersection == common
        }
        Some(_) => false,
    }
}

/// From this many edges on, [`for_each_pair`] finds the pairs with an R-tree.
pub const INDEXED_FROM: usize = 8_192;

/// A box and what it is the box of (an edge's place in the edges, a ring's `(part, ring)`).
pub type Boxed<T> = rstar::primitives::GeomWithData<rstar::primitives::Rectangle<[f64; 2]>, T>;

/// The edges' boxes in an R-tree, each with the edge's place in `segs`.
pub type EdgeTree = rstar::RTree<Boxed<u32>>;

/// The R-tree of the boxes of `segs`.
pub fn edge_tree(segs: &[Segment]) -> EdgeTree {
    let boxes = segs.iter().enumerate().map(|(k, s)| Boxed::new(rstar::primitives::Rectangle::from_corners([s.min_x, s.min_y], [s.max_x, s.max_y]), k as u32));
    rstar::RTree::bulk_load(boxes.collect())
}

/// Calls `f` for every pair of segments (i < j in sweep order) whose boxes meet;
/// stops early when `f` returns `false`.
///
/// Up to [`INDEXED_FROM`] edges (a district has ~600, a city a few thousand) by a sweep on
/// x, which is the fastest there; beyond, with the edges' R-tree (`tree` if the caller has
/// built it, else built here), as a sweep on x alone meets every edge in the same column:
/// for parts laid out in a grid (the 50,000 triangles of an attack), n^1.5 pairs of boxes
/// where the tree visits n log n.
pub fn for_each_pair(segs: &[Segment], tree: Option<&EdgeTree>, f: impl FnMut(&Segment, &Segment) -> bool) {
    if segs.len() < INDEXED_FROM {
        for_each_pair_swept(segs, f)
    } else if let Some(tree) = tree {
        for_each_pair_indexed(segs, tree, f)
    } else {
        for_each_pair_indexed(segs, &edge_tree(segs), f)
    }
}

fn for_each_pair_indexed(segs: &[Segment], tree: &EdgeTree, mut f: impl FnMut(&Segment, &Segment) -> bool) {
    for (i, s) in segs.iter().enumerate() {
        if i % 64 == 0 {
            crate::budget::check();
        }
        let query = rstar::AABB::from_corners([s.min_x, s.min_y], [s.max_x, s.max_y]);
        for found in tree.locate_in_envelope_intersecting(&query) {
            let j = found.data as usize;
            if j > i && !f(s, &segs[j]) {
                return;
            }
        }
    }
}

fn for_each_pair_swept(segs: &[Segment], mut f: impl FnMut(&Segment, &Segment) -> bool) {
    // Prune on a compact copy of the boxes: one cache line holds two of them.
    let boxes: Vec<[f64; 4]> = segs.iter().map(Segment::bounds).collect();
    let mut meeting = vec![0; boxes.len()];
    for (i, s) in boxes.iter().enumerate() {
        if i % 64 == 0 {
            crate::budget::check();
        }
        let found = meeting_ahead(*s, &boxes[i + 1..], &mut meeting);
        for &n in &meeting[..found] {
            if !f(&segs[i], &segs[i + 1 + n as usize]) {
                return;
            }
        }
    }
}

/// How many of the boxes in `ahead` (`[min x, max x, min y, max y]`, sorted by min x, none
/// starting left of `s`) meet `s`; their places are put at the start of `out` (at least as
/// long as `ahead`).
///
/// Both tests are answered without a branch on their outcome, in blocks of eight: most boxes
/// passed over miss `s` in y, and where the run of boxes within reach in x ends is different
/// for each box, both unpredictably; a mispredicted branch costs more than the tests.
fn meeting_ahead(s: [f64; 4], ahead: &[[f64; 4]], out: &mut [u32]) -> usize {
    const BLOCK: usize = 8;
    let [_, s_max_x, s_min_y, s_max_y] = s;
    let (mut found, mut start) = (0, 0);
    loop {
        let block = &ahead[start..(start + BLOCK).min(ahead.len())];
        let mut within_x = 0;
        for (n, &[t_min_x, _, t_min_y, t_max_y]) in block.iter().enumerate() {
            let in_x = t_min_x <= s_max_x;
            within_x += usize::from(in_x);
            out[found] = (start + n) as u32;
            found += usize::from(in_x & (t_max_y >= s_min_y) & (t_min_y <= s_max_y));
        }
        if within_x < BLOCK {
            return found;
        }
        start += BLOCK;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Polygon, polygon};

    fn edges(p: Polygon<f64>) -> Vec<Segment> {
        segments(&MultiPolygon(vec![p]))
    }

    /// Numbers in [0, 1) from a linear congruential generator started at `seed`.
    fn uniform(mut seed: u64) -> impl FnMut() -> f64 {
        move || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    #[test]
    fn the_sweep_and_the_tree_find_the_same_pairs() {
        // 1,500 overlapping squares of random place and size: 6,000 edges, many meeting.
        let mut next = uniform(7);
        let squares = (0..1_500).map(|_| {
            let (x, y, s) = (next(), next(), 0.001 + next() * 0.05);
            geo::Rect::new((x, y), (x + s, y + s)).to_polygon()
        });
        let segs = segments(&MultiPolygon(squares.collect()));
        type Finder<'f> = &'f dyn Fn(&mut dyn FnMut(&Segment, &Segment) -> bool);
        let pairs = |by: Finder| {
            let mut found = Vec::new();
            by(&mut |s, t| {
                found.push((s.rank.min(t.rank), s.rank.max(t.rank)));
                true
            });
            found.sort_unstable();
            found
        };
        let swept = pairs(&|f| for_each_pair_swept(&segs, f));
        assert!(swept.len() > 10_000, "{} pairs", swept.len());
        assert_eq!(swept, pairs(&|f| for_each_pair_indexed(&segs, &edge_tree(&segs), f)));
    }

    #[test]
    fn edges_are_sorted_by_min_x_then_rank() {
        let mp = MultiPolygon(vec![polygon![(x: 0.5, y: 0.0), (x: -1.0, y: 0.0), (x: -0.0, y: 1.0), (x: 0.0, y: 2.0), (x: 2.0, y: 2.0)]]);
        let keys: Vec<(f64, u32)> = segments(&mp).iter().map(|s| (s.min_x(), s.rank)).collect();
        let mut want = keys.clone();
        want.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        assert_eq!(keys, want);
        assert!(ordered_bits(-0.0) < ordered_bits(0.0) && ordered_bits(-2.0) < ordered_bits(-1.0) && ordered_bits(1.0) < ordered_bits(2.0));
    }

    #[test]
    fn off_line_answers_as_the_robust_orientation_test() {
        use geo::kernels::{Kernel, Orientation, RobustKernel};
        let c = |x: f64, y: f64| Coord { x, y };
        // Exactly collinear (also with coordinates that floating point rounds), nearly
        // collinear either side by an ulp, and plainly off the line.
        let (p, q) = (c(114.1, 22.3), c(114.7, 22.9));
        let mut cases = vec![(p, q, c(114.4, 22.6)), (p, q, c(115.3, 23.5)), (c(0.0, 0.0), c(1.0, 1.0), c(3.0, 3.0)), (p, p, q)];
        for k in 1..200 {
            let t = f64::from(k) / 37.0;
            let on = c(p.x + t * (q.x - p.x), p.y + t * (q.y - p.y));
            for r in [on, c(on.x.next_up(), on.y), c(on.x, on.y.next_down()), c(on.x + 1e-3, on.y)] {
                cases.push((p, q, r));
            }
        }
        let mut collinear = 0;
        for (p, q, r) in cases {
            let robust = RobustKernel::orient2d(p, q, r) != Orientation::Collinear;
            assert_eq!(off_line(p, q, r), robust, "{p:?} {q:?} {r:?}");
            collinear += usize::from(!robust);
        }
        assert!(collinear >= 4, "the cases hold collinear points: {collinear}");
    }

    #[test]
    fn radix_sort_orders_as_a_stable_sort_does() {
        let mut seed = 11u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            seed
        };
        // Keys all different, keys from a few values (ties keep their order), keys that
        // differ only in a low byte or only in the top one, none and one.
        let sets: Vec<Vec<u64>> = vec![
            (0..1000).map(|_| next()).collect(),
            (0..1000).map(|_| next() % 7).collect(),
            (0..300).map(|_| 0xABCD_0000_0000_0000 | (next() & 0xff)).collect(),
            (0..300).map(|_| (next() & 0xff00_0000_0000_0000) | 42).collect(),
            vec![],
            vec![5],
        ];
        for set in sets {
            let keys: Vec<(u64, u32)> = set.iter().enumerate().map(|(i, &k)| (k, i as u32)).collect();
            let mut want = keys.clone();
            want.sort_by_key(|&(k, _)| k);
            assert_eq!(radix_sort(keys), want);
        }
    }

    #[test]
    fn meeting_ahead_finds_the_boxes_a_plain_filter_finds() {
        // Boxes from a small generator, some wide (runs of more than one block in reach).
        let mut next = uniform(7);
        for wide in [0.01, 0.2, 3.0] {
            let mut boxes: Vec<[f64; 4]> = (0..200)
                .map(|_| {
                    let (x, y) = (next(), next());
                    [x, x + next() * wide, y, y + next() * wide]
                })
                .collect();
            boxes.sort_by(|a, b| a[0].total_cmp(&b[0]));
            let mut out = vec![0; boxes.len()];
            for (i, s) in boxes.iter().enumerate() {
                let ahead = &boxes[i + 1..];
                let found = meeting_ahead(*s, ahead, &mut out);
                let want: Vec<u32> = (0..ahead.len() as u32)
                    .filter(|&n| {
                        let t = ahead[n as usize];
                        t[0] <= s[1] && t[3] >= s[2] && t[2] <= s[3]
                    })
                    .collect();
                assert_eq!(&out[..found], want.as_slice(), "box {i}, width {wide}");
            }
        }
    }

    #[test]
    fn touch_free_tells_rings_that_touch_from_those_that_do_not() {
        // A vertex in the middle of a straight side is no touch.
        assert!(touch_free(&edges(polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 2.0, y: 0.0), (x: 2.0, y: 2.0), (x: 0.0, y: 2.0)])));
        // A hole apart from the shell, and one touching it at a vertex.
        let shell = || vec![(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0), (0.0, 0.0)].into();
        let apart = Polygon::new(shell(), vec![vec![(1.0, 1.0), (1.0, 2.0), (2.0, 2.0), (2.0, 1.0), (1.0, 1.0)].into()]);
        assert!(touch_free(&edges(apart)));
        let touching = Polygon::new(shell(), vec![vec![(0.0, 0.0), (1.0, 2.0), (2.0, 1.0), (0.0, 0.0)].into()]);
        assert!(!touch_free(&edges(touching)));
        // A hole with a vertex on the middle of the shell's side.
        let on_side = Polygon::new(shell(), vec![vec![(2.0, 0.0), (1.0, 1.0), (3.0, 1.0), (2.0, 0.0)].into()]);
        assert!(!touch_free(&edges(on_side)));
    }
}
