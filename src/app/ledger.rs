//! The ledger of grants: validates grant requests, decides them against the exclusivity
//! rule, and stores them atomically. Every write that depends on the grants (a grant, a
//! revoke, an outlet placed by the territory rule) follows one protocol, [`Ledger::begin`]:
//!
//! 1. `BEGIN IMMEDIATE`: take SQLite's write lock (every other writer, in any process, waits);
//! 2. bring the grant index up to `state.grants_seq` on that connection (rows other
//!    processes wrote; everything again if `regions_seq` moved);
//! 3. decide on the index;
//! 4. write (the grant or only the refusal, with its audit record; `grants_seq` moves on);
//! 5. commit, then apply the new rows to the index ([`Ledger::applied`]).
//!
//! So two requests racing for the same land cannot both win, and after a restart the
//! index is rebuilt from the same rows: every decision comes out the same.

use super::catalog::Catalog;
use super::{cpu_unless_light, read, write};
use crate::domain::access::{Caller, Role, Viewer};
use crate::domain::compliance::Breach;
use crate::domain::exclusivity::{GrantIndex, NetworkGrants, compare, conflicts_among, regions_geojson, rule_applies, union_of_regions};
use crate::domain::grants::{ConflictEntry, Decision, Grant, Proposal, SeenConflict, Status, Territory, Validity};
use crate::domain::network::PartnerStatus;
use crate::domain::policy::Policy;
use crate::domain::regions::RegionSet;
use crate::error::{Error, Result};
use crate::geometry::{self, CoordSys, GeometryLimits, PreRead, Shape};
use crate::input::{InputError, MAX_NOTE_CHARS, parse_date, too_long};
use crate::store::grants::{self as grant_rows, Decided};
use crate::store::{Store, WriteTx, regions as region_rows};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::sync::{Arc, Mutex, RwLockReadGuard};
use std::time::{Duration, Instant};

pub use crate::store::grants::{AuditEntry, AuditFilter, GrantFilter, GrantRow};

/// How stale an answer that writes nothing (a dry-run check, a region lookup) may be with
/// respect to writes of *other* processes sharing the database. This process's own writes
/// are seen at once, and every write reads the database inside its write transaction.
pub const DRY_RUN_STALENESS: Duration = Duration::from_millis(50);

/// A request to grant a territory (`docs/api.md`, Grants).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    /// The partner to hold the territory.
    pub partner_id: i64,
    /// The territory as regions (GB/T 2260 adcodes) ...
    #[serde(default)]
    pub adcodes: Option<Vec<String>>,
    /// ... or as a drawn GeoJSON Polygon / MultiPolygon.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub geometry: Option<Box<RawValue>>,
    /// Exclusive or not; default from the partner's tier.
    #[serde(default)]
    pub exclusive: Option<bool>,
    /// First day in force (ISO date); default today.
    #[serde(default)]
    pub valid_from: Option<String>,
    /// Last day in force (ISO date); default open-ended.
    #[serde(default)]
    pub valid_to: Option<String>,
    /// Reserve instead of grant: hold the territory for the partner (exclusive like an
    /// active grant) until this day (ISO date, today or later) while its application is
    /// decided; `POST .../grants/{id}/confirm` makes it active, and after this day it holds
    /// nothing.
    #[serde(default)]
    pub reserved_until: Option<String>,
    /// Free text.
    #[serde(default)]
    pub note: Option<String>,
    /// The drawn geometry as a front end read it straight from the body, in place of
    /// `geometry` (never given in a body).
    #[serde(skip)]
    pub pre_read: Option<PreRead>,
}

/// A drawn territory as a request gives it.
enum Drawing<'r> {
    /// Read from the body by a front end.
    PreRead(&'r PreRead),
    /// GeoJSON text, to read.
    Text(&'r RawValue),
}

impl GrantRequest {
    /// Whether validating and deciding this request is light enough to do on the request's
    /// own thread: a drawing of at most [`super::INLINE_INPUT_BYTES`] of GeoJSON, or one
    /// region (a union of several goes to the CPU pool).
    fn light(&self) -> bool {
        let drawn = match self.drawing() {
            Some(Drawing::PreRead(read)) => read.text.len(),
            Some(Drawing::Text(text)) => text.get().len(),
            None => 0,
        };
        drawn <= super::INLINE_INPUT_BYTES && self.adcodes.as_ref().is_none_or(|codes| codes.len() <= 1)
    }

    /// The drawn territory, if one was given: as read from the body, or as its text.
    fn drawing(&self) -> Option<Drawing<'_>> {
        match (&self.pre_read, &self.geometry) {
            (Some(read), _) => Some(Drawing::PreRead(read)),
            (None, Some(text)) => Some(Drawing::Text(text)),
            (None, None) => None,
        }
    }
}

