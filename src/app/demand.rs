//! Demand grids: uploaded (CSV or JSON) or synthesised from district population, replaced
//! whole in one transaction, and cached by their stored version.

use super::catalog::Catalog;
use super::{blocking, read, write};
use crate::domain::access::{Caller, Role};
use crate::domain::demand::synthesize::{self, Report as SynthesisReport};
use crate::domain::demand::{DemandGrid, input, registrations};
use crate::error::{Error, Result};
use crate::input::Bbox;
use crate::store::Store;
use crate::store::demand as demand_rows;
use h3o::{CellIndex, Resolution};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub use crate::store::demand::GridInfo;

/// Bundled 2010 district population (data/population_2010.csv).
pub const POPULATION_2010: &str = include_str!("../../data/population_2010.csv");

/// Most cells a listing returns by default, and at most.
pub const CELLS_DEFAULT: usize = 10_000;
/// See [`CELLS_DEFAULT`].
pub const CELLS_MAX: usize = 100_000;

/// A demand upload as it arrived.
pub enum Upload {
    /// CSV `h3,demand`, read as it comes.
    Csv(Box<dyn std::io::Read + Send>),
    /// JSON `{"cells": [{"h3", "demand"}]}`, read as it comes.
    Json(Box<dyn std::io::Read + Send>),
}

/// Cells of a grid within a box, as GeoJSON hexagons.
#[derive(Debug)]
pub struct Cells {
    /// The grid's header.
    pub info: GridInfo,
    /// The cells returned (at most the limit asked for, from the offset asked for).
    pub features: Vec<Value>,
    /// The cells within the box.
    pub matched: usize,
}

/// Demand grids.
#[derive(Debug)]
pub struct Demand {
    store: Store,
    catalog: Arc<Catalog>,
    /// Grids by network, with the stored version they reflect.
    grids: RwLock<HashMap<String, (i64, Arc<DemandGrid>)>>,
}

impl Demand {
    pub(super) fn new(store: Store, catalog: Arc<Catalog>) -> Demand {
        Demand { store, catalog, grids: RwLock::new(HashMap::new()) }
    }

    /// The stored grid's header, if the network has one.
    pub async fn info(&self, network: &str) -> Result<Option<GridInfo>> {
        self.store.grid_info(network).await
    }

    /// A network's demand grid (cached; reloaded when another process replaced it), or
    /// 409 if it has none (no access check: for the services' own use).
    pub async fn grid(&self, network: &str) -> Result<(GridInfo, Arc<DemandGrid>)> {
        self.catalog.network(network).await?;
        let Some(info) = self.store.grid_info(network).await? else {
            return Err(Error::NotReady(format!(
                "network `{network}` has no demand grid yet: PUT /networks/{network}/demand or run `territory demand synthesize --network {network}`"
            )));
        };
        if let Some((version, grid)) = read(&self.grids).get(network)
            && *version == info.version
        {
            return Ok((info, grid.clone()));
        }
        let (info, grid) = self.store.load_grid(network).await?.ok_or_else(|| Error::Internal("the grid vanished while loading".into()))?;
        let grid = Arc::new(grid);
        write(&self.grids).insert(network.to_string(), (info.version, grid.clone()));
        Ok((info, grid))
    }

    /// Replaces a network's grid with an upload, whole, or refuses it naming every bad line
    /// (at most `max_cells` cells). Only a governing caller.
    pub async fn upload(&self, caller: &Caller, network: &str, upload: Upload, max_cells: usize, source: &str) -> Result<GridInfo> {
        caller.governs(network)?;
        self.catalog.network(network).await?;
        let rows = super::reading(move || match upload {
            Upload::Csv(input) => input::from_csv(input, max_cells),
            Upload::Json(input) => input::from_json(input, max_cells),
        })
        .await?
        .map_err(|e| match e {
            input::UploadError::Unreadable(detail) => Error::BadRequest(detail),
            input::UploadError::Invalid(errors) => Error::Invalid(errors),
        })?;
        self.replace(network, rows, source, None).await
    }

    /// Replaces a network's demand grid, whole, in one transaction; `market_share` is the
    /// brand's share it was built with, if it was built.
    async fn replace(&self, network: &str, rows: Vec<(CellIndex, f64)>, source: &str, market_share: Option<f64>) -> Result<GridInfo> {
        let (_, policy) = self.catalog.network(network).await?;
        let fallback = Resolution::try_from(policy.scoring.resolution).map_err(Error::data("the policy's H3 resolution"))?;
        // Each demand is finite (checked by the readers); their sum must be too, or every
        // share the model computes from it would be NaN.
        if !rows.iter().map(|(_, d)| d).sum::<f64>().is_finite() {
            return Err(Error::invalid("", "the demands add up to more than a 64-bit float holds; give units per year"));
        }
        let grid = Arc::new(blocking(move || DemandGrid::new(rows, fallback)).await?);
        let mut tx = self.store.begin_write().await?;
        let info = demand_rows::replace(&mut tx, network, &grid, source, market_share).await?;
        tx.commit().await?;
        write(&self.grids).insert(network.to_string(), (info.version, grid));
        Ok(info)
    }

    /// Gives a network the market of another's synthesised grid at its own brand's share
    /// (the sample networks share one synthesis).
    pub async fn copy(&self, caller: &Caller, from: &str, to: &str) -> Result<GridInfo> {
        caller.governs(to)?;
        let (info, grid) = self.grid(from).await?;
        let (_, policy) = self.catalog.network(to).await?;
        let share = policy.scoring.market_share;
        let scale = share / info.market_share.ok_or_else(|| Error::NotReady(format!("the grid of `{from}` was uploaded, not built with a market share")))?;
        let rows = grid.cells.iter().zip(&grid.demand).filter_map(|(c, d)| CellIndex::try_from(*c).ok().map(|c| (c, *d * scale))).collect();
        self.replace(to, rows, &with_share(&info.source, share), Some(share)).await
    }

