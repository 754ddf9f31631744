//! A GeoJSON Polygon or MultiPolygon read straight from its text into rings of
//! coordinates, without building a `serde_json::Value` tree (a drawn city is ~2,000
//! positions: one allocation per position, and a second copy, otherwise).
//!
//! This is the fast path for input that is well formed: every position two numbers in
//! range, every ring closed and long enough, no empty array, within the vertex limit, no
//! escape in the names and type. It applies the same checks as the located parser in
//! [`super::validate`] (the same functions), but only to say yes or no; on any doubt it
//! gives up, and the caller runs the located parser, which then names every problem.
//!
//! The text is scanned byte by byte by the JSON grammar (RFC 8259). A number of at most 15
//! digits and 22 decimals, without exponent (as map coordinates are written),
//! is its digits as an integer divided by a power of ten: both exact in a double, so the
//! one division is correctly rounded, the same value as any correct parser gives (Clinger's
//! fast path). Other numbers go to the standard library's parser, which is correctly
//! rounded too. Members other than `type` and `coordinates` are skipped by serde_json.

use super::coords::{CoordSys, GeometryLimits, check_lon_lat, ring_problem};
use geo::{Coord, LineString, MultiPolygon, Polygon};

/// Reads a geometry object's text: the MultiPolygon (converted to WGS84, not yet checked
/// for OGC validity) and whether it was a MultiPolygon; `None` if anything is not plainly
/// right.
pub fn read_area(text: &str, sys: CoordSys, limits: GeometryLimits) -> Option<(MultiPolygon<f64>, bool)> {
    let mut scan = Scan { text, at: 0 };
    let read = scan.area(sys, limits)?;
    scan.peek().is_none().then_some(read)
}

/// A drawn area a front end read straight from a request's text ([`read_area_member`]),
/// with the datum and limits it was read under and its GeoJSON text (a slice of the body,
/// not a copy). Used as is only where the service would read it the same way.
#[derive(Debug, Clone)]
pub struct PreRead {
    /// The MultiPolygon (WGS84, not yet checked for OGC validity).
    pub area: MultiPolygon<f64>,
    /// Whether it was written as a MultiPolygon.
    pub multi: bool,
    /// The datum its coordinates were converted from.
    pub sys: CoordSys,
    /// The limits it was read within.
    pub limits: GeometryLimits,
    /// Its GeoJSON text.
    pub text: bytes::Bytes,
}

