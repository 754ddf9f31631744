//! Demand from new-car registrations (insurance registration counts, 上险数: the market data
//! the industry itself uses): CSV `adcode,year,units` for districts, cities or provinces,
//! total or for the brand's segment. Each row's units are spread over the districts under
//! its region by their population, then evenly over each district's cells.

use super::synthesize::{DistrictDemand, spread};
use crate::domain::regions::RegionSet;
use crate::input::InputError;
use h3o::CellIndex;
use std::collections::{BTreeMap, BTreeSet};

/// One registration row.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    /// The line it came from (1-based, the header is line 1).
    pub line: usize,
    /// GB/T 2260 code of a district, city or province.
    pub adcode: String,
    /// Calendar year.
    pub year: i32,
    /// New cars registered that year.
    pub units: f64,
}

/// Reads `adcode,year,units` (other columns are ignored): the good rows and every bad
/// line, named (checked against the regions afterwards by [`of_year`]).
pub fn read_csv(text: &str) -> (Vec<Registration>, Vec<InputError>) {
    let (mut reader, header) = match crate::input::csv_reader(text.as_bytes()) {
        Ok(r) => r,
        Err(e) => return (vec![], vec![e]),
    };
    let col = |n: &str| header.iter().position(|h| h == n);
    let (Some(a), Some(y), Some(u)) = (col("adcode"), col("year"), col("units")) else {
        return (vec![], vec![InputError::at("line 1", "the header must name columns `adcode`, `year` and `units`")]);
    };
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (line, record) in crate::input::csv_records(&mut reader) {
        let Ok(record) = record.map_err(|e| errors.push(e)) else { continue };
        let field = |c: usize| record.get(c).unwrap_or("");
        let year = field(y).parse::<i32>().ok().filter(|y| (1900..=2200).contains(y));
        let units = field(u).parse::<f64>().ok().filter(|u| u.is_finite() && *u >= 0.0);
        if year.is_none() {
            errors.push(InputError::at(format!("line {line}, column year"), format!("`{}` is not a year", field(y))));
        }
        if units.is_none() {
            errors.push(InputError::at(format!("line {line}, column units"), format!("`{}` is not a count of cars (a finite number, not negative)", field(u))));
        }
        if let (Some(year), Some(units)) = (year, units) {
            rows.push(Registration { line, adcode: field(a).to_string(), year, units });
        }
    }
    if rows.is_empty() && errors.is_empty() {
        errors.push(InputError::at("line 2", "the file holds no registration"));
    }
    (rows, errors)
}

/// The rows of one year (`year`, or the latest in the file), checked against the regions:
/// every adcode known, none twice, none inside another.
pub fn of_year(rows: &[Registration], year: Option<i32>, regions: &RegionSet) -> Result<(i32, Vec<Registration>), Vec<InputError>> {
    let Some(year) = year.or_else(|| rows.iter().map(|r| r.year).max()) else { return Err(vec![InputError::at("", "no registrations")]) };
    let chosen: Vec<Registration> = rows.iter().filter(|r| r.year == year).cloned().collect();
    let mut errors = Vec::new();
    if chosen.is_empty() {
        errors.push(InputError::at("/year", format!("the file has no registrations for {year}")));
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &chosen {
        let at = format!("line {}, column adcode", r.line);
        if regions.get(&r.adcode).is_none() {
            errors.push(InputError::at(at, format!("unknown adcode `{}`", r.adcode)));
            continue;
        }
        if let Some(first) = seen.insert(&r.adcode, r.line) {
            errors.push(InputError::at(at, format!("`{}` is listed for {year} on line {first} too", r.adcode)));
            continue;
        }
        for (other, line) in &seen {
            if *other != r.adcode && (regions.is_ancestor(other, &r.adcode) || regions.is_ancestor(&r.adcode, other)) {
                errors.push(InputError::at(at.clone(), format!("`{}` and `{other}` (line {line}) overlap; list each area once", r.adcode)));
            }
        }
    }
    if errors.is_empty() { Ok((year, chosen)) } else { Err(errors) }
}

/// The grid rows: each registration's units over the districts under its region, by their
/// population (`districts` from synthesis), then evenly over each district's cells; times
/// `share` (1 when the figures are the brand's own or its segment's share is applied
/// already). A region with no populated district under it spreads over its districts
/// evenly.
pub fn grid(rows: &[Registration], districts: &[DistrictDemand], regions: &RegionSet, share: f64) -> Result<Vec<(CellIndex, f64)>, Vec<InputError>> {
    let mut units_of: Vec<(&DistrictDemand, f64)> = Vec::new();
    let mut errors = Vec::new();
    for r in rows {
        let under: Vec<&DistrictDemand> = districts.iter().filter(|d| d.adcode == r.adcode || regions.is_ancestor(&r.adcode, &d.adcode)).collect();
        if under.is_empty() {
            errors.push(InputError::at(format!("line {}, column adcode", r.line), format!("`{}` has no district with cells under it", r.adcode)));
        }
        let weight: f64 = under.iter().map(|d| d.demand).sum();
        for d in &under {
            let w = if weight > 0.0 { d.demand / weight } else { 1.0 / under.len() as f64 };
            units_of.push((d, r.units * share * w));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let covered: BTreeSet<&str> = units_of.iter().map(|(d, _)| d.adcode.as_str()).collect();
    debug_assert_eq!(covered.len(), units_of.len(), "overlapping regions were refused");
    Ok(spread(units_of.into_iter()))
}
