//! Demand grid input: CSV `h3,demand` or JSON `{"cells": [{"h3", "demand"}]}`, checked
//! whole: every bad line is reported (invalid cell, mixed resolution, duplicate, negative
//! or non-finite demand) and nothing is accepted unless all lines are good.

use crate::input::InputError;
use h3o::{CellIndex, Resolution};
use serde_json::Value;
use std::collections::HashMap;
use std::str::FromStr;

/// Most problems listed before the rest are summarised.
const MAX_ERRORS: usize = 100;

/// How the rows of an upload are located in errors.
#[derive(Debug, Clone, Copy)]
enum Format {
    /// CSV: `line N, column h3` (the header is line 1).
    Csv,
    /// JSON: `/cells/N/h3`.
    Json,
}

impl Format {
    /// Where row `row` (0-based) keeps its `column`.
    fn at(self, row: usize, column: &str) -> String {
        match self {
            Format::Csv => format!("line {}, column {column}", row + 2),
            Format::Json => format!("/cells/{row}/{column}"),
        }
    }
}

/// The rows read so far and the problems found. About 40 bytes a cell (the row, and the
/// cell's first row to name duplicates): locations are written only for errors.
struct Checker {
    format: Format,
    rows: Vec<(CellIndex, f64)>,
    seen: HashMap<CellIndex, u32>,
    resolution: Option<(Resolution, usize)>,
    errors: Vec<InputError>,
    more: usize,
    max_cells: usize,
    /// Reading stopped at a row past `max_cells`.
    overflowed: bool,
}

impl Checker {
    fn new(format: Format, max_cells: usize) -> Checker {
        Checker { format, rows: Vec::new(), seen: HashMap::new(), resolution: None, errors: Vec::new(), more: 0, max_cells, overflowed: false }
    }

    fn err(&mut self, at: String, detail: String) {
        if self.errors.len() < MAX_ERRORS { self.errors.push(InputError::at(at, detail)) } else { self.more += 1 }
    }

    /// Whether row `row` is past what a grid may have: reading stops there.
    fn full(&mut self, row: usize) -> bool {
        self.overflowed |= row >= self.max_cells;
        self.overflowed
    }

    fn too_many(&self) -> Vec<InputError> {
        vec![InputError::at("", format!("more than {} cells; one upload takes at most {} (--max-import-features)", self.max_cells, self.max_cells))]
    }

    fn row(&mut self, row: usize, cell: &str, demand: Option<f64>, raw_demand: &str) {
        let parsed = CellIndex::from_str(cell.trim());
        let cell = match parsed {
            Ok(c) => Some(c),
            Err(_) => {
                self.err(self.format.at(row, "h3"), format!("`{cell}` is not an H3 cell index"));
                None
            }
        };
        match demand {
            Some(d) if !d.is_finite() => self.err(self.format.at(row, "demand"), format!("demand `{raw_demand}` is not a finite number")),
            Some(d) if d < 0.0 => self.err(self.format.at(row, "demand"), format!("demand {d} is negative")),
            None => self.err(self.format.at(row, "demand"), format!("demand `{raw_demand}` is not a number")),
            Some(d) => {
                let Some(cell) = cell else { return };
                match self.resolution {
                    Some((r, first)) if r != cell.resolution() => {
                        let first = self.format.at(first, "h3");
                        let detail =
                            format!("cell {cell} has resolution {}, but {first} has {}; a grid has one resolution", u8::from(cell.resolution()), u8::from(r));
                        self.err(self.format.at(row, "h3"), detail);
                        return;
                    }
                    Some(_) => {}
                    None => self.resolution = Some((cell.resolution(), row)),
                }
                if let Some(&first) = self.seen.get(&cell) {
                    let detail = format!("cell {cell} is listed twice (first at {})", self.format.at(first as usize, "h3"));
                    self.err(self.format.at(row, "h3"), detail);
                    return;
                }
                self.seen.insert(cell, row as u32);
                self.rows.push((cell, d));
            }
        }
    }

    fn finish(mut self) -> Result<Vec<(CellIndex, f64)>, Vec<InputError>> {
        if self.rows.is_empty() && self.errors.is_empty() {
            self.errors.push(InputError::at("", "the grid has no cell"));
        }
        if self.more > 0 {
            self.errors.push(InputError::at("", format!("... and {} more problem(s)", self.more)));
        }
        if self.errors.is_empty() { Ok(self.rows) } else { Err(self.errors) }
    }
}