/// Reads the member `name` of the JSON object whose text is `text` as a geometry object
/// ([`read_area`]): where its value lies in the text, and what was read from it. `None`
/// if anything is not plainly right, or the object has no such member or more than one
/// (the members are compared as written: a name with an escape is not plainly right).
pub fn read_area_member(text: &str, name: &str, sys: CoordSys, limits: GeometryLimits) -> Option<(std::ops::Range<usize>, MultiPolygon<f64>, bool)> {
    let mut scan = Scan { text, at: 0 };
    scan.eat(b'{')?;
    let mut found = None;
    loop {
        let key = scan.string()?;
        scan.eat(b':')?;
        if key == name {
            if found.is_some() {
                return None;
            }
            scan.peek()?;
            let start = scan.at;
            let (mp, multi) = scan.area(sys, limits)?;
            found = Some((start..scan.at, mp, multi));
        } else {
            scan.skip_value()?;
        }
        if !scan.more_members()? {
            break;
        }
    }
    if scan.peek().is_some() {
        return None;
    }
    found
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

/// Exact powers of ten, for the fast path of [`Scan::number`].
const POWERS_OF_TEN: [f64; 23] =
    [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/// The digits of a number read so far.
#[derive(Default)]
struct Digits {
    /// All of them.
    count: usize,
    /// After the decimal point.
    decimals: usize,
    /// Their value as an integer (wrapped past 19 digits; used only up to 15).
    mantissa: u64,
}

impl Digits {
    /// Takes the digits from `bytes[*i..]`, after the decimal point if `fraction`.
    fn take(&mut self, bytes: &[u8], i: &mut usize, fraction: bool) {
        let start = *i;
        while let Some(d) = bytes.get(*i).map(|b| b.wrapping_sub(b'0')).filter(|d| *d <= 9) {
            self.mantissa = self.mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
            *i += 1;
        }
        self.count += *i - start;
        if fraction {
            self.decimals += *i - start;
        }
    }
}

/// A position in the text being read.
struct Scan<'t> {
    text: &'t str,
    at: usize,
}

impl<'t> Scan<'t> {
    /// A geometry object, read into a MultiPolygon (WGS84, not yet checked for OGC validity),
    /// with whether it was a MultiPolygon.
    fn area(&mut self, sys: CoordSys, limits: GeometryLimits) -> Option<(MultiPolygon<f64>, bool)> {
        let origin = Coord { x: 0.0, y: 0.0 };
        let mut reader = Reader {
            sys,
            limits,
            positions: Vec::new(),
            ring_ends: Vec::new(),
            polygon_ends: Vec::new(),
            depth: None,
            ring_start: 0,
            first_raw: origin,
            last_raw: origin,
        };
        let kind = self.geometry(&mut reader)?;
        let multi = match (kind, reader.depth) {
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

    /// The next byte after any whitespace, not taken.
    fn peek(&mut self) -> Option<u8> {
        let bytes = self.text.as_bytes();
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(self.at) {
            self.at += 1;
        }
        bytes.get(self.at).copied()
    }

    /// Takes `byte`, after any whitespace.
    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// One geometry object, its `type` (what is not plainly right: `None`).
    fn geometry(&mut self, reader: &mut Reader) -> Option<&'t str> {
        self.eat(b'{')?;
        let (mut kind, mut coordinates) = (None, false);
        loop {
            let key = self.string()?;
            self.eat(b':')?;
            match key {
                "type" if kind.is_none() => kind = Some(self.string()?),
                "coordinates" if !coordinates => {
                    self.list(reader, 0)?;
                    coordinates = true;
                }
                "type" | "coordinates" => return None,
                _ => self.skip_value()?,
            }
            if !self.more_members()? {
                break;
            }
        }
        coordinates.then_some(kind?)
    }

    /// After an object's member: takes the `,` before another (`true`) or the `}` that
    /// closes the object (`false`).
    fn more_members(&mut self) -> Option<bool> {
        let more = match self.peek()? {
            b',' => true,
            b'}' => false,
            _ => return None,
        };
        self.at += 1;
        Some(more)
    }

    /// A string without escapes or control characters.
    fn string(&mut self) -> Option<&'t str> {
        self.eat(b'"')?;
        let start = self.at;
        let end = start + self.text.as_bytes()[start..].iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        if self.text.as_bytes()[end] != b'"' {
            return None;
        }
        self.at = end + 1;
        Some(&self.text[start..end])
    }

    /// Any JSON value, skipped.
    fn skip_value(&mut self) -> Option<()> {
        self.peek()?;
        let mut values = serde_json::Deserializer::from_str(&self.text[self.at..]).into_iter::<serde::de::IgnoredAny>();
        values.next()?.ok()?;
        self.at += values.byte_offset();
        Some(())
    }

    /// A number, by the JSON grammar.
    fn number(&mut self) -> Option<f64> {
        self.peek()?;
        let bytes = self.text.as_bytes();
        let mut i = self.at;
        let negative = bytes.get(i) == Some(&b'-');
        i += usize::from(negative);
        let mut digits = Digits::default();
        let int_start = i;
        digits.take(bytes, &mut i, false);
        if digits.count == 0 || (bytes[int_start] == b'0' && i - int_start > 1) {
            return None; // no digit, or a leading zero
        }
        let mut plain = true;
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            let before = digits.count;
            digits.take(bytes, &mut i, true);
            if digits.count == before {
                return None;
            }
        }
        if let Some(b'e' | b'E') = bytes.get(i) {
            plain = false;
            i += 1;
            if let Some(b'+' | b'-') = bytes.get(i) {
                i += 1;
            }
            let exponent_start = i;
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == exponent_start {
                return None;
            }
        }
        self.at = i;
        let value = if plain && digits.count <= 15 && digits.decimals < POWERS_OF_TEN.len() {
            digits.mantissa as f64 / POWERS_OF_TEN[digits.decimals]
        } else {
            self.text[int_start..i].parse::<f64>().ok()?
        };
        Some(if negative { -value } else { value })
    }

    /// An array at `depth` below `coordinates` (0 is `coordinates` itself): a position, or
    /// a list of arrays.
    fn list(&mut self, r: &mut Reader, depth: usize) -> Option<()> {
        self.eat(b'[')?;
        if depth > 3 {
            return None;
        }
        match self.peek()? {
            b'[' => {
                loop {
                    self.list(r, depth + 1)?;
                    match self.peek()? {
                        b',' => self.at += 1,
                        b']' => break,
                        _ => return None,
                    }
                }
                self.at += 1;
                finish_list(r, depth)
            }
            // A position: exactly two numbers (an altitude is left to the located parser,
            // which compares it for the ring's closure).
            _ => {
                let lon = self.number()?;
                self.eat(b',')?;
                let lat = self.number()?;
                self.eat(b']')?;
                if *r.depth.get_or_insert(depth) != depth {
                    return None;
                }
                let at = check_lon_lat(lon, lat, r.sys).ok()?;
                let raw = Coord { x: lon, y: lat };
                if r.positions.len() == r.ring_start {
                    r.first_raw = raw;
                }
                r.last_raw = raw;
                r.positions.push(at);
                (r.positions.len() <= r.limits.max_vertices).then_some(())
            }
        }
    }
}