    /// Synthesises a network's grid from district population (`domain::demand::synthesize`)
    /// and stores it. Only a governing caller.
    pub async fn synthesize(
        &self,
        caller: &Caller,
        network: &str,
        population_csv: &str,
        progress: impl Fn(usize, usize) + Sync + Send + 'static,
    ) -> Result<(GridInfo, SynthesisReport)> {
        caller.governs(network)?;
        let (_, policy) = self.catalog.network(network).await?;
        let settings = synthesize::bundled_settings()?;
        let resolution = Resolution::try_from(policy.scoring.resolution).map_err(Error::data("the policy's H3 resolution"))?;
        self.catalog.refresh_regions().await?;
        let regions = self.catalog.regions();
        let (rate, share) = (policy.scoring.purchase_rate, policy.scoring.market_share);
        let csv = population_csv.to_string();
        let (rows, report) = blocking(move || synthesize::synthesize(&regions, &csv, &settings, rate * share, resolution, progress)).await??;
        let source = format!("synthesized from 2010 district population scaled to the 2020 census × {rate} cars a person");
        let info = self.replace(network, rows, &with_share(&source, share), Some(share)).await?;
        Ok((info, report))
    }

    /// Replaces a network's grid with new-car registrations (`adcode,year,units` CSV) of
    /// `year` (default: the latest in the file), spread over each region's districts by
    /// population, times `share` (default 1: the figures are the brand's own, or its
    /// segment's share applied already). Every bad line is named; nothing is replaced then.
    pub async fn registrations(&self, caller: &Caller, network: &str, csv: &str, year: Option<i32>, share: Option<f64>) -> Result<(GridInfo, i32)> {
        caller.governs(network)?;
        let (_, policy) = self.catalog.network(network).await?;
        let share = share.unwrap_or(1.0);
        if !(share > 0.0 && share <= 1.0) {
            return Err(Error::invalid("/share", format!("{share} is not a share in (0, 1]")));
        }
        let (rows, mut errors) = registrations::read_csv(csv);
        self.catalog.refresh_regions().await?;
        let regions = self.catalog.regions();
        let chosen = registrations::of_year(&rows, year, &regions).map_err(|e| errors.extend(e)).ok();
        let (Some((year, rows)), true) = (chosen, errors.is_empty()) else { return Err(Error::Invalid(errors)) };
        let settings = synthesize::bundled_settings()?;
        let resolution = Resolution::try_from(policy.scoring.resolution).map_err(Error::data("the policy's H3 resolution"))?;
        let rate = policy.scoring.purchase_rate;
        let cells = blocking(move || -> Result<Vec<(CellIndex, f64)>> {
            let under = |adcode: &str| rows.iter().any(|r| r.adcode == adcode || regions.is_ancestor(&r.adcode, adcode));
            let (districts, _) = synthesize::districts(&regions, POPULATION_2010, &settings, rate, resolution, &under, |_, _| {})?;
            Ok(registrations::grid(&rows, &districts, &regions, share)?)
        })
        .await??;
        let source = format!("new-car registrations of {year}, spread by 2010 district population");
        Ok((self.replace(network, cells, &with_share(&source, share), Some(share)).await?, year))
    }

    /// The cells whose centre lies in `bbox` (or all), as hexagons: at most `limit` of them,
    /// from the `offset`-th on (in the grid's order, which a page's next page follows).
    /// Partner tokens may read demand (it names no partner).
    pub async fn cells(&self, caller: &Caller, network: &str, bbox: Option<Bbox>, limit: Option<usize>, offset: usize) -> Result<Cells> {
        caller.enter(network, Role::Viewer)?;
        let limit = limit.unwrap_or(CELLS_DEFAULT);
        if limit == 0 || limit > CELLS_MAX {
            return Err(Error::BadRequest(format!("limit {limit}: use 1 to {CELLS_MAX}")));
        }
        let (info, grid) = self.grid(network).await?;
        let (features, matched) = blocking(move || {
            let inside = |i: usize| {
                bbox.is_none_or(|[x0, y0, x1, y1]| {
                    let (lon, lat) = crate::domain::demand::lon_lat(&grid.centres[i]);
                    lon >= x0 && lon <= x1 && lat >= y0 && lat <= y1
                })
            };
            let positions: Vec<usize> = match bbox {
                Some(b) => grid.ranges_in_box(b).into_iter().flatten().filter(|&i| inside(i)).collect(),
                None => (0..grid.len()).collect(),
            };
            let features: Vec<Value> = positions.iter().skip(offset).take(limit).filter_map(|&i| hexagon(grid.cells[i], grid.demand[i])).collect();
            (features, positions.len())
        })
        .await?;
        Ok(Cells { info, features, matched })
    }
}

fn hexagon(raw: u64, demand: f64) -> Option<Value> {
    let cell = CellIndex::try_from(raw).ok()?;
    let mut ring: Vec<[f64; 2]> = cell.boundary().iter().map(|ll| [ll.lng(), ll.lat()]).collect();
    ring.push(*ring.first()?);
    Some(
        json!({"type": "Feature", "id": cell.to_string(), "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": {"h3": cell.to_string(), "demand": demand}}),
    )
}

/// A grid's source text with the brand's share it was built with.
fn with_share(source: &str, share: f64) -> String {
    if share < 1.0 { format!("{source} × market share {}", share) } else { source.to_string() }
}
