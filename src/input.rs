//! Input as it arrives, before any rule looks at it: located input errors, typed reading of
//! JSON values with a JSON pointer to what is wrong, and the small value formats every
//! front end shares (a bounding box, an ISO date). The bottom layer: it imports nothing of
//! the crate.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt;

/// One problem in the input: where (an RFC 6901 JSON pointer into the request body, or a
/// `line N` / `feature N` location for files) and what.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct InputError {
    /// JSON pointer into the request body, e.g. `/geometry/coordinates/0/0/3`.
    pub pointer: String,
    /// What is wrong there.
    pub detail: String,
}

impl InputError {
    /// An error at `pointer`.
    pub fn at(pointer: impl Into<String>, detail: impl Into<String>) -> InputError {
        InputError { pointer: pointer.into(), detail: detail.into() }
    }

    /// The same error under `base` (`/features/3` + `/partner_id`).
    pub fn under(self, base: &str) -> InputError {
        InputError { pointer: format!("{base}{}", self.pointer), detail: self.detail }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() { write!(f, "{}", self.detail) } else { write!(f, "{}: {}", self.pointer, self.detail) }
    }
}

impl std::error::Error for InputError {}

/// A value that cannot be read at all (a malformed query parameter): 400, where a
/// readable but invalid body is 422.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct Unreadable(pub String);

/// Reads a JSON value as `T`, locating a wrong shape with a JSON pointer.
pub fn deserialize_located<T: DeserializeOwned>(raw: &Value) -> Result<T, InputError> {
    serde_path_to_error::deserialize(raw).map_err(located)
}

/// Reads the JSON object in `json`, handing each element of its array members named in
/// `arrays` to `each` (with the member's name and the element's index) as it is read, so
/// that a long array is never held whole; returns the object's other members, with each
/// array member that was there as an empty array.
pub fn read_object_streaming(
    json: &[u8],
    arrays: &[&str],
    each: &mut dyn FnMut(&str, usize, Value),
) -> Result<serde_json::Map<String, Value>, serde_json::Error> {
    use serde::Deserializer as _;
    let mut reader = serde_json::Deserializer::from_slice(json);
    let others = (&mut reader).deserialize_map(streaming::Object { arrays, each })?;
    reader.end()?;
    Ok(others)
}

/// The serde visitors of [`read_object_streaming`].
mod streaming {
    use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Value};
    use std::fmt;

    /// An object whose named array members go to `each`.
    pub(super) struct Object<'a> {
        pub(super) arrays: &'a [&'a str],
        pub(super) each: &'a mut dyn FnMut(&str, usize, Value),
    }

    impl<'de> Visitor<'de> for Object<'_> {
        type Value = Map<String, Value>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut others = Map::new();
            while let Some(key) = map.next_key::<String>()? {
                match self.arrays.iter().find(|name| **name == key) {
                    Some(name) => {
                        map.next_value_seed(Elements { name, each: &mut *self.each })?;
                        others.insert(key, Value::Array(Vec::new()));
                    }
                    None => {
                        others.insert(key, map.next_value()?);
                    }
                }
            }
            Ok(others)
        }
    }

    /// The elements of one array member, each handed on as it is read.
    struct Elements<'a> {
        name: &'a str,
        each: &'a mut dyn FnMut(&str, usize, Value),
    }

    impl<'de> DeserializeSeed<'de> for Elements<'_> {
        type Value = ();

        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
            deserializer.deserialize_seq(self)
        }
    }

    impl<'de> Visitor<'de> for Elements<'_> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "an array as `{}`", self.name)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut index = 0;
            while let Some(element) = seq.next_element::<Value>()? {
                (self.each)(self.name, index, element);
                index += 1;
            }
            Ok(())
        }
    }
}

/// Why JSON text could not be read as a type.
#[derive(Debug)]
pub enum JsonError {
    /// Not JSON (or trailing text after it).
    Malformed(serde_json::Error),
    /// JSON of the wrong shape, located.
    Invalid(InputError),
}

/// JSON text read straight into `T`, without a tree of values; a wrong shape is located
/// with a JSON pointer, unless the text is malformed further on (then that is the error).
pub fn from_json_located<T: DeserializeOwned>(json: &[u8]) -> Result<T, JsonError> {
    let mut reader = serde_json::Deserializer::from_slice(json);
    match serde_path_to_error::deserialize(&mut reader) {
        Ok(value) => reader.end().map(|()| value).map_err(JsonError::Malformed),
        Err(e) if !e.inner().is_data() => Err(JsonError::Malformed(e.into_inner())),
        Err(e) => match serde_json::from_slice::<serde::de::IgnoredAny>(json) {
            Err(syntax) => Err(JsonError::Malformed(syntax)),
            Ok(_) => Err(JsonError::Invalid(located(e))),
        },
    }
}

