//! Regions table.

use super::{Store, WriteTx};
use crate::domain::regions::{Level, Region};
use crate::error::Result;
use crate::geometry::parse_stored;
use sqlx::{Row, SqliteConnection};
use std::collections::HashSet;

/// Every stored region, with its boundary, read on this connection.
pub async fn load(conn: &mut SqliteConnection) -> Result<Vec<Region>> {
    let rows = sqlx::query("select adcode, name, level, parent_adcode, geometry from regions").fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|row| {
            let adcode: String = row.get("adcode");
            let text: String = row.get("geometry");
            let value: serde_json::Value = serde_json::from_str(&text).map_err(crate::Error::data(format!("stored region {adcode}")))?;
            let geometry = parse_stored(&value).map_err(|e| crate::Error::Internal(format!("stored region {adcode}: {e:?}")))?;
            let level = Level::parse(row.get("level")).unwrap_or(Level::District);
            Ok(Region::new(adcode, row.get("name"), level, row.get("parent_adcode"), geometry))
        })
        .collect()
}

impl Store {
    /// Adcodes of every stored region.
    pub async fn region_codes(&self) -> Result<HashSet<String>> {
        let codes: Vec<String> = sqlx::query_scalar("select adcode from regions").fetch_all(&self.pool).await?;
        Ok(codes.into_iter().collect())
    }

    /// Number of stored regions.
    pub async fn region_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("select count(*) from regions").fetch_one(&self.pool).await?)
    }
}

/// Inserts or replaces regions (parents before children, as given) and bumps `regions_seq`.
pub async fn upsert(tx: &mut WriteTx, regions: &[Region]) -> Result<()> {
    sqlx::query("update state set value = value + 1 where key = 'regions_seq'").execute(&mut **tx).await?;
    for r in regions {
        let (min, max) = (r.shape.bbox.min(), r.shape.bbox.max());
        sqlx::query(
            "insert into regions (adcode, name, level, parent_adcode, area_km2, min_lon, min_lat, max_lon, max_lat, geometry)
             values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             on conflict (adcode) do update set name = excluded.name, level = excluded.level,
               parent_adcode = excluded.parent_adcode, area_km2 = excluded.area_km2,
               min_lon = excluded.min_lon, min_lat = excluded.min_lat, max_lon = excluded.max_lon,
               max_lat = excluded.max_lat, geometry = excluded.geometry",
        )
        .bind(&r.adcode)
        .bind(&r.name)
        .bind(r.level.as_str())
        .bind(&r.parent_adcode)
        .bind(r.shape.area_km2)
        .bind(min.x)
        .bind(min.y)
        .bind(max.x)
        .bind(max.y)
        .bind(r.geojson.get())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