/// Why an upload read as a stream was refused.
#[derive(Debug)]
pub enum UploadError {
    /// The stream could not be read as the format at all (malformed JSON, a failing
    /// stream): what and where.
    Unreadable(String),
    /// Readable, but wrong: every problem, located.
    Invalid(Vec<InputError>),
}

/// Reads CSV with a header `h3,demand` (other columns are ignored) as it comes, keeping
/// only the rows; stops at the first row past `max_cells`.
pub fn from_csv(input: impl std::io::Read, max_cells: usize) -> Result<Vec<(CellIndex, f64)>, UploadError> {
    let (mut reader, header) = crate::input::csv_reader(input).map_err(|e| UploadError::Unreadable(e.to_string()))?;
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(h3_col), Some(demand_col)) = (col("h3"), col("demand")) else {
        let detail = format!("the header must name columns `h3` and `demand`; found {:?}", header.iter().collect::<Vec<_>>());
        return Err(UploadError::Invalid(vec![InputError::at("line 1", detail)]));
    };
    let mut checker = Checker::new(Format::Csv, max_cells);
    let mut record = csv::StringRecord::new();
    for row in 0.. {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) if checker.full(row) => return Err(UploadError::Invalid(checker.too_many())),
            Ok(true) => {
                let (cell, raw) = (record.get(h3_col).unwrap_or(""), record.get(demand_col).unwrap_or(""));
                checker.row(row, cell, raw.parse::<f64>().ok(), raw);
            }
            Err(e) => match e.kind() {
                csv::ErrorKind::Io(io) => return Err(UploadError::Unreadable(format!("the body could not be read (line {}): {io}", row + 2))),
                _ => checker.err(format!("line {}", row + 2), e.to_string()),
            },
        }
    }
    checker.finish().map_err(UploadError::Invalid)
}

/// Reads JSON `{"cells": [{"h3": "...", "demand": n}, ...]}` as it comes, one cell at a
/// time (never the whole document as a tree); stops at the first cell past `max_cells`.
pub fn from_json(input: impl std::io::Read, max_cells: usize) -> Result<Vec<(CellIndex, f64)>, UploadError> {
    use serde::de::DeserializeSeed;
    let mut checker = Checker::new(Format::Json, max_cells);
    let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(64 * 1024, input));
    let read = Document { checker: &mut checker }.deserialize(&mut de).and_then(|found| de.end().map(|()| found));
    match read {
        Ok(true) => checker.finish().map_err(UploadError::Invalid),
        Ok(false) => Err(UploadError::Invalid(vec![InputError::at("/cells", "missing: expected `{\"cells\": [{\"h3\": ..., \"demand\": ...}, ...]}`")])),
        Err(_) if checker.overflowed => Err(UploadError::Invalid(checker.too_many())),
        Err(e) if e.is_data() => {
            Err(UploadError::Invalid(vec![InputError::at("/cells", format!("expected `{{\"cells\": [{{\"h3\": ..., \"demand\": ...}}, ...]}}`: {e}"))]))
        }
        Err(e) if e.is_io() => Err(UploadError::Unreadable(format!("the body could not be read: {e}"))),
        Err(e) => Err(UploadError::Unreadable(format!("malformed JSON at line {} column {}: {e}", e.line(), e.column()))),
    }
}

/// The upload's top-level object: `cells` read into the checker, other members skipped.
/// Gives whether `cells` was there.
struct Document<'c> {
    checker: &'c mut Checker,
}

impl<'de> serde::de::DeserializeSeed<'de> for Document<'_> {
    type Value = bool;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Document<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object with `cells`")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "cells" {
                map.next_value_seed(Cells { checker: &mut *self.checker })?;
                found = true;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// The `cells` array, each element handed to the checker as it is read.
struct Cells<'c> {
    checker: &'c mut Checker,
}

impl<'de> serde::de::DeserializeSeed<'de> for Cells<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Cells<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of cells")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut row = 0;
        while let Some(c) = seq.next_element::<Value>()? {
            if self.checker.full(row) {
                return Err(serde::de::Error::custom("too many cells"));
            }
            let cell = c.get("h3").and_then(Value::as_str).unwrap_or("");
            let demand = c.get("demand");
            let raw = demand.map(ToString::to_string).unwrap_or_else(|| "missing".into());
            self.checker.row(row, cell, demand.and_then(Value::as_f64), &raw);
            row += 1;
        }
        Ok(())
    }
}