/// A wrong shape found by serde, located with a JSON pointer.
pub fn located(e: serde_path_to_error::Error<serde_json::Error>) -> InputError {
    use serde_path_to_error::Segment;
    let pointer: String = e
        .path()
        .iter()
        .filter_map(|s| match s {
            Segment::Seq { index } => Some(format!("/{index}")),
            Segment::Map { key } => Some(format!("/{}", key.replace('~', "~0").replace('/', "~1"))),
            Segment::Enum { variant } => Some(format!("/{variant}")),
            Segment::Unknown => None,
        })
        .collect();
    InputError::at(pointer, e.inner().to_string())
}

/// Applies a JSON Merge Patch (RFC 7396) to `target`: members of `patch` replace those of
/// `target`, objects merge member by member, and `null` removes a member.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in patch {
            if value.is_null() {
                map.remove(key);
            } else {
                merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// A box in WGS84 degrees: `[min_lon, min_lat, max_lon, max_lat]`.
pub type Bbox = [f64; 4];

/// Parses `minx,miny,maxx,maxy` in WGS84 degrees (or the 6 numbers of a box with heights,
/// whose heights are ignored, as OGC API – Features allows): lower-left corner first, every
/// number finite and within the globe.
pub fn parse_bbox(s: &str) -> Result<Bbox, Unreadable> {
    let numbers: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| Unreadable(format!("bbox `{s}`: expected four numbers minx,miny,maxx,maxy")))?;
    let [x0, y0, x1, y1] = match numbers.as_slice() {
        [a, b, c, d] => [*a, *b, *c, *d],
        [a, b, _, d, e, _] => [*a, *b, *d, *e],
        _ => return Err(Unreadable(format!("bbox `{s}`: expected 4 (or 6) numbers, found {}", numbers.len()))),
    };
    let lon = -180.0..=180.0;
    let lat = -90.0..=90.0;
    if !(lon.contains(&x0) && lon.contains(&x1) && lat.contains(&y0) && lat.contains(&y1)) || x0 > x1 || y0 > y1 {
        return Err(Unreadable(format!("bbox `{s}`: expected minx,miny,maxx,maxy in WGS84 degrees with min <= max")));
    }
    Ok([x0, y0, x1, y1])
}

/// The years of the dates the product takes (validity windows, opening and closing days,
/// `active_on`): stored dates compare as text, which holds only for four-digit years.
pub const YEARS: std::ops::RangeInclusive<i32> = 1900..=2199;

/// Parses an ISO 8601 calendar date (`2025-03-15`, four-digit year within [`YEARS`])
/// located at `pointer`.
pub fn parse_date(s: &str, pointer: &str) -> Result<chrono::NaiveDate, InputError> {
    use chrono::Datelike;
    let bad = || InputError::at(pointer, format!("`{s}` is not a date from 1900-01-01 to 2199-12-31 (ISO 8601, YYYY-MM-DD)"));
    if s.len() != 10 {
        return Err(bad());
    }
    let date = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad())?;
    if YEARS.contains(&date.year()) { Ok(date) } else { Err(bad()) }
}

/// Longest code a client may give (a network code, an external id, a candidate id, a
/// district), in characters.
pub const MAX_CODE_CHARS: usize = 64;
/// Longest name (of a network, a partner, an outlet, a brand, a token), in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest free text (a note, a reason), in characters.
pub const MAX_NOTE_CHARS: usize = 2000;

/// An error at `pointer` if `value` is longer than `max` characters.
pub fn too_long(pointer: &str, value: &str, max: usize) -> Option<InputError> {
    let n = value.chars().count();
    (n > max).then(|| InputError::at(pointer, format!("{n} characters; at most {max}")))
}

/// A CSV reader of `input` (text, or a stream; fields trimmed) and its header, or the
/// error at line 1.
pub fn csv_reader<R: std::io::Read>(input: R) -> Result<(csv::Reader<R>, csv::StringRecord), InputError> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(input);
    let header = reader.headers().map_err(|e| InputError::at("line 1", e.to_string()))?.clone();
    Ok((reader, header))
}

/// The records of a CSV reader, each with its line (the header is line 1); a record that
/// cannot be read is an error at its line.
pub fn csv_records<R: std::io::Read>(reader: &mut csv::Reader<R>) -> impl Iterator<Item = (usize, Result<csv::StringRecord, InputError>)> + '_ {
    reader.records().enumerate().map(|(i, record)| (i + 2, record.map_err(|e| InputError::at(format!("line {}", i + 2), e.to_string()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bbox_is_four_or_six_finite_numbers_in_order_and_on_the_globe() {
        assert_eq!(parse_bbox("1,2,3,4"), Ok([1.0, 2.0, 3.0, 4.0]));
        assert_eq!(parse_bbox("1, 2, 0, 3, 4, 9"), Ok([1.0, 2.0, 3.0, 4.0]));
        for bad in ["1,2,3", "a,2,3,4", "3,2,1,4", "1,4,3,2", "0,0,181,1", "0,-91,1,1", "NaN,0,1,1", "0,0,inf,1"] {
            assert!(parse_bbox(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn wrong_shapes_are_located_by_pointer() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            k: u32,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            list: Vec<Inner>,
        }
        let e = deserialize_located::<Outer>(&serde_json::json!({"list": [{"k": 1}, {"k": "x"}]})).expect_err("wrong shape");
        assert_eq!(e.pointer, "/list/1/k");
    }
}
