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

struct Checker {
    rows: Vec<(CellIndex, f64)>,
    seen: HashMap<CellIndex, String>,
    resolution: Option<(Resolution, String)>,
    errors: Vec<InputError>,
    more: usize,
}

impl Checker {
    fn new() -> Checker {
        Checker { rows: Vec::new(), seen: HashMap::new(), resolution: None, errors: Vec::new(), more: 0 }
    }

    fn err(&mut self, at: String, detail: String) {
        if self.errors.len() < MAX_ERRORS { self.errors.push(InputError::at(at, detail)) } else { self.more += 1 }
    }

    fn row(&mut self, cell_at: String, demand_at: String, cell: &str, demand: Option<f64>, raw_demand: &str) {
        let parsed = CellIndex::from_str(cell.trim());
        let cell = match parsed {
            Ok(c) => Some(c),
            Err(_) => {
                self.err(cell_at.clone(), format!("`{cell}` is not an H3 cell index"));
                None
            }
        };
        match demand {
            Some(d) if !d.is_finite() => self.err(demand_at, format!("demand `{raw_demand}` is not a finite number")),
            Some(d) if d < 0.0 => self.err(demand_at, format!("demand {d} is negative")),
            None => self.err(demand_at, format!("demand `{raw_demand}` is not a number")),
            Some(d) => {
                let Some(cell) = cell else { return };
                match &self.resolution {
                    Some((r, first)) if *r != cell.resolution() => {
                        let detail =
                            format!("cell {cell} has resolution {}, but {first} has {}; a grid has one resolution", u8::from(cell.resolution()), u8::from(*r));
                        self.err(cell_at, detail);
                        return;
                    }
                    Some(_) => {}
                    None => self.resolution = Some((cell.resolution(), cell_at.clone())),
                }
                if let Some(first) = self.seen.get(&cell) {
                    let detail = format!("cell {cell} is listed twice (first at {first})");
                    self.err(cell_at, detail);
                    return;
                }
                self.seen.insert(cell, cell_at);
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

/// Parses CSV with a header `h3,demand` (other columns are ignored).
pub fn from_csv(text: &str) -> Result<Vec<(CellIndex, f64)>, Vec<InputError>> {
    let (mut reader, header) = crate::input::csv_reader(text).map_err(|e| vec![e])?;
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(h3_col), Some(demand_col)) = (col("h3"), col("demand")) else {
        return Err(vec![InputError::at("line 1", format!("the header must name columns `h3` and `demand`; found {:?}", header.iter().collect::<Vec<_>>()))]);
    };
    let mut checker = Checker::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        match record {
            Ok(r) => {
                let (cell, raw) = (r.get(h3_col).unwrap_or(""), r.get(demand_col).unwrap_or(""));
                checker.row(format!("line {line}, column h3"), format!("line {line}, column demand"), cell, raw.parse::<f64>().ok(), raw);
            }
            Err(e) => checker.err(format!("line {line}"), e.to_string()),
        }
    }
    checker.finish()
}

/// Parses JSON `{"cells": [{"h3": "...", "demand": n}, ...]}`.
pub fn from_json(value: &Value) -> Result<Vec<(CellIndex, f64)>, Vec<InputError>> {
    let Some(cells) = value.get("cells").and_then(Value::as_array) else {
        return Err(vec![InputError::at("/cells", "expected `{\"cells\": [{\"h3\": ..., \"demand\": ...}, ...]}`")]);
    };
    let mut checker = Checker::new();
    for (i, c) in cells.iter().enumerate() {
        let cell = c.get("h3").and_then(Value::as_str).unwrap_or("");
        let demand = c.get("demand");
        let raw = demand.map(ToString::to_string).unwrap_or_else(|| "missing".into());
        checker.row(format!("/cells/{i}/h3"), format!("/cells/{i}/demand"), cell, demand.and_then(Value::as_f64), &raw);
    }
    checker.finish()
}
