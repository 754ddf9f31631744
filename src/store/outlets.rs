//! Outlets table.

use super::{Store, WriteTx, now};
use crate::domain::outlets::{Outlet, OutletStatus};
use crate::domain::standard::Facility;
use crate::error::{Error, Result};
use chrono::NaiveDate;
use geo::Point;
use sqlx::FromRow;

#[derive(Debug, FromRow)]
struct OutletRow {
    id: i64,
    network: String,
    partner_id: Option<i64>,
    competitor: bool,
    brand: Option<String>,
    name: String,
    lon: f64,
    lat: f64,
    format: Option<String>,
    role: Option<String>,
    site_type: String,
    status: String,
    proposed_on: Option<String>,
    approved_on: Option<String>,
    construction_started_on: Option<String>,
    planned_open_on: Option<String>,
    opened_on: Option<String>,
    closed_on: Option<String>,
    close_reason: Option<String>,
    land_m2: Option<f64>,
    building_m2: Option<f64>,
    showroom_m2: Option<f64>,
    frontage_m: Option<f64>,
    depth_m: Option<f64>,
    height_m: Option<f64>,
    workshop_m2: Option<f64>,
    bays_mech: Option<f64>,
    bays_body: Option<f64>,
    bays_paint: Option<f64>,
    paint_booths: Option<f64>,
    parts_m2: Option<f64>,
    staff: Option<f64>,
    note: String,
    external_id: Option<String>,
    created_at: String,
    updated_at: String,
}

fn date(id: i64, s: Option<String>) -> Result<Option<NaiveDate>> {
    s.map(|s| s.parse().map_err(Error::data(format!("stored outlet {id} has a bad date `{s}`")))).transpose()
}