/// Answer of a dry-run check, as the caller may see it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CheckAnswer {
    /// Whether the grant would be made.
    pub ok: bool,
    /// Every grant it would break exclusivity with.
    #[schema(value_type = Vec<ConflictEntry>)]
    pub conflicts: Vec<SeenConflict>,
    /// Overlaps below the sliver tolerance.
    #[schema(value_type = Vec<ConflictEntry>)]
    pub warnings: Vec<SeenConflict>,
    /// The partner's own grants that already hold part of the territory on some of the
    /// same days (a grant would be refused as a duplicate).
    #[schema(value_type = Vec<ConflictEntry>)]
    pub duplicates: Vec<SeenConflict>,
}

/// A grant just made, with the warnings of its decision.
#[derive(Debug)]
pub struct Granted {
    /// The stored grant.
    pub row: GrantRow,
    /// Overlaps below the sliver tolerance.
    pub warnings: Vec<SeenConflict>,
}

/// Another partner's grant as a partner token sees it in a list: its area and status.
#[derive(Debug, Clone)]
pub struct AnonymousGrant {
    /// The stored GeoJSON MultiPolygon text.
    pub geometry: String,
    /// `active` / `revoked`.
    pub status: String,
}

/// A stored grant as its viewer may see it.
pub type SeenGrant = crate::domain::grants::Seen<GrantRow, AnonymousGrant>;

/// One proposal of a batch check, by its place in the batch.
#[derive(Debug, Clone)]
pub struct BatchItem {
    /// How answers name it (`feature 2 (id "a")`).
    pub label: String,
    /// Where its problems are located (`/features/2`).
    pub base: String,
    /// The request.
    pub request: GrantRequest,
}

/// The answer of a batch check for one proposal.
#[derive(Debug, serde::Serialize)]
pub struct ItemCheck {
    /// Its place in the batch.
    pub feature: usize,
    /// How it is named.
    pub label: String,
    /// Whether it would be granted (against the stored grants and the batch's other
    /// proposals).
    pub ok: bool,
    /// Every conflict: stored grants (as the caller may see them), and later proposals of
    /// the batch (negative `grant_id`, named by their label).
    pub conflicts: Vec<SeenConflict>,
    /// Overlaps below the sliver tolerance.
    pub warnings: Vec<SeenConflict>,
    /// The partner's own stored grants that already hold part of the territory.
    pub duplicates: Vec<SeenConflict>,
}

/// The grant index and the regions seq it was built on (-1: not built yet).
#[derive(Debug)]
struct Held {
    regions_seq: i64,
    index: GrantIndex,
}

/// Grants: the index decisions run on, and the write protocol.
#[derive(Debug)]
pub struct Ledger {
    store: Store,
    catalog: Arc<Catalog>,
    held: std::sync::RwLock<Held>,
    last_sync: Mutex<Option<Instant>>,
    /// Limits on input geometry.
    pub limits: GeometryLimits,
}

impl Ledger {
    pub(super) fn new(store: Store, catalog: Arc<Catalog>, limits: GeometryLimits) -> Ledger {
        let held = std::sync::RwLock::new(Held { regions_seq: -1, index: GrantIndex::default() });
        Ledger { store, catalog, held, last_sync: Mutex::new(None), limits }
    }

    /// Rebuilds the regions and the index from the database.
    pub async fn reload(&self) -> Result<()> {
        let mut conn = self.store.pool.acquire().await?;
        self.reload_on(&mut conn).await
    }

    /// Rebuilds the regions and the grant index from what `conn` reads.
    async fn reload_on(&self, conn: &mut sqlx::SqliteConnection) -> Result<()> {
        let seqs = grant_rows::current_seqs(conn).await?;
        let regions = if seqs.regions == self.catalog.regions_seq() {
            self.catalog.regions()
        } else {
            let regions = Arc::new(RegionSet::new(region_rows::load(conn).await?));
            self.catalog.set_regions(seqs.regions, regions.clone());
            regions
        };
        let grants = grant_rows::changed_since(conn, 0).await?;
        let mut index = GrantIndex::default();
        index.apply(grants, seqs.grants, &regions);
        *write(&self.held) = Held { regions_seq: seqs.regions, index };
        Ok(())
    }

    /// Brings the index up to the database's `grants_seq` on this connection, and rebuilds
    /// it if regions were imported since it was built (`regions_seq` moved).
    async fn sync(&self, conn: &mut sqlx::SqliteConnection) -> Result<()> {
        *super::lock(&self.last_sync) = Some(Instant::now());
        let seqs = grant_rows::current_seqs(conn).await?;
        if seqs.regions != read(&self.held).regions_seq {
            return self.reload_on(conn).await;
        }
        let known = read(&self.held).index.seq;
        if seqs.grants == known {
            return Ok(());
        }
        let changed = grant_rows::changed_since(conn, known).await?;
        let regions = self.catalog.regions();
        let mut held = write(&self.held);
        if seqs.grants > held.index.seq {
            held.index.apply(changed, seqs.grants, &regions);
        }
        Ok(())
    }

