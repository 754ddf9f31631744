//! GeoJSON → validated, normalised `MultiPolygon`, with every problem located.
//!
//! Steps, each of which can refuse the input with a JSON pointer to the culprit:
//! 1. structure: `type` is Polygon or MultiPolygon, `coordinates` nests as it should;
//! 2. positions: two or three finite numbers, longitude in [-180, 180], latitude in [-90, 90];
//! 3. rings: at least 4 positions, closed (first == last), under the vertex limit;
//! 4. datum: GCJ-02 / BD-09 input converted to WGS84 (after the range check);
//! 5. OGC validity: no self-crossing ring, rings and parts touching at points at most,
//!    holes inside their exterior, parts disjoint (a segment sweep, not geo's quadratic
//!    `Validation`);
//! 6. winding normalised to RFC 7946 (exterior counter-clockwise, holes clockwise).

pub use super::coords::{CoordSys, GeometryLimits, check_lon_lat, check_position, ring_problem};
use super::overlap::Shape;
use super::segments::{Boxed, EdgeTree, INDEXED_FROM, Segment, edge_tree, for_each_pair, only_as_neighbours, segments};
pub use crate::input::InputError;
use geo::line_intersection::{LineIntersection, line_intersection};
use geo::{Coord, LineString, MultiPolygon, Orient, Polygon, orient::Direction};
use serde_json::Value;

struct Parser<'a> {
    base: &'a str,
    errors: Vec<InputError>,
    vertices: usize,
    rings: usize,
}

impl Parser<'_> {
    fn err(&mut self, path: &str, detail: impl Into<String>) {
        self.errors.push(InputError { pointer: format!("{}{}", self.base, path), detail: detail.into() });
    }

    /// Position `index` of the ring at `ring_path` (its pointer is made only for an error).
    fn position(&mut self, v: &Value, ring_path: &str, index: usize, sys: CoordSys) -> Option<Coord<f64>> {
        match check_position(v, sys) {
            Ok(c) => Some(c),
            Err((_, detail)) => {
                self.err(&format!("{ring_path}/{index}"), detail);
                None
            }
        }
    }

    fn ring(&mut self, v: &Value, path: &str, sys: CoordSys) -> Option<LineString<f64>> {
        let Some(arr) = v.as_array() else {
            self.err(path, "a linear ring must be an array of positions");
            return None;
        };
        let before = self.errors.len();
        let coords: Vec<Coord<f64>> = arr.iter().enumerate().filter_map(|(i, p)| self.position(p, path, i, sys)).collect();
        if self.errors.len() > before {
            return None;
        }
        self.vertices += coords.len();
        // Compare the raw input, not the converted coordinates, for closure.
        if let Some(problem) = ring_problem(coords.len(), same_position(arr.first(), arr.last())) {
            self.err(path, problem);
            return None;
        }
        Some(LineString(coords))
    }

    fn polygon(&mut self, v: &Value, path: &str, sys: CoordSys) -> Option<Polygon<f64>> {
        let Some(rings) = v.as_array() else {
            self.err(path, "polygon coordinates must be an array of linear rings");
            return None;
        };
        if rings.is_empty() {
            self.err(path, "a polygon needs an exterior ring");
            return None;
        }
        self.rings += rings.len();
        let parsed: Vec<Option<LineString<f64>>> = rings.iter().enumerate().map(|(i, r)| self.ring(r, &format!("{path}/{i}"), sys)).collect();
        let mut rings: Vec<LineString<f64>> = parsed.into_iter().collect::<Option<_>>()?;
        let exterior = rings.remove(0);
        Some(Polygon::new(exterior, rings))
    }
}

/// Whether two positions as written are the same numbers (`1` and `1.0` are).
fn same_position(a: Option<&Value>, b: Option<&Value>) -> bool {
    let numbers = |v: Option<&Value>| v.and_then(Value::as_array).map(|a| a.iter().map(Value::as_f64).collect::<Vec<_>>());
    numbers(a) == numbers(b)
}

/// [`parse_area`] for a geometry object given as JSON text, as a [`Shape`] ready to
/// compare: well-formed input is read straight from the text ([`super::read`]); anything
/// else goes through the located parser, which names every problem. The edges sorted for
/// validation are kept for the shape when the input was already RFC 7946-oriented.
pub fn parse_area_text(text: &str, base: &str, sys: CoordSys, limits: GeometryLimits) -> Result<Shape, Vec<InputError>> {
    match super::read::read_area(text, sys, limits) {
        Some(read) => drawn_shape(read, base),
        None => {
            let value = serde_json::from_str::<Value>(text).map_err(|e| vec![InputError::at(base, format!("not JSON: {e}"))])?;
            drawn_shape(parse_structure(&value, base, sys, limits)?, base)
        }
    }
}

