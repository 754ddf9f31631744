//! Grants and audit tables, and the `grants_seq` counter that keeps every instance's
//! grant index current: each grant write bumps it inside the write transaction, and an
//! instance whose index is behind reloads the rows changed since (`changed_since`).

use super::{Store, WriteTx, now};
use crate::domain::grants::{ConflictEntry, Grant, Proposal, Status, Territory, Validity};
use crate::error::{Error, Result};
use crate::geometry::Shape;
use crate::geometry::parse_stored;
use chrono::NaiveDate;
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, SqliteConnection};
use std::sync::Arc;

/// A grant row joined with its partner, as stored.
#[derive(Debug, Clone, FromRow)]
pub struct GrantRow {
    /// Id.
    pub id: i64,
    /// Network code.
    pub network: String,
    /// Holder.
    pub partner_id: i64,
    /// Holder's name.
    pub partner_name: String,
    /// Holder's tier.
    pub tier: String,
    /// JSON array of adcodes, or NULL for a drawn territory.
    pub adcodes: Option<String>,
    /// GeoJSON MultiPolygon text.
    pub geometry: String,
    /// Geodesic area, km².
    pub area_km2: f64,
    /// Exclusive or not.
    pub exclusive: bool,
    /// ISO date.
    pub valid_from: String,
    /// ISO date or NULL.
    pub valid_to: Option<String>,
    /// `reserved` / `active` / `revoked`.
    pub status: String,
    /// ISO date: the last day a reservation holds.
    pub reserved_until: Option<String>,
    /// Free text.
    pub note: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339 or NULL.
    pub revoked_at: Option<String>,
    /// Why it was revoked.
    pub revoke_reason: Option<String>,
}

const SELECT_GRANT: &str = "select g.id, g.network, g.partner_id, p.name as partner_name, p.tier, g.adcodes, g.geometry,
    g.area_km2, g.exclusive, g.valid_from, g.valid_to, g.status, g.reserved_until, g.note, g.created_at, g.revoked_at, g.revoke_reason
    from grants g join partners p on p.id = g.partner_id";

fn corrupt(id: i64, what: impl std::fmt::Display) -> Error {
    Error::Internal(format!("stored grant {id} is unreadable: {what}"))
}

fn date(id: i64, s: &str) -> Result<NaiveDate> {
    s.parse().map_err(|e| corrupt(id, e))
}

impl GrantRow {
    /// The row as a domain grant, with its geometry parsed.
    pub fn into_grant(self) -> Result<Grant> {
        let id = self.id;
        let value: Value = serde_json::from_str(&self.geometry).map_err(|e| corrupt(id, e))?;
        let geometry = parse_stored(&value).map_err(|e| corrupt(id, format!("{e:?}")))?;
        let adcodes = match &self.adcodes {
            Some(text) => Some(serde_json::from_str::<Vec<String>>(text).map_err(|e| corrupt(id, e))?),
            None => None,
        };
        Ok(Grant {
            id,
            network: self.network,
            partner_id: self.partner_id,
            partner_name: self.partner_name,
            tier: self.tier,
            territory: Territory::new(adcodes, Shape::with_area(Arc::new(geometry), self.area_km2)),
            exclusive: self.exclusive,
            validity: Validity { from: date(id, &self.valid_from)?, to: self.valid_to.as_deref().map(|d| date(id, d)).transpose()? },
            status: Status::parse(&self.status).ok_or_else(|| corrupt(id, format!("unknown status `{}`", self.status)))?,
            reserved_until: self.reserved_until.as_deref().map(|d| date(id, d)).transpose()?,
            note: self.note,
            created_at: self.created_at,
            revoked_at: self.revoked_at,
            revoke_reason: self.revoke_reason,
        })
    }
}

impl GrantRow {
    /// The days the grant was (or will be) in force: its window, cut at the day before its
    /// revoke for a revoked grant; `None` if it never was (revoked before its first day, or
    /// an unreadable row).
    pub fn window_in_force(&self) -> Option<Validity> {
        let from: NaiveDate = self.valid_from.parse().ok()?;
        let to: Option<NaiveDate> = self.valid_to.as_deref().map(str::parse).transpose().ok()?;
        let to = match self.status.as_str() {
            "revoked" => {
                let revoked_on: NaiveDate = self.revoked_at.as_deref()?.get(..10)?.parse().ok()?;
                let until = revoked_on.pred_opt()?;
                Some(to.map_or(until, |t| t.min(until)))
            }
            _ => to,
        };
        to.is_none_or(|t| t >= from).then_some(Validity { from, to })
    }
}

