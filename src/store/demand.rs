//! Demand grid tables: a header row and the cells in packed chunks.

use super::{Store, WriteTx, now};
use crate::domain::demand::DemandGrid;
use crate::error::{Error, Result};
use h3o::{CellIndex, Resolution};
use serde::Serialize;
use sqlx::FromRow;

/// Cells per stored chunk.
const CHUNK: usize = 65_536;

/// The header of a stored grid.
#[derive(Debug, Clone, Serialize, FromRow, utoipa::ToSchema)]
pub struct GridInfo {
    /// Network code.
    pub network: String,
    /// H3 resolution.
    pub resolution: i64,
    /// Cells.
    pub cell_count: i64,
    /// Sum of demand, units/year.
    pub total: f64,
    /// Where it came from (`upload`, `synthesized`, ...).
    pub source: String,
    /// The brand's share of the market it was built with (none: uploaded as it is).
    pub market_share: Option<f64>,
    /// Rises with every replacement.
    pub version: i64,
    /// When it was stored.
    pub updated_at: String,
}

/// Replaces a network's grid with `grid`, in the caller's transaction.
pub async fn replace(tx: &mut WriteTx, network: &str, grid: &DemandGrid, source: &str, market_share: Option<f64>) -> Result<GridInfo> {
    sqlx::query("delete from demand_chunks where network = ?").bind(network).execute(&mut **tx).await?;
    let info: GridInfo = sqlx::query_as(
        "insert into demand_grids (network, resolution, cell_count, total, source, version, updated_at, market_share) values (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7)
         on conflict (network) do update set resolution = ?2, cell_count = ?3, total = ?4, source = ?5, version = version + 1, updated_at = ?6, market_share = ?7
         returning network, resolution, cell_count, total, source, market_share, version, updated_at",
    )
    .bind(network)
    .bind(i64::from(u8::from(grid.resolution)))
    .bind(grid.len() as i64)
    .bind(grid.total)
    .bind(source)
    .bind(now())
    .bind(market_share)
    .fetch_one(&mut **tx)
    .await?;
    for (chunk, (cells, demand)) in grid.cells.chunks(CHUNK).zip(grid.demand.chunks(CHUNK)).enumerate() {
        let cells: Vec<u8> = cells.iter().flat_map(|c| c.to_le_bytes()).collect();
        let demand: Vec<u8> = demand.iter().flat_map(|d| d.to_le_bytes()).collect();
        sqlx::query("insert into demand_chunks (network, chunk, cells, demand) values (?, ?, ?, ?)")
            .bind(network)
            .bind(chunk as i64)
            .bind(cells)
            .bind(demand)
            .execute(&mut **tx)
            .await?;
    }
    Ok(info)
}

fn corrupt(network: &str, what: impl std::fmt::Display) -> Error {
    Error::Internal(format!("stored demand grid of `{network}` is unreadable: {what}"))
}

impl Store {
    /// The header of a network's grid, if it has one.
    pub async fn grid_info(&self, network: &str) -> Result<Option<GridInfo>> {
        Ok(sqlx::query_as("select * from demand_grids where network = ?").bind(network).fetch_optional(&self.pool).await?)
    }

    /// Loads a network's grid (header and cells, read in one transaction).
    pub async fn load_grid(&self, network: &str) -> Result<Option<(GridInfo, DemandGrid)>> {
        let mut tx = self.pool.begin().await?;
        let Some(info) = sqlx::query_as::<_, GridInfo>("select * from demand_grids where network = ?").bind(network).fetch_optional(&mut *tx).await? else {
            return Ok(None);
        };
        let chunks: Vec<(Vec<u8>, Vec<u8>)> =
            sqlx::query_as("select cells, demand from demand_chunks where network = ? order by chunk").bind(network).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        let mut rows = Vec::with_capacity(usize::try_from(info.cell_count).unwrap_or(0));
        for (cells, demand) in chunks {
            if cells.len() != demand.len() || cells.len() % 8 != 0 {
                return Err(corrupt(network, "chunk lengths differ"));
            }
            for (c, d) in cells.chunks_exact(8).zip(demand.chunks_exact(8)) {
                let raw = u64::from_le_bytes(c.try_into().map_err(|_| corrupt(network, "short cell"))?);
                let cell = CellIndex::try_from(raw).map_err(|e| corrupt(network, e))?;
                let demand = f64::from_le_bytes(d.try_into().map_err(|_| corrupt(network, "short demand"))?);
                rows.push((cell, demand));
            }
        }
        if rows.len() as i64 != info.cell_count {
            return Err(corrupt(network, format!("{} cells stored, header says {}", rows.len(), info.cell_count)));
        }
        let resolution = Resolution::try_from(u8::try_from(info.resolution).unwrap_or(0)).map_err(|e| corrupt(network, e))?;
        Ok(Some((info, DemandGrid::new(rows, resolution))))
    }
}