/// The rest of [`parse_area_text`] for an area already read ([`super::read`]: the
/// MultiPolygon and whether it was written as one): OGC validity and winding, as a
/// [`Shape`] ready to compare.
pub fn drawn_shape((mp, is_multi): (MultiPolygon<f64>, bool), base: &str) -> Result<Shape, Vec<InputError>> {
    let (mp, edges) = validate_keeping_edges(mp, base, is_multi)?;
    Ok(Shape::drawn(std::sync::Arc::new(mp), edges))
}

/// Parses a GeoJSON Polygon or MultiPolygon geometry object into a valid, RFC 7946-oriented
/// `MultiPolygon` in WGS84, or returns every problem found, located under `base` (a JSON
/// pointer prefix such as `/geometry`).
pub fn parse_area(value: &Value, base: &str, sys: CoordSys, limits: GeometryLimits) -> Result<MultiPolygon<f64>, Vec<InputError>> {
    let (mp, is_multi) = parse_structure(value, base, sys, limits)?;
    validate_keeping_edges(mp, base, is_multi).map(|(mp, _)| mp)
}

/// Parses a geometry this service wrote itself (already valid and oriented): steps 1–3 only.
pub fn parse_stored(value: &Value) -> Result<MultiPolygon<f64>, Vec<InputError>> {
    let limits = GeometryLimits::NONE;
    parse_structure(value, "", CoordSys::Wgs84, limits).map(|(mp, _)| mp)
}

fn parse_structure(value: &Value, base: &str, sys: CoordSys, limits: GeometryLimits) -> Result<(MultiPolygon<f64>, bool), Vec<InputError>> {
    let mut p = Parser { base, errors: Vec::new(), vertices: 0, rings: 0 };
    let Some(obj) = value.as_object() else {
        p.err("", "a GeoJSON geometry object is expected");
        return Err(p.errors);
    };
    let kind = obj.get("type").and_then(Value::as_str);
    let Some(coords) = obj.get("coordinates") else {
        p.err("/coordinates", "missing: a GeoJSON geometry needs `coordinates`");
        return Err(p.errors);
    };
    let polygons: Vec<Polygon<f64>> = match kind {
        Some("Polygon") => p.polygon(coords, "/coordinates", sys).into_iter().collect(),
        Some("MultiPolygon") => {
            let Some(parts) = coords.as_array() else {
                p.err("/coordinates", "MultiPolygon coordinates must be an array of polygons");
                return Err(p.errors);
            };
            parts.iter().enumerate().filter_map(|(i, part)| p.polygon(part, &format!("/coordinates/{i}"), sys)).collect()
        }
        Some(other) => {
            p.err("/type", format!("`{other}` is not an area: expected Polygon or MultiPolygon"));
            return Err(p.errors);
        }
        None => {
            p.err("/type", "missing or not a string: expected Polygon or MultiPolygon");
            return Err(p.errors);
        }
    };
    if p.vertices > limits.max_vertices {
        p.err("/coordinates", format!("{} vertices exceed the limit of {}", p.vertices, limits.max_vertices));
    }
    if p.rings > limits.max_rings {
        p.err("/coordinates", format!("{} rings exceed the limit of {} (exteriors and holes of all parts together)", p.rings, limits.max_rings));
    }
    if !p.errors.is_empty() {
        return Err(p.errors);
    }
    if polygons.is_empty() {
        p.err("/coordinates", "the geometry is empty");
        return Err(p.errors);
    }
    Ok((MultiPolygon(polygons), kind == Some("MultiPolygon")))
}

/// A validated area, and its sorted edges (with whether they are touch-free) if they were kept.
type Validated = (MultiPolygon<f64>, Option<(Vec<Segment>, bool)>);