/// Filters for listing grants.
#[derive(Debug, Clone, Default)]
pub struct GrantFilter {
    /// Only this partner's.
    pub partner_id: Option<i64>,
    /// Only `reserved`, `active` or `revoked`.
    pub status: Option<Status>,
    /// Only grants in force on this day, past or future: the day within the window, and
    /// active, or revoked after that day.
    pub active_on: Option<NaiveDate>,
    /// Only grants whose bounding box meets [min_lon, min_lat, max_lon, max_lat].
    pub bbox: Option<[f64; 4]>,
}

/// One audit record.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Id, increasing.
    pub id: i64,
    /// When (RFC 3339).
    pub at: String,
    /// `grant`, `revoke`, `reserve`, `confirm`, `valid_to` (a grant's end changed),
    /// `stage` (an outlet's move in the pipeline) or `close` (an outlet's, kept when it
    /// broke the standard).
    pub action: String,
    /// `granted`, `refused`, `revoked`, `reserved`, `confirmed`, `changed`, `closed`, or
    /// the stage an outlet moved to.
    pub result: String,
    /// The grant concerned.
    pub grant_id: Option<i64>,
    /// The outlet concerned.
    pub outlet_id: Option<i64>,
    /// The request as received.
    #[schema(value_type = Object)]
    pub request: Value,
    /// The conflicts of a refusal.
    #[schema(value_type = Vec<Object>)]
    pub conflicts: Value,
    /// Who acted: `token N (name)`, `open` (`serve --open`: loopback, never a token) or `cli`.
    pub actor: Option<String>,
}

impl Store {
    /// The current value of `grants_seq`.
    pub async fn grants_seq(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("select value from state where key = 'grants_seq'").fetch_one(&self.pool).await?)
    }

    /// Grants with these filters, newest first.
    pub async fn list_grants(&self, network: &str, f: &GrantFilter) -> Result<Vec<GrantRow>> {
        let sql = format!(
            "{SELECT_GRANT} where g.network = ?1
               and (?2 is null or g.partner_id = ?2)
               and (?3 is null or g.status = ?3)
               and (?4 is null or ((g.status = 'active' or (g.status = 'revoked' and substr(g.revoked_at, 1, 10) > ?4))
                                   and g.valid_from <= ?4 and (g.valid_to is null or g.valid_to >= ?4)))
               and (?5 is null or (g.max_lon >= ?5 and g.max_lat >= ?6 and g.min_lon <= ?7 and g.min_lat <= ?8))
             order by g.id"
        );
        let [x0, y0, x1, y1] = f.bbox.map(|b| b.map(Some)).unwrap_or([None; 4]);
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(network)
            .bind(f.partner_id)
            .bind(f.status.map(Status::as_str))
            .bind(f.active_on.map(|d| d.to_string()))
            .bind(x0)
            .bind(y0)
            .bind(x1)
            .bind(y1)
            .fetch_all(&self.pool)
            .await?)
    }

    /// One grant of a network, or 404.
    pub async fn grant(&self, network: &str, id: i64) -> Result<GrantRow> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT_GRANT} where g.network = ? and g.id = ?")))
            .bind(network)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no grant {id} in network `{network}`")))
    }

    /// Entries of a network's audit log that pass `f`, oldest first, at most `f.limit`.
    pub async fn audit(&self, network: &str, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
        #[derive(FromRow)]
        struct Row {
            id: i64,
            at: String,
            action: String,
            result: String,
            grant_id: Option<i64>,
            outlet_id: Option<i64>,
            request: String,
            conflicts: String,
            actor: Option<String>,
        }
        let rows: Vec<Row> = sqlx::query_as(
            "select id, at, action, result, grant_id, outlet_id, request, conflicts, actor from audit a
             where network = ?1 and id > ?2
               and (?3 is null or grant_id = ?3)
               and (?4 is null or actor = ?4)
               and (?5 is null or action = ?5)
               and (?6 is null or at >= ?6)
               and (?7 is null or at < ?7)
               and (?8 is null or json_extract(request, '$.partner_id') = ?8
                    or grant_id in (select id from grants where partner_id = ?8)
                    or outlet_id in (select id from outlets where partner_id = ?8))
             order by id limit ?9",
        )
        .bind(network)
        .bind(f.after)
        .bind(f.grant_id)
        .bind(&f.actor)
        .bind(&f.kind)
        .bind(&f.from)
        .bind(&f.to)
        .bind(f.partner_id)
        .bind(f.limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let mut request = serde_json::from_str(&r.request).unwrap_or(Value::String(r.request));
                let mut conflicts = serde_json::from_str(&r.conflicts).unwrap_or(Value::String(r.conflicts));
                if !f.geometry {
                    drop_geometry(&mut request);
                    drop_geometry(&mut conflicts);
                }
                AuditEntry {
                    id: r.id,
                    at: r.at,
                    action: r.action,
                    result: r.result,
                    grant_id: r.grant_id,
                    outlet_id: r.outlet_id,
                    request,
                    conflicts,
                    actor: r.actor,
                }
            })
            .collect())
    }
}