/// Closes the list at `depth` just read: a ring, a polygon, or the MultiPolygon.
fn finish_list(r: &mut Reader, depth: usize) -> Option<()> {
    let positions_depth = r.depth?;
    if depth + 1 == positions_depth {
        let closed = r.first_raw == r.last_raw;
        if ring_problem(r.positions.len() - r.ring_start, closed).is_some() {
            return None;
        }
        r.ring_ends.push(r.positions.len());
        r.ring_start = r.positions.len();
        if r.ring_ends.len() > r.limits.max_rings {
            return None;
        }
    } else if depth + 2 == positions_depth && positions_depth == 3 {
        r.polygon_ends.push(r.ring_ends.len());
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The number at the start of `text`, as the scanner reads it, and where it stopped.
    fn scanned(text: &str) -> Option<(f64, usize)> {
        let mut scan = Scan { text, at: 0 };
        scan.number().map(|v| (v, scan.at))
    }

    #[test]
    fn numbers_follow_the_json_grammar() {
        for bad in ["", "-", "01", "-01", "1.", ".5", "1e", "1e+", "+1", "NaN", "0x1"] {
            assert!(scanned(bad).is_none_or(|(_, at)| at < bad.len()), "{bad} read whole");
        }
        for (good, want) in [("0", 0.0), ("-0.5", -0.5), ("118.794583", 118.794583), ("1e3", 1000.0), ("2.5E-1", 0.25), ("0.000000000000000000000001", 1e-24)] {
            assert_eq!(scanned(good), Some((want, good.len())), "{good}");
        }
    }

    #[test]
    fn a_member_is_read_where_it_lies_and_only_if_plainly_right() {
        let square = r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}"#;
        let read = |text: &str| read_area_member(text, "geometry", CoordSys::Wgs84, GeometryLimits::default());
        let text = format!(r#"{{"partner_id": 7, "note": "a \"quoted\" note", "geometry" : {square} , "exclusive": true}}"#);
        let (span, mp, multi) = read(&text).expect("read");
        assert_eq!(&text[span], square);
        assert!(!multi && mp.0[0].exterior().0.len() == 5);
        // Not there, there twice, its name escaped, the object not closed or followed by more.
        for bad in [
            r#"{"partner_id": 7}"#.to_string(),
            format!(r#"{{"geometry": {square}, "geometry": {square}}}"#),
            format!(r#"{{"geo\u006detry": {square}}}"#),
            format!(r#"{{"geometry": {square}"#),
            format!(r#"{{"geometry": {square}}} x"#),
            r#"{"geometry": null}"#.to_string(),
        ] {
            assert!(read(&bad).is_none(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn numbers_read_as_serde_json_reads_them(int in 0u64..100_000_000_000, frac in "[0-9]{0,20}", negative in any::<bool>(), exp in proptest::option::of(-30i32..30)) {
            let mut text = format!("{}{int}", if negative { "-" } else { "" });
            if !frac.is_empty() {
                text = format!("{text}.{frac}");
            }
            if let Some(e) = exp {
                text = format!("{text}e{e}");
            }
            let want: f64 = serde_json::from_str(&text).expect("valid JSON number");
            let (got, at) = scanned(&text).expect("read");
            prop_assert_eq!(at, text.len());
            prop_assert!(got == want && got.is_sign_negative() == want.is_sign_negative() || got == 0.0 && want == 0.0, "{} read as {} not {}", text, got, want);
        }
    }
}