impl OutletRow {
    fn into_outlet(self) -> Result<Outlet> {
        let id = self.id;
        Ok(Outlet {
            id,
            network: self.network,
            partner_id: self.partner_id,
            competitor: self.competitor,
            brand: self.brand,
            name: self.name,
            location: Point::new(self.lon, self.lat),
            format: self.format,
            role: self.role,
            site_type: self.site_type,
            status: OutletStatus::parse(&self.status).ok_or_else(|| Error::Internal(format!("stored outlet {id} has an unknown status `{}`", self.status)))?,
            proposed_on: date(id, self.proposed_on)?,
            approved_on: date(id, self.approved_on)?,
            construction_started_on: date(id, self.construction_started_on)?,
            planned_open_on: date(id, self.planned_open_on)?,
            opened_on: date(id, self.opened_on)?,
            closed_on: date(id, self.closed_on)?,
            close_reason: self.close_reason,
            facility: Facility {
                land_m2: self.land_m2,
                building_m2: self.building_m2,
                showroom_m2: self.showroom_m2,
                frontage_m: self.frontage_m,
                depth_m: self.depth_m,
                height_m: self.height_m,
                workshop_m2: self.workshop_m2,
                bays_mech: self.bays_mech,
                bays_body: self.bays_body,
                bays_paint: self.bays_paint,
                paint_booths: self.paint_booths,
                parts_m2: self.parts_m2,
                staff: self.staff,
            },
            note: self.note,
            external_id: self.external_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Filters for listing outlets.
#[derive(Debug, Clone, Default)]
pub struct OutletFilter {
    /// Only this partner's.
    pub partner_id: Option<i64>,
    /// Only competitors' (`true`) or only own (`false`).
    pub competitor: Option<bool>,
    /// Only outlets with this status.
    pub status: Option<OutletStatus>,
    /// Only inside [min_lon, min_lat, max_lon, max_lat].
    pub bbox: Option<[f64; 4]>,
}

const COLUMNS: &str = "network, partner_id, competitor, brand, name, lon, lat, format, role, site_type, status, proposed_on,
    approved_on, construction_started_on, planned_open_on, opened_on, closed_on, close_reason, land_m2, building_m2, showroom_m2, frontage_m, depth_m, height_m, workshop_m2, bays_mech,
    bays_body, bays_paint, paint_booths, parts_m2, staff, note, external_id";

/// Inserts an outlet; returns it with its id and timestamps.
pub async fn insert(tx: &mut WriteTx, o: &Outlet) -> Result<Outlet> {
    let sql = format!(
        "insert into outlets ({COLUMNS}, created_at, updated_at)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) returning *"
    );
    let at = now();
    let row: OutletRow = bind_outlet(sqlx::query_as(sqlx::AssertSqlSafe(sql)), o).bind(&at).bind(&at).fetch_one(&mut **tx).await.map_err(|e| taken(e, o))?;
    row.into_outlet()
}

/// A unique violation (the only unique key is the external id) as a 409 naming it.
fn taken(e: sqlx::Error, o: &Outlet) -> Error {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            Error::Duplicate(format!("external_id `{}` names another outlet of network `{}`", o.external_id.as_deref().unwrap_or(""), o.network))
        }
        _ => Error::Database(e),
    }
}

/// Replaces every column of a stored outlet with `o`'s; returns it as stored.
pub async fn replace(tx: &mut WriteTx, id: i64, o: &Outlet) -> Result<Outlet> {
    let assignments: Vec<String> = COLUMNS.split(',').map(|c| format!("{} = ?", c.trim())).collect();
    let sql = format!("update outlets set {}, updated_at = ? where id = ? returning *", assignments.join(", "));
    let row: OutletRow = bind_outlet(sqlx::query_as(sqlx::AssertSqlSafe(sql)), o).bind(now()).bind(id).fetch_one(&mut **tx).await.map_err(|e| taken(e, o))?;
    row.into_outlet()
}

type Query<'q> = sqlx::query::QueryAs<'q, sqlx::Sqlite, OutletRow, sqlx::sqlite::SqliteArguments>;

fn bind_outlet<'q>(q: Query<'q>, o: &'q Outlet) -> Query<'q> {
    let f = &o.facility;
    q.bind(&o.network)
        .bind(o.partner_id)
        .bind(o.competitor)
        .bind(&o.brand)
        .bind(&o.name)
        .bind(o.location.x())
        .bind(o.location.y())
        .bind(&o.format)
        .bind(&o.role)
        .bind(&o.site_type)
        .bind(o.status.as_str())
        .bind(o.proposed_on.map(|d| d.to_string()))
        .bind(o.approved_on.map(|d| d.to_string()))
        .bind(o.construction_started_on.map(|d| d.to_string()))
        .bind(o.planned_open_on.map(|d| d.to_string()))
        .bind(o.opened_on.map(|d| d.to_string()))
        .bind(o.closed_on.map(|d| d.to_string()))
        .bind(&o.close_reason)
        .bind(f.land_m2)
        .bind(f.building_m2)
        .bind(f.showroom_m2)
        .bind(f.frontage_m)
        .bind(f.depth_m)
        .bind(f.height_m)
        .bind(f.workshop_m2)
        .bind(f.bays_mech)
        .bind(f.bays_body)
        .bind(f.bays_paint)
        .bind(f.paint_booths)
        .bind(f.parts_m2)
        .bind(f.staff)
        .bind(&o.note)
        .bind(&o.external_id)
}

impl Store {
    /// Outlets of a network with these filters, by id.
    pub async fn list_outlets(&self, network: &str, f: &OutletFilter) -> Result<Vec<Outlet>> {
        let [x0, y0, x1, y1] = f.bbox.map(|b| b.map(Some)).unwrap_or([None; 4]);
        let rows: Vec<OutletRow> = sqlx::query_as(
            "select * from outlets where network = ?1
               and (?2 is null or partner_id = ?2)
               and (?3 is null or competitor = ?3)
               and (?4 is null or status = ?4)
               and (?5 is null or (lon >= ?5 and lat >= ?6 and lon <= ?7 and lat <= ?8))
             order by id",
        )
        .bind(network)
        .bind(f.partner_id)
        .bind(f.competitor)
        .bind(f.status.map(OutletStatus::as_str))
        .bind(x0)
        .bind(y0)
        .bind(x1)
        .bind(y1)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(OutletRow::into_outlet).collect()
    }

    /// One outlet of a network, or 404.
    pub async fn outlet(&self, network: &str, id: i64) -> Result<Outlet> {
        let mut conn = self.pool.acquire().await?;
        get(&mut conn, network, id).await
    }
}

/// One outlet of a network read on this connection (inside a write transaction: as it
/// stands under the write lock), or 404.
pub async fn get(conn: &mut sqlx::SqliteConnection, network: &str, id: i64) -> Result<Outlet> {
    let row: Option<OutletRow> = sqlx::query_as("select * from outlets where network = ? and id = ?").bind(network).bind(id).fetch_optional(&mut *conn).await?;
    row.ok_or_else(|| Error::NotFound(format!("no outlet {id} in network `{network}`")))?.into_outlet()
}

/// The outlet of a network with this external id, if any.
pub async fn by_external_id(conn: &mut sqlx::SqliteConnection, network: &str, external_id: &str) -> Result<Option<Outlet>> {
    let row: Option<OutletRow> =
        sqlx::query_as("select * from outlets where network = ? and external_id = ?").bind(network).bind(external_id).fetch_optional(&mut *conn).await?;
    row.map(OutletRow::into_outlet).transpose()
}

impl Store {
    /// A text that changes whenever any outlet of the network is added or changed.
    pub async fn outlets_version(&self, network: &str) -> Result<String> {
        let (count, max_id, updated): (i64, Option<i64>, Option<String>) =
            sqlx::query_as("SELECT count(*), max(id), max(updated_at) FROM outlets WHERE network = ?").bind(network).fetch_one(&self.pool).await?;
        Ok(format!("{count}:{}:{}", max_id.unwrap_or(0), updated.unwrap_or_default()))
    }
}