/// Filters and a page of the audit log.
#[derive(Debug, Clone)]
pub struct AuditFilter {
    /// Only entries after this id (the cursor of the page before).
    pub after: i64,
    /// At most this many entries.
    pub limit: usize,
    /// Only entries about this grant.
    pub grant_id: Option<i64>,
    /// Only entries about this partner: its requests, its grants, its outlets.
    pub partner_id: Option<i64>,
    /// Only entries by this actor (`token 3 (name)`, `open`, `cli`).
    pub actor: Option<String>,
    /// Only entries of this action (`grant`, `revoke`, `stage`, ...).
    pub kind: Option<String>,
    /// Only entries at or after this RFC 3339 time (or day).
    pub from: Option<String>,
    /// Only entries before this RFC 3339 time (or day).
    pub to: Option<String>,
    /// Keep the geometries of requests and conflicts (they are most of the log's size).
    pub geometry: bool,
}

impl Default for AuditFilter {
    fn default() -> AuditFilter {
        AuditFilter { after: 0, limit: usize::MAX >> 1, grant_id: None, partner_id: None, actor: None, kind: None, from: None, to: None, geometry: true }
    }
}

/// Replaces every `geometry` member of a JSON value by `null`, at any depth.
fn drop_geometry(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if key == "geometry" {
                    *value = Value::Null;
                } else {
                    drop_geometry(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(drop_geometry),
        _ => {}
    }
}

/// Grant rows written after `seq` (new or revoked), any network.
pub async fn changed_since(conn: &mut SqliteConnection, seq: i64) -> Result<Vec<Grant>> {
    let rows: Vec<GrantRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT_GRANT} where g.seq > ? order by g.id"))).bind(seq).fetch_all(&mut *conn).await?;
    rows.into_iter().map(GrantRow::into_grant).collect()
}

/// The counters of what a process keeps in memory, read on one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seqs {
    /// `grants_seq`: moved on by every grant write.
    pub grants: i64,
    /// `regions_seq`: moved on by every import of regions.
    pub regions: i64,
}

/// The current counters, read on this connection (in one statement: one snapshot).
pub async fn current_seqs(conn: &mut SqliteConnection) -> Result<Seqs> {
    let (grants, regions): (i64, i64) =
        sqlx::query_as("select (select value from state where key = 'grants_seq'), (select value from state where key = 'regions_seq')")
            .fetch_one(&mut *conn)
            .await?;
    Ok(Seqs { grants, regions })
}

/// Bumps `grants_seq` and returns the new value.
async fn bump_seq(tx: &mut WriteTx) -> Result<i64> {
    Ok(sqlx::query_scalar("update state set value = value + 1 where key = 'grants_seq' returning value").fetch_one(&mut **tx).await?)
}

