//! `territory demand synthesize`: a demand grid from district population.
//!
//! Each district's 2010 population is scaled to its province's 2020 census total, times
//! the policy's purchase rate (new cars per person per year), and spread evenly over the
//! district's cells (cells whose centre lies in the district). Districts created after
//! 2010 share the figure of the district they were split from, by area. A district too
//! small to hold a cell centre puts its demand in the cell holding an interior point, so
//! no demand is lost: the grid's total equals the sum over districts.

/// Why a grid could not be synthesised: the population data or the settings do not fit
/// the regions (a problem of the data, not of a request).
#[derive(Debug, Clone, thiserror::Error)]
#[error("demand synthesis: {0}")]
pub struct SynthesisError(pub String);

type Result<T> = std::result::Result<T, SynthesisError>;
use crate::domain::regions::{Level, RegionSet};
use geo::InteriorPoint;
use h3o::geom::{ContainmentMode, TilerBuilder};
use h3o::{CellIndex, LatLng, Resolution};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The synthesis settings file (`data/demand/synthesis.json`).
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Where the figures come from.
    pub source: String,
    /// Province adcode → 2020 census population.
    pub census_2020_province_totals: BTreeMap<String, f64>,
    /// New district adcode → the district it was split from.
    pub split_from: BTreeMap<String, String>,
    /// Notes.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// The bundled settings.
pub fn bundled_settings() -> Result<Settings> {
    serde_json::from_str(include_str!("../../../data/demand/synthesis.json")).map_err(|e| SynthesisError(format!("data/demand/synthesis.json: {e}")))
}

/// What a synthesis did, per province and overall.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    /// Districts with demand.
    pub districts: usize,
    /// Cells in the grid.
    pub cells: usize,
    /// Sum of demand, units/year.
    pub total_demand: f64,
    /// Purchase rate used.
    pub purchase_rate: f64,
    /// Per province: 2010 sum, 2020 total, scale factor.
    pub provinces: Vec<ProvinceScale>,
    /// Districts whose figure was shared from the district they were split from.
    pub shared: Vec<SharedFigure>,
    /// Districts too small to hold a cell centre (demand put in one cell).
    pub single_cell_districts: Vec<String>,
}

/// How one province was scaled.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProvinceScale {
    /// Province adcode.
    pub adcode: String,
    /// Sum of its districts' 2010 figures.
    pub population_2010: f64,
    /// 2020 census total.
    pub population_2020: f64,
    /// 2020 / 2010.
    pub factor: f64,
}

/// A district figure shared by area.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SharedFigure {
    /// The district without a figure.
    pub adcode: String,
    /// The district it was split from.
    pub from: String,
    /// Its 2010 population estimate.
    pub population_2010: f64,
}

/// Reads `adcode → pop_2010` of the districts in the population CSV.
fn read_population(csv_text: &str) -> Result<HashMap<String, Option<f64>>> {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let header = reader.headers().map_err(|e| SynthesisError(format!("population csv: {e}")))?.clone();
    let col = |n: &str| header.iter().position(|h| h == n).ok_or_else(|| SynthesisError(format!("population csv has no column {n}")));
    let (a, l, p) = (col("adcode")?, col("level")?, col("pop_2010")?);
    let mut out = HashMap::new();
    for r in reader.records() {
        let r = r.map_err(|e| SynthesisError(format!("population csv: {e}")))?;
        if r.get(l) == Some("district") {
            out.insert(r.get(a).unwrap_or("").to_string(), r.get(p).and_then(|v| v.parse::<f64>().ok()));
        }
    }
    Ok(out)
}

/// One district's cells and demand (population × its province's 2010→2020 factor ×
/// the purchase rate), before it is spread over the cells.
#[derive(Debug, Clone)]
pub struct DistrictDemand {
    /// The district's adcode.
    pub adcode: String,
    /// Its H3 cells (centres inside it; the cell of an interior point if none).
    pub cells: Vec<CellIndex>,
    /// Its demand, units a year.
    pub demand: f64,
}

/// Builds the grid rows (cell, demand) from the regions and the population CSV.
pub fn synthesize(
    regions: &RegionSet,
    population_csv: &str,
    settings: &Settings,
    purchase_rate: f64,
    resolution: Resolution,
    progress: impl Fn(usize, usize) + Sync,
) -> Result<(Vec<(CellIndex, f64)>, Report)> {
    let (districts, mut report) = districts(regions, population_csv, settings, purchase_rate, resolution, &|_| true, progress)?;
    let rows = spread(districts.iter().map(|d| (d, d.demand)));
    report.cells = rows.len();
    Ok((rows, report))
}

/// Spreads each district's units evenly over its cells; the grid rows, by cell.
pub fn spread<'a>(units: impl Iterator<Item = (&'a DistrictDemand, f64)>) -> Vec<(CellIndex, f64)> {
    let mut grid: HashMap<CellIndex, f64> = HashMap::new();
    for (d, units) in units {
        let each = units / d.cells.len() as f64;
        for c in &d.cells {
            *grid.entry(*c).or_default() += each;
        }
    }
    let mut rows: Vec<(CellIndex, f64)> = grid.into_iter().collect();
    rows.sort_by_key(|(c, _)| *c);
    rows
}