    /// Brings the regions and the index up to date with what any process committed, unless
    /// they were synced within [`DRY_RUN_STALENESS`] (for answers that write nothing).
    pub async fn refresh(&self) -> Result<()> {
        let fresh = super::lock(&self.last_sync).is_some_and(|t| t.elapsed() < DRY_RUN_STALENESS);
        if fresh {
            return Ok(());
        }
        let mut conn = self.store.pool.acquire().await?;
        self.sync(&mut conn).await
    }

    /// Brings the index up to the database now (after a write of several grant rows).
    pub async fn catch_up(&self) -> Result<()> {
        let mut conn = self.store.pool.acquire().await?;
        self.sync(&mut conn).await
    }

    /// Steps 1 and 2 of the write protocol (module doc): a transaction holding the write
    /// lock, with the index up to date on it. Decide on [`Ledger::index`], write, commit,
    /// then [`Ledger::applied`].
    pub async fn begin(&self) -> Result<WriteTx> {
        let mut tx = self.store.begin_write().await?;
        self.sync(&mut tx).await?;
        Ok(tx)
    }

    /// The index, read-locked (hold it only while deciding, never across an `.await`).
    pub fn index(&self) -> IndexGuard<'_> {
        IndexGuard(read(&self.held))
    }

    /// Applies rows this process just committed at `seq` to the index, if it is at `seq - 1`.
    fn applied(&self, rows: Vec<Grant>, seq: i64) {
        let regions = self.catalog.regions();
        let mut held = write(&self.held);
        if held.index.seq == seq - 1 {
            held.index.apply(rows, seq, &regions);
        }
    }

    /// Number of active grants of a network in the index.
    pub fn grant_count(&self, network: &str) -> usize {
        self.index().network(network).map_or(0, NetworkGrants::len)
    }

    /// Builds the territory named by adcodes: each must exist, none twice or inside another.
    pub fn territory_of_regions(&self, codes: &[String], base: &str) -> Result<Territory, Vec<InputError>> {
        let regions = self.catalog.regions();
        let mut errors = Vec::new();
        if codes.is_empty() {
            errors.push(InputError::at(base, "name at least one region"));
        }
        for (i, code) in codes.iter().enumerate() {
            if regions.get(code).is_none() {
                errors.push(InputError::at(format!("{base}/{i}"), format!("unknown adcode `{code}`")));
                continue;
            }
            for (j, other) in codes.iter().enumerate().take(i) {
                if other == code {
                    errors.push(InputError::at(format!("{base}/{i}"), format!("`{code}` is listed twice")));
                } else if regions.is_ancestor(other, code) || regions.is_ancestor(code, other) {
                    errors
                        .push(InputError::at(format!("{base}/{i}"), format!("`{code}` and `{other}` (at {j}) overlap in the hierarchy; list each area once")));
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let shape = match codes {
            [one] => regions.get(one).map(|r| r.shape.clone()),
            _ => None,
        };
        let shape = shape.unwrap_or_else(|| {
            let (geometry, area_km2) = union_of_regions(codes, &regions);
            Shape::with_area(geometry, area_km2)
        });
        Ok(Territory::new(Some(codes.to_vec()), shape))
    }

    /// Builds a drawn territory: from the area a front end read from the body if it was
    /// read as this service reads it (datum, limits), else from the text.
    fn territory_of_drawing(&self, drawing: Drawing, base: &str, sys: CoordSys) -> Result<Territory, Vec<InputError>> {
        let shape = match drawing {
            Drawing::PreRead(read) if read.sys == sys && read.limits == self.limits => geometry::validate::drawn_shape((read.area.clone(), read.multi), base)?,
            Drawing::PreRead(read) => {
                let text = std::str::from_utf8(&read.text).map_err(|e| vec![InputError::at(base, format!("not UTF-8: {e}"))])?;
                geometry::parse_area_text(text, base, sys, self.limits)?
            }
            Drawing::Text(text) => geometry::parse_area_text(text.get(), base, sys, self.limits)?,
        };
        Ok(Territory::new(None, shape))
    }

    /// Validates a grant request into a proposal (every problem at once, located under
    /// `base`, e.g. `/features/3/properties`, or `""` for a request body).
    pub async fn propose(&self, network: &str, req: &GrantRequest, sys: CoordSys) -> Result<(Proposal, &'static Policy)> {
        let (_, policy) = self.catalog.network(network).await?;
        self.refresh().await?;
        let mut errors = Vec::new();
        let partner = self.catalog.partner(network, req.partner_id).await?;
        match &partner {
            None => errors.push(InputError::at("/partner_id", format!("no partner {} in network `{network}`", req.partner_id))),
            Some(p) if p.status != PartnerStatus::Active => {
                errors.push(InputError::at("/partner_id", format!("partner {} is {}: it takes no new grant", p.id, p.status.as_str())));
            }
            Some(_) => {}
        }
        let tier = partner.as_ref().and_then(|p| policy.tier(&p.tier));
        let exclusive = match partner.as_ref().map(|p| (p, tier)) {
            Some((_, Some(tier))) => policy.resolve_exclusive(tier, req.exclusive).map_err(|e| errors.push(InputError::at("/exclusive", e.to_string()))).ok(),
            Some((p, None)) => {
                errors.push(InputError::at("/partner_id", format!("partner {} has tier `{}`, unknown to policy `{}`", p.id, p.tier, policy.code)));
                None
            }
            None => None,
        };
        errors.extend(req.note.as_deref().and_then(|n| too_long("/note", n, MAX_NOTE_CHARS)));
        let from = match &req.valid_from {
            Some(s) => parse_date(s, "/valid_from").map_err(|e| errors.push(e)).ok(),
            None => Some(chrono::Utc::now().date_naive()),
        };
        let to = match &req.valid_to {
            Some(s) => parse_date(s, "/valid_to").map_err(|e| errors.push(e)).ok().map(Some),
            None => Some(None),
        };
        if let (Some(f), Some(Some(t))) = (from, to)
            && t < f
        {
            errors.push(InputError::at("/valid_to", format!("{t} is before valid_from {f}")));
        }
        let today = chrono::Utc::now().date_naive();
        let reserved_until = match &req.reserved_until {
            Some(s) => match parse_date(s, "/reserved_until") {
                Ok(d) if d < today => {
                    errors.push(InputError::at("/reserved_until", format!("{d} is before today ({today}): a reservation holds from now")));
                    None
                }
                Ok(d) => Some(Some(d)),
                Err(e) => {
                    errors.push(e);
                    None
                }
            },
            None => Some(None),
        };
        let territory = match (&req.adcodes, req.drawing()) {
            (Some(codes), None) => {
                let territory = cpu_unless_light(req.light(), || self.territory_of_regions(codes, "/adcodes")).await?.map_err(|e| errors.extend(e)).ok();
                if let Some(tier) = tier {
                    errors.extend(tier.scope.check(&tier.code, codes, &self.catalog.regions(), "/adcodes"));
                }
                territory
            }
            (None, Some(drawing)) => {
                let regions = self.catalog.regions();
                let tolerance = policy.sliver_tolerance;
                let within = |t: Territory| match regions.outside_provinces(&t.shape, tolerance) {
                    Some((km2, share)) if !tolerance.is_sliver(km2, share) => Err(vec![InputError::at(
                        "/geometry",
                        format!(
                            "{km2:.3} km² ({:.2} %) of the drawn territory lies outside every stored region (the sea, or a province not imported); \
                             a sliver along a coast or border is tolerated ({} km², {} %)",
                            share * 100.0,
                            tolerance.max_km2,
                            tolerance.max_ratio * 100.0
                        ),
                    )]),
                    _ => Ok(t),
                };
                cpu_unless_light(req.light(), || self.territory_of_drawing(drawing, "/geometry", sys).and_then(within))
                    .await?
                    .map_err(|e| errors.extend(e))
                    .ok()
            }
            (Some(_), Some(_)) => {
                errors.push(InputError::at("", "give either `adcodes` or `geometry`, not both"));
                None
            }
            (None, None) => {
                errors.push(InputError::at("", "give the territory as `adcodes` or as `geometry`"));
                None
            }
        };
        match (errors.is_empty(), territory, exclusive, from, to, reserved_until) {
            (true, Some(territory), Some(exclusive), Some(from), Some(to), Some(reserved_until)) => Ok((
                Proposal {
                    network: network.to_string(),
                    partner_id: req.partner_id,
                    partner_name: partner.as_ref().map(|p| p.name.clone()).unwrap_or_default(),
                    tier: partner.as_ref().map(|p| p.tier.clone()).unwrap_or_default(),
                    territory,
                    exclusive,
                    validity: Validity { from, to },
                    reserved_until,
                    note: req.note.clone().unwrap_or_default(),
                },
                policy,
            )),
            _ => Err(Error::Invalid(errors)),
        }
    }

    /// Dry run: what would a grant of this request meet? Writes nothing. Planners and
    /// admins; a partner token only for its own partner, and others' grants anonymous.
    pub async fn check(&self, caller: &Caller, network: &str, req: &GrantRequest, sys: CoordSys) -> Result<CheckAnswer> {
        let viewer = caller.enter(network, Role::Planner)?;
        viewer.acts_for(Some(req.partner_id), "the check")?;
        let (proposal, policy) = self.propose(network, req, sys).await?;
        let decision = cpu_unless_light(req.light(), || self.decide(&proposal, policy)).await?;
        Ok(CheckAnswer {
            ok: decision.ok(),
            conflicts: seen(viewer, decision.conflicts),
            warnings: seen(viewer, decision.warnings),
            duplicates: seen(viewer, decision.duplicates),
        })
    }

    /// The decision on the index as it stands.
    fn decide(&self, proposal: &Proposal, policy: &Policy) -> Decision {
        let regions = self.catalog.regions();
        let grants = self.index().shared(&proposal.network);
        grants.map(|g| g.decide(proposal, &regions, policy.sliver_tolerance, chrono::Utc::now().date_naive())).unwrap_or_default()
    }

    /// Decides and, if clear, stores a grant, atomically; records the decision in the
    /// audit log either way, with the caller as its actor. A refusal is
    /// `Error::Conflict` with every conflicting grant. Only a governing caller grants.
    pub async fn grant(&self, caller: &Caller, network: &str, req: &GrantRequest, sys: CoordSys, request: &RawValue) -> Result<Granted> {
        caller.governs(network)?;
        let (proposal, policy) = self.propose(network, req, sys).await?;
        let mut tx = self.begin().await?;
        let decision = cpu_unless_light(req.light(), || self.decide(&proposal, policy)).await?;
        if !decision.ok() {
            let met = if decision.conflicts.is_empty() { &decision.duplicates } else { &decision.conflicts };
            let refusal = Decided { action: "grant", result: "refused", grant_id: None, outlet_id: None, request, conflicts: met, actor: &caller.actor };
            grant_rows::record(&mut tx, network, refusal).await?;
            tx.commit().await?;
            return Err(refusal_of(decision, proposal.partner_id));
        }
        let shape = &proposal.territory.shape;
        let geometry = match &proposal.territory.adcodes {
            Some(codes) => regions_geojson(codes, &shape.geometry, &self.catalog.regions()),
            None => geometry::raw_geojson(&shape.geometry),
        };
        let (row, seq) = grant_rows::insert(&mut tx, &proposal, geometry.get().to_string()).await?;
        grant_rows::record(
            &mut tx,
            network,
            Decided {
                action: "grant",
                result: if proposal.reserved_until.is_some() { "reserved" } else { "granted" },
                grant_id: Some(row.id),
                outlet_id: None,
                request,
                conflicts: &[],
                actor: &caller.actor,
            },
        )
        .await?;
        tx.commit().await?;
        self.applied(vec![proposal.into_grant(row.id, row.created_at.clone())], seq);
        Ok(Granted { row, warnings: seen(Viewer::All, decision.warnings) })
    }

    /// Revokes an active grant (kept as history) and records it. Only a governing caller.
    /// `broke`: what the revoke breaks (see [`super::compliance::Compliance::consequences`]),
    /// kept in the audit record.
    pub async fn revoke(&self, caller: &Caller, network: &str, id: i64, reason: &str, broke: &[Breach]) -> Result<GrantRow> {
        caller.governs(network)?;
        super::check_reason(reason)?;
        self.catalog.network(network).await?;
        self.store.grant(network, id).await?;
        let mut tx = self.begin().await?;
        let Some(seq) = grant_rows::revoke(&mut tx, network, id, reason).await? else {
            return Err(Error::Duplicate(format!("grant {id} is revoked already")));
        };
        let request = serde_json::value::to_raw_value(&serde_json::json!({"grant_id": id, "reason": reason, "broke": broke}))
            .map_err(Error::data("the revoke's audit record"))?;
        let revoked =
            Decided { action: "revoke", result: "revoked", grant_id: Some(id), outlet_id: None, request: &request, conflicts: &[], actor: &caller.actor };
        self.record_and_apply(tx, network, (id, seq), revoked).await
    }

    /// Confirms a reservation: it becomes an active grant (no new check: while it held, no
    /// other grant could take its territory). An expired reservation holds nothing and
    /// cannot be confirmed (409): the territory is granted or reserved anew. Only a
    /// governing caller.
    pub async fn confirm(&self, caller: &Caller, network: &str, id: i64) -> Result<GrantRow> {
        caller.governs(network)?;
        self.catalog.network(network).await?;
        let mut tx = self.begin().await?;
        let grant = grant_rows::get(&mut tx, network, id).await?.into_grant()?;
        let today = chrono::Utc::now().date_naive();
        match (grant.status, grant.reserved_until) {
            (Status::Reserved, Some(until)) if until < today => {
                return Err(Error::Duplicate(format!("reservation {id} expired on {until}; its territory is free again: grant or reserve it anew")));
            }
            (Status::Reserved, _) => {}
            (status, _) => return Err(Error::Duplicate(format!("grant {id} is {}, not reserved", status.as_str()))),
        }
        let seq = grant_rows::confirm(&mut tx, id).await?;
        let request = serde_json::value::to_raw_value(&serde_json::json!({"grant_id": id})).map_err(Error::data("the confirmation's audit record"))?;
        let confirmed =
            Decided { action: "confirm", result: "confirmed", grant_id: Some(id), outlet_id: None, request: &request, conflicts: &[], actor: &caller.actor };
        self.record_and_apply(tx, network, (id, seq), confirmed).await
    }

    /// Moves the last day of an active or reserved grant (`None`: open-ended): never
    /// into the past nor before its first day. A longer window is checked like a new
    /// grant over it (409 `conflict` or `duplicate`, in the audit log as refused). `broke`:
    /// what a shorter one breaks (see [`super::compliance::Compliance::consequences`]),
    /// kept in the audit record. Only a governing caller.
    pub async fn set_valid_to(&self, caller: &Caller, network: &str, id: i64, valid_to: Option<NaiveDate>, reason: &str, broke: &[Breach]) -> Result<GrantRow> {
        caller.governs(network)?;
        super::check_reason(reason)?;
        let (_, policy) = self.catalog.network(network).await?;
        let mut tx = self.begin().await?;
        let grant = grant_rows::get(&mut tx, network, id).await?.into_grant()?;
        if grant.status == Status::Revoked {
            return Err(Error::Duplicate(format!("grant {id} is revoked; a revoked grant keeps its window")));
        }
        let today = chrono::Utc::now().date_naive();
        check_new_end(&grant.validity, valid_to, today)?;
        let request = serde_json::value::to_raw_value(
            &serde_json::json!({"grant_id": id, "valid_to": valid_to, "was": grant.validity.to, "reason": reason, "broke": broke}),
        )
        .map_err(Error::data("the change's audit record"))?;
        let longer = match (grant.validity.to, valid_to) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(was), Some(to)) => to > was,
        };
        if longer {
            let proposal = Proposal {
                network: network.to_string(),
                partner_id: grant.partner_id,
                partner_name: grant.partner_name.clone(),
                tier: grant.tier.clone(),
                territory: grant.territory.clone(),
                exclusive: grant.exclusive,
                validity: Validity { from: grant.validity.from, to: valid_to },
                reserved_until: None,
                note: grant.note.clone(),
            };
            let others = self.index().shared(network).map(|n| n.without(id));
            let regions = self.catalog.regions();
            let decision = super::cpu(|| others.map(|g| g.decide(&proposal, &regions, policy.sliver_tolerance, today)).unwrap_or_default()).await?;
            if !decision.ok() {
                let met = if decision.conflicts.is_empty() { &decision.duplicates } else { &decision.conflicts };
                let refusal = Decided {
                    action: "valid_to",
                    result: "refused",
                    grant_id: Some(id),
                    outlet_id: None,
                    request: &request,
                    conflicts: met,
                    actor: &caller.actor,
                };
                grant_rows::record(&mut tx, network, refusal).await?;
                tx.commit().await?;
                return Err(refusal_of(decision, grant.partner_id));
            }
        }
        let seq = grant_rows::set_valid_to(&mut tx, id, valid_to).await?;
        let changed =
            Decided { action: "valid_to", result: "changed", grant_id: Some(id), outlet_id: None, request: &request, conflicts: &[], actor: &caller.actor };
        self.record_and_apply(tx, network, (id, seq), changed).await
    }

    /// The end of a write to grant `id`: records `decided`, commits, and applies the row
    /// written at `seq` to the index.
    async fn record_and_apply(&self, mut tx: WriteTx, network: &str, (id, seq): (i64, i64), decided: Decided<'_>) -> Result<GrantRow> {
        grant_rows::record(&mut tx, network, decided).await?;
        tx.commit().await?;
        let row = self.store.grant(network, id).await?;
        self.applied(vec![row.clone().into_grant()?], seq);
        Ok(row)
    }

    /// Refuses a new last day for grant `id` that [`Ledger::set_valid_to`] would refuse as
    /// invalid (422), before its consequences are asked for.
    pub async fn check_valid_to(&self, network: &str, id: i64, valid_to: Option<NaiveDate>) -> Result<()> {
        let grant = self.store.grant(network, id).await?.into_grant()?;
        check_new_end(&grant.validity, valid_to, chrono::Utc::now().date_naive())
    }

    /// Checks a batch of proposals against the stored grants and against each other
    /// (each against the ones after it), writing nothing. Every invalid proposal's problems
    /// are located under its `base`; any makes the whole batch a 422.
    pub async fn check_batch(&self, caller: &Caller, network: &str, items: &[BatchItem], sys: CoordSys) -> Result<Vec<ItemCheck>> {
        let viewer = caller.enter(network, Role::Planner)?;
        let mut proposals = Vec::with_capacity(items.len());
        let mut errors = Vec::new();
        if items.is_empty() {
            errors.push(InputError::at("/features", "no features to check"));
        }
        for (i, item) in items.iter().enumerate() {
            viewer.acts_for(Some(item.request.partner_id), &format!("feature {i}"))?;
            match self.propose(network, &item.request, sys).await {
                Ok((proposal, policy)) => {
                    let mut grant = proposal.clone().into_grant(-(i as i64) - 1, String::new());
                    grant.partner_name = format!("partner {} ({})", proposal.partner_id, item.label);
                    proposals.push((proposal, grant, policy));
                }
                Err(Error::Invalid(e)) => errors.extend(e.into_iter().map(|e| relocate(e, &item.base))),
                Err(e) => return Err(e),
            }
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        super::cpu(|| self.decide_batch(viewer, items, &proposals)).await
    }

    /// The second half of [`Ledger::check_batch`]: each proposal against the stored grants
    /// and the batch's later proposals.
    fn decide_batch(&self, viewer: Viewer, items: &[BatchItem], proposals: &[(Proposal, Grant, &Policy)]) -> Vec<ItemCheck> {
        let regions = self.catalog.regions();
        let mut answers = Vec::with_capacity(items.len());
        for (i, (proposal, grant, policy)) in proposals.iter().enumerate() {
            let mut decision = self.decide(proposal, policy);
            for (_, other, _) in proposals.iter().skip(i + 1) {
                if rule_applies((grant.partner_id, grant.exclusive, &grant.validity), (other.partner_id, other.exclusive, &other.validity)) {
                    compare(&proposal.territory, other, &regions, policy.sliver_tolerance, &mut decision);
                }
            }
            let ok = decision.ok();
            let in_batch = |e: &ConflictEntry| e.grant_id < 0;
            let view = |list: Vec<ConflictEntry>| list.into_iter().map(|e| if in_batch(&e) { Viewer::All.conflict(e) } else { viewer.conflict(e) }).collect();
            answers.push(ItemCheck {
                feature: i,
                label: items[i].label.clone(),
                ok,
                conflicts: view(decision.conflicts),
                warnings: view(decision.warnings),
                duplicates: view(decision.duplicates),
            });
        }
        answers
    }

    /// Grants of a network with these filters: whole, or for a partner token its own whole
    /// and others' as anonymous geometry.
    pub async fn grants(&self, caller: &Caller, network: &str, filter: &GrantFilter) -> Result<Vec<SeenGrant>> {
        let entered = self.catalog.enter(caller, network, Role::Viewer).await?;
        let rows = self.store.list_grants(network, filter).await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                if entered.viewer.sees(row.partner_id) {
                    SeenGrant::Whole(row)
                } else {
                    SeenGrant::Anonymous(AnonymousGrant { geometry: row.geometry, status: row.status })
                }
            })
            .collect())
    }

    /// Grants of a network with these filters, for the services' own use (no access check).
    pub async fn grant_rows(&self, network: &str, filter: &GrantFilter) -> Result<Vec<GrantRow>> {
        self.store.list_grants(network, filter).await
    }

    /// One grant; a partner token reads only its own (403).
    pub async fn one(&self, caller: &Caller, network: &str, id: i64) -> Result<GrantRow> {
        let entered = self.catalog.enter(caller, network, Role::Viewer).await?;
        let row = self.store.grant(network, id).await?;
        if !entered.viewer.sees(row.partner_id) {
            return Err(crate::domain::access::Denied(format!("grant {id} is not your partner's")).into());
        }
        Ok(row)
    }

    /// Every conflicting pair among the stored active grants of a network (not for
    /// partner tokens: the list is about other partners).
    pub async fn conflicts(&self, caller: &Caller, network: &str) -> Result<Vec<(i64, ConflictEntry)>> {
        whole_network(caller, network, "the conflicts of the whole network")?;
        self.conflicts_of(network).await
    }

    /// Every conflicting pair among the stored active grants (no access check).
    pub async fn conflicts_of(&self, network: &str) -> Result<Vec<(i64, ConflictEntry)>> {
        let (_, policy) = self.catalog.network(network).await?;
        let mut conn = self.store.pool.acquire().await?;
        self.sync(&mut conn).await?;
        drop(conn);
        let regions = self.catalog.regions();
        let today = chrono::Utc::now().date_naive();
        let grants: Vec<Arc<Grant>> = self.index().network(network).map(|n| n.iter().filter(|g| g.holds(today)).cloned().collect()).unwrap_or_default();
        Ok(conflicts_among(&grants, &regions, policy.sliver_tolerance))
    }

    /// The grants of a network in force on some day of `period`, from the stored rows: a
    /// revoked grant until the day before its revoke, as if active then (no access check).
    pub async fn grants_in_force(&self, network: &str, period: crate::domain::period::Period) -> Result<Vec<Arc<Grant>>> {
        let rows = self.store.list_grants(network, &GrantFilter::default()).await?;
        let mut grants = Vec::new();
        for row in rows {
            let window = row.window_in_force();
            let mut grant = row.into_grant()?;
            let Some(window) = window.filter(|w| period.meets(w.from, w.to)) else { continue };
            if grant.status == Status::Revoked {
                (grant.validity, grant.status) = (window, Status::Active);
            }
            grants.push(Arc::new(grant));
        }
        Ok(grants)
    }

    /// Every conflicting pair among the grants in force during `period` (see
    /// [`Ledger::grants_in_force`]; no access check).
    pub async fn conflicts_during(&self, network: &str, period: crate::domain::period::Period) -> Result<Vec<(i64, ConflictEntry)>> {
        let grants = self.grants_in_force(network, period).await?;
        self.conflicts_between(network, &grants).await
    }

    /// Every conflicting pair among these grants of a network, with the regions brought up
    /// to date first (no access check).
    pub async fn conflicts_between(&self, network: &str, grants: &[Arc<Grant>]) -> Result<Vec<(i64, ConflictEntry)>> {
        let (_, policy) = self.catalog.network(network).await?;
        self.refresh().await?;
        let regions = self.catalog.regions();
        super::cpu(|| conflicts_among(grants, &regions, policy.sliver_tolerance)).await
    }

    /// How terminating partner `partner_id` on `last_day` would change its grants that the
    /// index holds (see [`crate::domain::grants::ended_on`]); inside a write transaction,
    /// as they stand under the write lock.
    pub fn ended_by_termination(&self, network: &str, partner_id: i64, last_day: NaiveDate) -> Vec<(i64, Option<Validity>)> {
        let index = self.index();
        let held: Vec<&Grant> =
            index.network(network).map(|n| n.iter().filter(|g| g.partner_id == partner_id).map(|g| g.as_ref()).collect()).unwrap_or_default();
        crate::domain::grants::ended_on(&held, last_day)
    }

    /// Every conflicting pair on a day, past or future (not for partner tokens).
    pub async fn conflicts_on(&self, caller: &Caller, network: &str, day: NaiveDate) -> Result<Vec<(i64, ConflictEntry)>> {
        whole_network(caller, network, "the conflicts of the whole network")?;
        self.conflicts_during(network, crate::domain::period::Period::day(day)).await
    }

    /// The decisions of a network that pass `filter`, oldest first (not for partner tokens).
    pub async fn audit(&self, caller: &Caller, network: &str, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        whole_network(caller, network, "the audit log")?;
        self.catalog.network(network).await?;
        self.store.audit(network, filter).await
    }
}

