//! Observed sales of a network's own outlets, per year and (where known) per buyer's
//! district.

use super::{Store, WriteTx};
use crate::error::Result;
use sqlx::FromRow;

/// One observed figure.
#[derive(Debug, Clone, PartialEq, FromRow, serde::Serialize)]
pub struct SalesRow {
    /// The outlet.
    pub outlet_id: i64,
    /// Calendar year.
    pub year: i64,
    /// The buyers' district (GB/T 2260), `""` for the outlet's total.
    pub district: String,
    /// Cars sold.
    pub units: f64,
    /// Where the figure came from (`upload`, `synthetic`, ...).
    pub source: String,
}

/// Replaces the network's sales of every year among `rows` with `rows`, in the caller's
/// transaction.
pub async fn replace_years(tx: &mut WriteTx, network: &str, rows: &[SalesRow]) -> Result<()> {
    let mut years: Vec<i64> = rows.iter().map(|r| r.year).collect();
    years.sort_unstable();
    years.dedup();
    for year in years {
        sqlx::query("delete from sales where network = ? and year = ?").bind(network).bind(year).execute(&mut **tx).await?;
    }
    for r in rows {
        sqlx::query("insert into sales (network, outlet_id, year, district, units, source) values (?, ?, ?, ?, ?, ?)")
            .bind(network)
            .bind(r.outlet_id)
            .bind(r.year)
            .bind(&r.district)
            .bind(r.units)
            .bind(&r.source)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

impl Store {
    /// The network's sales of `year` (every year if `None`), by outlet and district.
    pub async fn sales(&self, network: &str, year: Option<i64>) -> Result<Vec<SalesRow>> {
        Ok(sqlx::query_as(
            "select outlet_id, year, district, units, source from sales where network = ? and (? is null or year = ?) order by year, outlet_id, district",
        )
        .bind(network)
        .bind(year)
        .bind(year)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The years the network has sales of, latest last.
    pub async fn sales_years(&self, network: &str) -> Result<Vec<i64>> {
        Ok(sqlx::query_scalar("select distinct year from sales where network = ? order by year").bind(network).fetch_all(&self.pool).await?)
    }
}
