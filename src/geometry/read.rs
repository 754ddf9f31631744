//! A GeoJSON Polygon or MultiPolygon read straight from its text into rings of
//! coordinates, without building a `serde_json::Value` tree (a drawn city is ~2,000
//! positions: one allocation per position, and a second copy, otherwise).
//!
//! This is the fast path for input that is well formed: every position two numbers in
//! range, every ring closed and long enough, no empty array, within the vertex limit. It
//! applies the same checks as the located parser in [`super::validate`] (the same
//! functions), but only to say yes or no; on any doubt it gives up, and the caller runs
//! the located parser, which then names every problem.

use super::validate::{CoordSys, GeometryLimits, check_lon_lat, ring_problem};
use geo::{Coord, LineString, MultiPolygon, Polygon};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// Reads a geometry object's text: the MultiPolygon (converted to WGS84, not yet checked
/// for OGC validity) and whether it was a MultiPolygon; `None` if anything is not plainly
/// right.
pub fn read_area(text: &str, sys: CoordSys, limits: GeometryLimits) -> Option<(MultiPolygon<f64>, bool)> {
    let origin = Coord { x: 0.0, y: 0.0 };
    let mut reader = Reader { sys, limits, positions: Vec::new(), ring_ends: Vec::new(), polygon_ends: Vec::new(), depth: None, ring_start: 0, first_raw: origin, last_raw: origin };
    let kind = {
        let mut de = serde_json::Deserializer::from_str(text);
        let kind = (&mut de).deserialize_map(GeometryVisitor { reader: &mut reader }).ok()?;
        de.end().ok()?;
        kind
    };
    let multi = match (kind.as_str(), reader.depth) {
        ("Polygon", Some(2)) => false,
        ("MultiPolygon", Some(3)) => true,
        _ => return None,
    };
    if !multi {
        reader.polygon_ends.push(reader.ring_ends.len());
    }
    let Reader { positions, ring_ends, polygon_ends, .. } = reader;
    let mut rings = ring_ends.iter().scan(0, |start, &end| {
        let ring = LineString(positions[*start..end].to_vec());
        *start = end;
        Some(ring)
    });
    let mut polygons = Vec::with_capacity(polygon_ends.len());
    let mut taken = 0;
    for &end in &polygon_ends {
        let exterior = rings.next()?;
        let interiors = rings.by_ref().take(end - taken - 1).collect();
        taken = end;
        polygons.push(Polygon::new(exterior, interiors));
    }
    Some((MultiPolygon(polygons), multi))
}

/// What has been read so far: positions (WGS84), flat; where each ring ends (in
/// `positions`) and where each polygon ends (in rings).
struct Reader {
    sys: CoordSys,
    limits: GeometryLimits,
    positions: Vec<Coord<f64>>,
    ring_ends: Vec<usize>,
    polygon_ends: Vec<usize>,
    /// Nesting depth of the positions below `coordinates` (2: Polygon, 3: MultiPolygon),
    /// once the first is seen.
    depth: Option<usize>,
    /// Where the ring being read starts in `positions`.
    ring_start: usize,
    /// Its first and latest positions as written (the closure test compares the input).
    first_raw: Coord<f64>,
    last_raw: Coord<f64>,
}

/// Any failure: the located parser will say what it is.
fn doubt<E: serde::de::Error>() -> E {
    E::custom("not plainly valid")
}

struct GeometryVisitor<'r> {
    reader: &'r mut Reader,
}

impl<'de> Visitor<'de> for GeometryVisitor<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a GeoJSON geometry object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<String, A::Error> {
        let (mut kind, mut coordinates) = (None, false);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "type" if kind.is_none() => kind = Some(map.next_value::<String>()?),
                "coordinates" if !coordinates => {
                    map.next_value_seed(Level { reader: &mut *self.reader, depth: 0 })?;
                    coordinates = true;
                }
                "type" | "coordinates" => return Err(doubt()),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        match (kind, coordinates) {
            (Some(kind), true) => Ok(kind),
            _ => Err(doubt()),
        }
    }
}

/// An array at `depth` below `coordinates` (0 is `coordinates` itself): a list of
/// arrays, or a position.
struct Level<'r> {
    reader: &'r mut Reader,
    depth: usize,
}

/// An element of an array: a number (the array is a position) or an array (read).
enum Element {
    Number(f64),
    Array,
}

impl<'de> DeserializeSeed<'de> for Level<'_> {
    type Value = Element;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Element, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Level<'_> {
    type Value = Element;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array or a number")
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Element, E> {
        Ok(Element::Number(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Element, E> {
        Ok(Element::Number(v as f64))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Element, E> {
        Ok(Element::Number(v as f64))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Element, A::Error> {
        let (r, depth) = (self.reader, self.depth);
        if depth > 3 {
            return Err(doubt());
        }
        match seq.next_element_seed(Level { reader: &mut *r, depth: depth + 1 })? {
            // A position: exactly two numbers (an altitude is left to the located parser,
            // which compares it for the ring's closure).
            Some(Element::Number(lon)) => {
                let Some(Element::Number(lat)) = seq.next_element_seed(Level { reader: &mut *r, depth: depth + 1 })? else { return Err(doubt()) };
                if seq.next_element::<IgnoredAny>()?.is_some() || *r.depth.get_or_insert(depth) != depth {
                    return Err(doubt());
                }
                let at = check_lon_lat(lon, lat, r.sys).map_err(|_| doubt::<A::Error>())?;
                let raw = Coord { x: lon, y: lat };
                if r.positions.len() == r.ring_start {
                    r.first_raw = raw;
                }
                r.last_raw = raw;
                r.positions.push(at);
                if r.positions.len() > r.limits.max_vertices {
                    return Err(doubt());
                }
            }
            Some(Element::Array) => {
                while let Some(next) = seq.next_element_seed(Level { reader: &mut *r, depth: depth + 1 })? {
                    if matches!(next, Element::Number(_)) {
                        return Err(doubt());
                    }
                }
                finish_list(r, depth)?;
            }
            None => return Err(doubt()),
        }
        Ok(Element::Array)
    }
}

/// Closes the list at `depth` just read: a ring, a polygon, or the MultiPolygon.
fn finish_list<E: serde::de::Error>(r: &mut Reader, depth: usize) -> Result<(), E> {
    let Some(positions_depth) = r.depth else { return Err(doubt()) };
    if depth + 1 == positions_depth {
        let closed = r.first_raw == r.last_raw;
        if ring_problem(r.positions.len() - r.ring_start, closed).is_some() {
            return Err(doubt());
        }
        r.ring_ends.push(r.positions.len());
        r.ring_start = r.positions.len();
    } else if depth + 2 == positions_depth && positions_depth == 3 {
        r.polygon_ends.push(r.ring_ends.len());
    }
    Ok(())
}