/// The cells and demand of every district `keep` accepts, from the regions and the
/// population CSV (the population of every district scales each province to 2020).
pub fn districts(
    regions: &RegionSet,
    population_csv: &str,
    settings: &Settings,
    purchase_rate: f64,
    resolution: Resolution,
    keep: &(dyn Fn(&str) -> bool + Sync),
    progress: impl Fn(usize, usize) + Sync,
) -> Result<(Vec<DistrictDemand>, Report)> {
    let population = read_population(population_csv)?;
    // The units: every district, and every city that is its own district (东莞, 中山, the
    // province-administered cities of Hubei): the population file lists those as
    // districts, the region layers keep them once, as cities.
    let mut districts: Vec<_> =
        regions.all().filter(|r| r.level == Level::District || (r.level == Level::City && population.contains_key(&r.adcode))).cloned().collect();
    districts.sort_by(|a, b| a.adcode.cmp(&b.adcode));
    // 2010 population per district, sharing split districts' figures by area.
    let mut pop: BTreeMap<String, f64> = BTreeMap::new();
    let mut shared = Vec::new();
    let mut missing = Vec::new();
    for d in &districts {
        match population.get(&d.adcode).copied().flatten() {
            Some(p) => {
                pop.insert(d.adcode.clone(), p);
            }
            None if settings.split_from.contains_key(&d.adcode) => {}
            None => missing.push(d.adcode.clone()),
        }
    }
    if !missing.is_empty() {
        return Err(SynthesisError(format!("no 2010 population for districts {missing:?} and no split_from entry for them")));
    }
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (child, parent) in &settings.split_from {
        if regions.get(child).is_some() {
            children.entry(parent.as_str()).or_default().push(child.as_str());
        }
    }
    for (parent, kids) in children {
        let combined = pop.get(parent).copied().ok_or_else(|| SynthesisError(format!("split_from names {parent}, which has no 2010 figure")))?;
        let area = |c: &str| regions.get(c).map_or(0.0, |r| r.shape.area_km2);
        let total_area = area(parent) + kids.iter().map(|k| area(k)).sum::<f64>();
        for kid in kids {
            let share = combined * area(kid) / total_area;
            pop.insert(kid.to_string(), share);
            shared.push(SharedFigure { adcode: kid.to_string(), from: parent.to_string(), population_2010: share });
        }
        pop.insert(parent.to_string(), combined * area(parent) / total_area);
    }
    // Scale per province to the 2020 totals.
    let province_of = |adcode: &str| regions.ancestors(adcode).last().cloned().unwrap_or_default();
    let mut sum_2010: BTreeMap<String, f64> = BTreeMap::new();
    for (adcode, p) in &pop {
        *sum_2010.entry(province_of(adcode)).or_default() += p;
    }
    let mut provinces = Vec::new();
    for (prov, s) in &sum_2010 {
        let total =
            settings.census_2020_province_totals.get(prov).copied().ok_or_else(|| SynthesisError(format!("no 2020 census total for province {prov}")))?;
        provinces.push(ProvinceScale { adcode: prov.clone(), population_2010: *s, population_2020: total, factor: total / s });
    }
    let factor: HashMap<&str, f64> = provinces.iter().map(|p| (p.adcode.as_str(), p.factor)).collect();
    // Spread each district's demand over its cells.
    let done = AtomicUsize::new(0);
    let kept: Vec<_> = districts.iter().filter(|d| keep(&d.adcode)).collect();
    let n = kept.len();
    let per_district: Vec<Result<(String, Vec<CellIndex>, f64)>> = kept
        .par_iter()
        .map(|d| {
            let demand = pop[&d.adcode] * factor[province_of(&d.adcode).as_str()] * purchase_rate;
            let mut tiler = TilerBuilder::new(resolution).containment_mode(ContainmentMode::ContainsCentroid).build();
            for polygon in &d.shape.geometry.0 {
                tiler.add(polygon.clone()).map_err(|e| SynthesisError(format!("district {}: {e}", d.adcode)))?;
            }
            let mut cells: Vec<CellIndex> = tiler.into_coverage().collect();
            if cells.is_empty() {
                let point = d.shape.geometry.interior_point().ok_or_else(|| SynthesisError(format!("district {} has no interior point", d.adcode)))?;
                let ll = LatLng::new(point.y(), point.x()).map_err(|e| SynthesisError(e.to_string()))?;
                cells.push(ll.to_cell(resolution));
            }
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, n);
            Ok((d.adcode.clone(), cells, demand))
        })
        .collect();
    let mut single_cell_districts = Vec::new();
    let mut total_demand = 0.0;
    let mut out = Vec::with_capacity(per_district.len());
    for r in per_district {
        let (adcode, cells, demand) = r?;
        if cells.len() == 1 {
            single_cell_districts.push(adcode.clone());
        }
        total_demand += demand;
        out.push(DistrictDemand { adcode, cells, demand });
    }
    let report = Report { districts: districts.len(), cells: 0, total_demand, purchase_rate, provinces, shared, single_cell_districts };
    Ok((out, report))
}