/// A grant's new last day: never before today, nor before its first day.
fn check_new_end(validity: &Validity, valid_to: Option<NaiveDate>, today: NaiveDate) -> Result<()> {
    match valid_to {
        Some(to) if to < today => Err(Error::invalid("/valid_to", format!("{to} is before today ({today}): a grant's end moves only in the future"))),
        Some(to) if to < validity.from => Err(Error::invalid("/valid_to", format!("{to} is before the grant's first day {}", validity.from))),
        _ => Ok(()),
    }
}

/// The error of a refused decision: 409 `duplicate` naming the partner's own grants
/// holding the territory, or 409 `conflict` with every conflicting grant.
fn refusal_of(decision: Decision, partner_id: i64) -> Error {
    if decision.conflicts.is_empty() {
        let held: Vec<String> =
            decision.duplicates.iter().map(|c| format!("grant {} ({:.1} km² of this territory, from {})", c.grant_id, c.overlap_km2, c.valid_from)).collect();
        return Error::Duplicate(format!("refused: partner {partner_id} already holds this territory: {}", held.join(", ")));
    }
    let n = decision.conflicts.len();
    let names: Vec<String> = decision.conflicts.iter().map(|c| format!("grant {} of {}", c.grant_id, c.partner_name)).collect();
    Error::Conflict {
        detail: format!("refused: the territory overlaps {n} exclusive grant(s): {}", names.join(", ")),
        conflicts: seen(Viewer::All, decision.conflicts),
        warnings: seen(Viewer::All, decision.warnings),
    }
}

/// Refuses partner tokens the routes about every partner of a network.
fn whole_network(caller: &Caller, network: &str, what: &str) -> Result<()> {
    match caller.enter(network, Role::Viewer)? {
        Viewer::All => Ok(()),
        Viewer::Partner(p) => Err(crate::domain::access::Denied(format!("a partner token (partner {p}) cannot read {what}")).into()),
    }
}

/// Conflicts as `viewer` may see them.
fn seen(viewer: Viewer, list: Vec<ConflictEntry>) -> Vec<SeenConflict> {
    list.into_iter().map(|e| viewer.conflict(e)).collect()
}

/// A problem of one proposal of a batch (pointers into a grant request body) located in
/// the batch: the territory's geometry under `{base}/geometry`, every other field under
/// `{base}/properties`.
fn relocate(e: InputError, base: &str) -> InputError {
    if e.pointer.starts_with("/geometry") { e.under(base) } else { e.under(&format!("{base}/properties")) }
}

/// The index, read-locked.
pub struct IndexGuard<'a>(RwLockReadGuard<'a, Held>);

impl std::ops::Deref for IndexGuard<'_> {
    type Target = GrantIndex;
    fn deref(&self) -> &GrantIndex {
        &self.0.index
    }
}