/// Steps 5 and 6: OGC validity, then the winding. Also gives the edges sorted for the
/// first check when no ring had to be turned round (they are the result's edges then).
fn validate_keeping_edges(mp: MultiPolygon<f64>, base: &str, is_multi: bool) -> Result<Validated, Vec<InputError>> {
    let coords_base = format!("{base}/coordinates");
    let poly_base = |part: u32| if is_multi { format!("{coords_base}/{part}") } else { coords_base.clone() };
    let mut errors: Vec<InputError> = Vec::new();
    for (p, polygon) in mp.0.iter().enumerate() {
        for (r, ring) in std::iter::once(polygon.exterior()).chain(polygon.interiors()).enumerate() {
            let distinct = 1 + ring.0.windows(2).filter(|w| w[0] != w[1]).count();
            if distinct < 4 {
                add(&mut errors, format!("{}/{r}", poly_base(p as u32)), format!("{} must have at least 3 distinct points", ring_name(r as u32)));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // 1. Edges: a ring may meet itself only where adjacent edges share their vertex;
    //    different rings or parts may touch at points, never cross or share an edge.
    let segs = segments(&mp);
    // A large area's edges in an R-tree, built once for both steps.
    let tree = (segs.len() >= INDEXED_FROM).then(|| edge_tree(&segs));
    let mut touch_free = true;
    for_each_pair(&segs, tree.as_ref(), |s, t| {
        if s.adjacent(t) && s.only_shares_its_vertex_with(t) {
            return true;
        }
        let hit = line_intersection(s.line, t.line);
        touch_free &= only_as_neighbours(s, t, hit.as_ref());
        let Some(hit) = hit else { return true };
        let (first, second) = if (s.part, s.ring, s.index) <= (t.part, t.ring, t.index) { (s, t) } else { (t, s) };
        // Made only for an error: adjacent edges meet at every vertex.
        let ring_ptr = || format!("{}/{}", poly_base(second.part), second.ring);
        match hit {
            _ if s.part == t.part && s.ring == t.ring => {
                let fine = s.adjacent(t) && matches!(hit, LineIntersection::SinglePoint { is_proper: false, .. });
                if !fine {
                    let at = hit_point(&hit);
                    add(&mut errors, ring_ptr(), format!("{} crosses itself (self-intersection) near [{}, {}]", ring_name(s.ring), at.x, at.y));
                }
            }
            LineIntersection::SinglePoint { is_proper: false, .. } => {}
            _ if s.part == t.part => {
                let at = hit_point(&hit);
                add(&mut errors, ring_ptr(), format!("{} and {} intersect near [{}, {}]", ring_name(first.ring), ring_name(second.ring), at.x, at.y));
            }
            _ => {
                let at = hit_point(&hit);
                add(
                    &mut errors,
                    poly_base(second.part),
                    format!("polygons {} and {} of the MultiPolygon overlap or share an edge near [{}, {}]", first.part, second.part, at.x, at.y),
                );
            }
        }
        true
    });
    if !errors.is_empty() {
        return Err(errors);
    }
    // 2. Containment: holes inside their exterior and not inside each other; parts not
    //    inside each other. Their edges do not cross, so one vertex of a ring off the other
    //    boundaries decides where the whole ring lies; one query of an R-tree of all edges
    //    tells which rings enclose it (n log n in all, where testing each pair was n²).
    //    An area of one ring has nothing to check.
    let rings: usize = mp.0.iter().map(|p| 1 + p.interiors().len()).sum();
    if rings > 1 {
        let enclosing = Enclosing::new(&mp, &segs, tree.as_ref());
        for (p, polygon) in mp.0.iter().enumerate() {
            crate::budget::check();
            for (r, ring) in std::iter::once(polygon.exterior()).chain(polygon.interiors()).enumerate() {
                let Some(around) = enclosing.rings_around(ring, (p as u32, r as u32)) else { continue };
                let ring_ptr = || format!("{}/{r}", poly_base(p as u32));
                if r > 0 {
                    if !around.contains(&(p as u32, 0)) {
                        add(&mut errors, ring_ptr(), format!("{} (a hole) is not inside the exterior ring", ring_name(r as u32)));
                    }
                    if let Some(&(_, k)) = around.iter().find(|&&(q, k)| q == p as u32 && k > 0) {
                        add(&mut errors, ring_ptr(), format!("{} lies inside {}", ring_name(r as u32), ring_name(k)));
                    }
                } else if let Some(q) = parts_around(&around).find(|&q| q != p as u32) {
                    let (i, j) = (q.min(p as u32), q.max(p as u32));
                    add(&mut errors, poly_base(j), format!("polygons {i} and {j} of the MultiPolygon overlap"));
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
    }
    use geo::Winding;
    let oriented = mp.0.iter().all(|p| p.exterior().is_ccw() && p.interiors().iter().all(|h| h.is_cw()));
    if oriented { Ok((mp, Some((segs, touch_free)))) } else { Ok((mp.orient(Direction::Default), None)) }
}

/// Records a problem, once per location.
fn add(errors: &mut Vec<InputError>, pointer: String, detail: String) {
    if !errors.iter().any(|e| e.pointer == pointer) {
        errors.push(InputError::at(pointer, detail));
    }
}

fn ring_name(ring: u32) -> String {
    if ring == 0 { "exterior ring".into() } else { format!("interior ring {}", ring - 1) }
}

fn hit_point(hit: &LineIntersection<f64>) -> Coord<f64> {
    match hit {
        LineIntersection::SinglePoint { intersection, .. } => *intersection,
        LineIntersection::Collinear { intersection } => intersection.start,
    }
}

/// The parts whose polygon (exterior less holes) encloses a point, from the rings around
/// it ([`Enclosing::rings_around`]): those with an odd number of its rings around it.
fn parts_around(around: &[(u32, u32)]) -> impl Iterator<Item = u32> + '_ {
    let mut parts: Vec<u32> = around.iter().map(|&(p, _)| p).collect();
    parts.dedup(); // `around` is sorted
    parts.into_iter().filter(move |&p| around.iter().filter(|&&(q, _)| q == p).count() % 2 == 1)
}

/// The boxes of an area's rings in an R-tree, to find the rings that enclose a point: of
/// the rings whose box holds it, those an odd number of whose edges lie straight above it
/// (even-odd rule). The edges above are found with the edges' R-tree for a large area,
/// else by going round each such ring (a district's few parts rarely have one).
struct Enclosing<'s> {
    area: &'s MultiPolygon<f64>,
    edges: &'s [Segment],
    edge_tree: Option<&'s EdgeTree>,
    ring_tree: rstar::RTree<Boxed<(u32, u32)>>,
}

impl<'s> Enclosing<'s> {
    fn new(mp: &'s MultiPolygon<f64>, edges: &'s [Segment], edge_tree: Option<&'s EdgeTree>) -> Enclosing<'s> {
        use geo::BoundingRect;
        let rings = mp.0.iter().enumerate().flat_map(|(p, polygon)| {
            std::iter::once(polygon.exterior()).chain(polygon.interiors()).enumerate().map(move |(r, ring)| ((p as u32, r as u32), ring))
        });
        let ring_boxes = rings
            .filter_map(|(at, ring)| ring.bounding_rect().map(|b| Boxed::new(rstar::primitives::Rectangle::from_corners(b.min().into(), b.max().into()), at)));
        Enclosing { area: mp, edges, edge_tree, ring_tree: rstar::RTree::bulk_load(ring_boxes.collect()) }
    }

    /// The rings `(part, ring)` other than `own` that enclose `ring`, sorted, judged at its
    /// first vertex that lies on no other ring's boundary; `None` if every vertex does.
    fn rings_around(&self, ring: &LineString<f64>, own: (u32, u32)) -> Option<Vec<(u32, u32)>> {
        'vertex: for &v in &ring.0 {
            let at = rstar::AABB::from_point([v.x, v.y]);
            let (mut candidates, mut top) = (Vec::new(), v.y);
            for r in self.ring_tree.locate_in_envelope_intersecting(&at).filter(|r| r.data != own) {
                candidates.push(r.data);
                top = top.max(r.geom().upper()[1]);
            }
            if candidates.is_empty() {
                return Some(candidates);
            }
            candidates.sort_unstable();
            let mut crossed: Vec<(u32, u32)> = Vec::new();
            for (ring, line) in self.edges_above(v, top, &candidates) {
                match above(line, v) {
                    Above::OnIt => continue 'vertex,
                    Above::Crosses => crossed.push(ring),
                    Above::No => {}
                }
            }
            crossed.sort_unstable();
            let mut around = Vec::new();
            for run in crossed.chunk_by(|a, b| a == b) {
                if run.len() % 2 == 1 {
                    around.push(run[0]);
                }
            }
            return Some(around);
        }
        None
    }

    /// The edges of the rings `candidates` (sorted) that may lie above `v`, up to `top`,
    /// with their ring.
    fn edges_above<'a>(&'a self, v: Coord<f64>, top: f64, candidates: &'a [(u32, u32)]) -> Box<dyn Iterator<Item = ((u32, u32), geo::Line<f64>)> + 'a> {
        match self.edge_tree {
            Some(tree) => {
                let up = rstar::AABB::from_corners([v.x, v.y], [v.x, top]);
                let found = tree.locate_in_envelope_intersecting(&up).map(|f| &self.edges[f.data as usize]);
                Box::new(found.filter(|s| candidates.binary_search(&(s.part, s.ring)).is_ok()).map(|s| ((s.part, s.ring), s.line)))
            }
            None => Box::new(candidates.iter().flat_map(|&(p, r)| {
                let polygon = &self.area.0[p as usize];
                let ring = if r == 0 { polygon.exterior() } else { &polygon.interiors()[r as usize - 1] };
                ring.lines().map(move |line| ((p, r), line))
            })),
        }
    }
}

/// Where an edge lies with respect to the ray straight up from `v`.
enum Above {
    /// `v` lies on the edge.
    OnIt,
    /// The ray crosses the edge (half-open in x, so a vertex the ray passes is counted once).
    Crosses,
    /// Neither.
    No,
}

fn above(line: geo::Line<f64>, v: Coord<f64>) -> Above {
    use geo::kernels::{Kernel, Orientation, RobustKernel};
    let (a, b) = if line.start.x <= line.end.x { (line.start, line.end) } else { (line.end, line.start) };
    let in_box = a.x <= v.x && v.x <= b.x && a.y.min(b.y) <= v.y && v.y <= a.y.max(b.y);
    let turn = RobustKernel::orient2d(a, b, v);
    if in_box && turn == Orientation::Collinear {
        return Above::OnIt;
    }
    // From left to right, a point below the edge is a clockwise turn.
    if a.x <= v.x && v.x < b.x && turn == Orientation::Clockwise { Above::Crosses } else { Above::No }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<MultiPolygon<f64>, Vec<InputError>> {
        parse_area(&v, "/geometry", CoordSys::Wgs84, GeometryLimits::default())
    }

    fn square() -> Value {
        json!({"type": "Polygon", "coordinates": [[[0,0],[1,0],[1,1],[0,1],[0,0]]]})
    }

    #[test]
    fn accepts_either_winding_and_normalises_to_ccw() {
        let cw = json!({"type": "Polygon", "coordinates": [[[0,0],[0,1],[1,1],[1,0],[0,0]]]});
        let a = parse(square()).expect("valid");
        let b = parse(cw).expect("valid");
        use geo::Winding;
        assert!(a.0[0].exterior().is_ccw());
        assert!(b.0[0].exterior().is_ccw());
    }

    #[test]
    fn validation_tells_whether_the_rings_touch() {
        // RFC 7946-oriented input keeps the validation's edges, and with them its finding.
        let shape = |v: Value| parse_area_text(&v.to_string(), "", CoordSys::Wgs84, GeometryLimits::default()).expect("valid");
        assert!(shape(square()).touch_free());
        let touching = json!({"type": "Polygon", "coordinates": [[[0,0],[4,0],[4,4],[0,4],[0,0]], [[0,0],[1,2],[2,1],[0,0]]]});
        assert!(!shape(touching).touch_free());
    }

    #[test]
    fn bowtie_is_refused_at_its_ring() {
        let bowtie = json!({"type": "Polygon", "coordinates": [[[0,0],[1,1],[1,0],[0,1],[0,0]]]});
        let errs = parse(bowtie).expect_err("bowtie");
        assert_eq!(errs[0].pointer, "/geometry/coordinates/0");
        assert!(errs[0].detail.contains("self-intersection"), "{}", errs[0].detail);
    }

    #[test]
    fn open_ring_is_refused() {
        let open = json!({"type": "Polygon", "coordinates": [[[0,0],[1,0],[1,1],[0,1],[0,0.5]]]});
        let errs = parse(open).expect_err("open");
        assert!(errs[0].detail.contains("not closed"));
    }

    #[test]
    fn out_of_range_coordinate_is_located() {
        let bad = json!({"type": "MultiPolygon", "coordinates": [[[[0,0],[1,0],[1,91],[0,1],[0,0]]]]});
        let errs = parse(bad).expect_err("range");
        assert_eq!(errs[0].pointer, "/geometry/coordinates/0/0/2");
    }

    #[test]
    fn too_few_positions_and_empty_are_refused() {
        let short = json!({"type": "Polygon", "coordinates": [[[0,0],[1,0],[0,0]]]});
        assert!(parse(short).expect_err("short")[0].detail.contains("at least 4"));
        let empty = json!({"type": "MultiPolygon", "coordinates": []});
        assert!(parse(empty).expect_err("empty")[0].detail.contains("empty"));
    }

    #[test]
    fn vertex_limit_is_enforced() {
        let limits = GeometryLimits { max_vertices: 4, ..GeometryLimits::default() };
        let errs = parse_area(&square(), "", CoordSys::Wgs84, limits).expect_err("limit");
        assert!(errs[0].detail.contains("exceed"));
    }

    #[test]
    fn gcj02_input_moves_a_few_hundred_metres() {
        let sys = CoordSys::Gcj02;
        let (lon, lat) = sys.to_wgs84(114.0579, 22.5431);
        assert!((lon - 114.0579).abs() > 1e-3 && (lon - 114.0579).abs() < 1e-2);
        assert!((lat - 22.5431).abs() < 1e-2);
    }
}