/// Stores a granted proposal whose geometry serialises to `geometry` (GeoJSON text);
/// returns the stored row and the new `grants_seq`.
pub async fn insert(tx: &mut WriteTx, p: &Proposal, geometry: String) -> Result<(GrantRow, i64)> {
    let seq = bump_seq(tx).await?;
    let t = &p.territory;
    let (min, max) = (t.shape.bbox.min(), t.shape.bbox.max());
    let adcodes = t.adcodes.as_ref().map(|c| serde_json::json!(c).to_string());
    let created_at = now();
    let status = if p.reserved_until.is_some() { Status::Reserved } else { Status::Active };
    let id: i64 = sqlx::query_scalar(
        "insert into grants (network, partner_id, adcodes, geometry, area_km2, min_lon, min_lat, max_lon, max_lat,
           exclusive, valid_from, valid_to, status, reserved_until, note, created_at, seq)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) returning id",
    )
    .bind(&p.network)
    .bind(p.partner_id)
    .bind(&adcodes)
    .bind(&geometry)
    .bind(t.shape.area_km2)
    .bind(min.x)
    .bind(min.y)
    .bind(max.x)
    .bind(max.y)
    .bind(p.exclusive)
    .bind(p.validity.from.to_string())
    .bind(p.validity.to.map(|d| d.to_string()))
    .bind(status.as_str())
    .bind(p.reserved_until.map(|d| d.to_string()))
    .bind(&p.note)
    .bind(&created_at)
    .bind(seq)
    .fetch_one(&mut **tx)
    .await?;
    let row = GrantRow {
        id,
        network: p.network.clone(),
        partner_id: p.partner_id,
        partner_name: p.partner_name.clone(),
        tier: p.tier.clone(),
        adcodes,
        geometry,
        area_km2: t.shape.area_km2,
        exclusive: p.exclusive,
        valid_from: p.validity.from.to_string(),
        valid_to: p.validity.to.map(|d| d.to_string()),
        status: status.as_str().to_string(),
        reserved_until: p.reserved_until.map(|d| d.to_string()),
        note: p.note.clone(),
        created_at,
        revoked_at: None,
        revoke_reason: None,
    };
    Ok((row, seq))
}

/// Revokes an active or reserved grant; returns the new `grants_seq`, or `None` if it was
/// revoked already.
pub async fn revoke(tx: &mut WriteTx, network: &str, id: i64, reason: &str) -> Result<Option<i64>> {
    let active: Option<i64> = sqlx::query_scalar("select id from grants where network = ? and id = ? and status in ('active', 'reserved')")
        .bind(network)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    if active.is_none() {
        return Ok(None);
    }
    let seq = bump_seq(tx).await?;
    sqlx::query("update grants set status = 'revoked', revoked_at = ?, revoke_reason = ?, seq = ? where id = ?")
        .bind(now())
        .bind(reason)
        .bind(seq)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(Some(seq))
}

/// Makes a reserved grant active; returns the new `grants_seq`.
pub async fn confirm(tx: &mut WriteTx, id: i64) -> Result<i64> {
    let seq = bump_seq(tx).await?;
    sqlx::query("update grants set status = 'active', seq = ? where id = ? and status = 'reserved'").bind(seq).bind(id).execute(&mut **tx).await?;
    Ok(seq)
}

/// Sets a grant's last day in force (`None`: open-ended); returns the new `grants_seq`.
pub async fn set_valid_to(tx: &mut WriteTx, id: i64, valid_to: Option<NaiveDate>) -> Result<i64> {
    let seq = bump_seq(tx).await?;
    sqlx::query("update grants set valid_to = ?, seq = ? where id = ?").bind(valid_to.map(|d| d.to_string())).bind(seq).bind(id).execute(&mut **tx).await?;
    Ok(seq)
}

/// One grant of a network read on this connection (inside a write transaction: as it
/// stands under the write lock), or 404.
pub async fn get(conn: &mut SqliteConnection, network: &str, id: i64) -> Result<GrantRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT_GRANT} where g.network = ? and g.id = ?")))
        .bind(network)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no grant {id} in network `{network}`")))
}

/// One decision as the audit log keeps it.
#[derive(Debug, Clone, Copy)]
pub struct Decided<'a> {
    /// `grant`, `revoke` or `close`.
    pub action: &'a str,
    /// `granted`, `refused`, `revoked` or `closed`.
    pub result: &'a str,
    /// The grant concerned.
    pub grant_id: Option<i64>,
    /// The outlet concerned.
    pub outlet_id: Option<i64>,
    /// The request as received.
    pub request: &'a serde_json::value::RawValue,
    /// The conflicts of a refusal.
    pub conflicts: &'a [ConflictEntry],
    /// Who decided (`token 3 (name)`, `open`, `cli`).
    pub actor: &'a str,
}

/// Records a decision in the audit log.
pub async fn record(tx: &mut WriteTx, network: &str, d: Decided<'_>) -> Result<()> {
    sqlx::query("insert into audit (network, at, action, result, grant_id, outlet_id, request, conflicts, actor) values (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(network)
        .bind(now())
        .bind(d.action)
        .bind(d.result)
        .bind(d.grant_id)
        .bind(d.outlet_id)
        .bind(d.request.get())
        .bind(serde_json::to_string(d.conflicts).map_err(Error::data("the audit record's conflicts"))?)
        .bind(d.actor)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
