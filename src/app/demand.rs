//! Demand grids: uploaded (CSV or JSON) or synthesised from district population, replaced
//! whole in one transaction, and cached by their stored version.

use super::catalog::Catalog;
use super::{blocking, read, write};
use crate::domain::access::{Caller, Role};
use crate::domain::demand::synthesize::{self, Report as SynthesisReport};
use crate::domain::demand::{DemandGrid, input};
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
#[derive(Debug)]
pub enum Upload<'a> {
    /// CSV `h3,demand`.
    Csv(&'a str),
    /// JSON `{"cells": [{"h3", "demand"}]}`.
    Json(&'a Value),
}

/// Cells of a grid within a box, as GeoJSON hexagons.
#[derive(Debug)]
pub struct Cells {
    /// The grid's header.
    pub info: GridInfo,
    /// The cells returned (at most the limit asked for).
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
    pub async fn upload(&self, caller: &Caller, network: &str, upload: Upload<'_>, max_cells: usize, source: &str) -> Result<GridInfo> {
        caller.governs(network)?;
        self.catalog.network(network).await?;
        let rows = match upload {
            Upload::Csv(text) => {
                let text = text.to_string();
                blocking(move || input::from_csv(&text)).await?
            }
            Upload::Json(value) => input::from_json(value),
        }?;
        if rows.len() > max_cells {
            return Err(Error::invalid("", format!("{} cells; one upload takes at most {max_cells} (--max-import-features)", rows.len())));
        }
        self.replace(network, rows, source).await
    }

    /// Replaces a network's demand grid, whole, in one transaction.
    async fn replace(&self, network: &str, rows: Vec<(CellIndex, f64)>, source: &str) -> Result<GridInfo> {
        let (_, policy) = self.catalog.network(network).await?;
        let fallback = Resolution::try_from(policy.scoring.resolution).map_err(Error::data("the policy's H3 resolution"))?;
        // Each demand is finite (checked by the readers); their sum must be too, or every
        // share the model computes from it would be NaN.
        if !rows.iter().map(|(_, d)| d).sum::<f64>().is_finite() {
            return Err(Error::invalid("", "the demands add up to more than a 64-bit float holds; give units per year"));
        }
        let grid = Arc::new(blocking(move || DemandGrid::new(rows, fallback)).await?);
        let mut tx = self.store.begin_write().await?;
        let info = demand_rows::replace(&mut tx, network, &grid, source).await?;
        tx.commit().await?;
        write(&self.grids).insert(network.to_string(), (info.version, grid));
        Ok(info)
    }

    /// Gives a network a copy of another's grid (the sample networks share one).
    pub async fn copy(&self, caller: &Caller, from: &str, to: &str) -> Result<GridInfo> {
        caller.governs(to)?;
        let (info, grid) = self.grid(from).await?;
        let rows = grid.cells.iter().zip(&grid.demand).filter_map(|(c, d)| CellIndex::try_from(*c).ok().map(|c| (c, *d))).collect();
        self.replace(to, rows, &info.source).await
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
        let rate = policy.scoring.purchase_rate;
        let csv = population_csv.to_string();
        let (rows, report) = blocking(move || synthesize::synthesize(&regions, &csv, &settings, rate, resolution, progress)).await??;
        let info = self.replace(network, rows, "synthesized from 2010 district population scaled to the 2020 census").await?;
        Ok((info, report))
    }

    /// The cells whose centre lies in `bbox` (or all), as hexagons, at most `limit`.
    /// Partner tokens may read demand (it names no partner).
    pub async fn cells(&self, caller: &Caller, network: &str, bbox: Option<Bbox>, limit: Option<usize>) -> Result<Cells> {
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
            let features: Vec<Value> = positions.iter().take(limit).filter_map(|&i| hexagon(grid.cells[i], grid.demand[i])).collect();
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
