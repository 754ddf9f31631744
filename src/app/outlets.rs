//! Outlets: validated against the network's policy and standard, placed by the territory
//! rule inside the ledger's write protocol, and kept as history when closed.

use super::catalog::Catalog;
use super::ledger::Ledger;
use crate::domain::access::{Caller, Role, Viewer};
use crate::domain::compliance::Breach;
use crate::domain::grants::GrantRef;
use crate::domain::outlets::{self, ImportSource, Outlet, OutletRequest, OutletStatus, place};
use crate::domain::pipeline::Pipeline;
use crate::error::{Error, Result};
use crate::geometry::CoordSys;
use crate::input::{deserialize_located, merge_patch, parse_date};
use crate::store::Store;
use crate::store::outlets::{self as outlet_rows};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

pub use crate::store::outlets::OutletFilter;

/// Body of `POST /networks/{net}/outlets/{id}/close`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    /// Why it closes.
    pub reason: String,
    /// Closing date (ISO 8601); default today.
    #[serde(default)]
    pub closed_on: Option<String>,
    /// Close even if it breaks the standard (a city showroom or quick service left without
    /// its anchor store).
    #[serde(default)]
    pub force: bool,
}

/// Body of `POST /networks/{net}/outlets/{id}/stage`: a move in the pipeline.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageRequest {
    /// The stage to move to: `approved`, `rejected` or `cancelled` from `proposed`;
    /// `under_construction`, `open` or `cancelled` from `approved`; `open` or `cancelled`
    /// from `under_construction`.
    pub status: OutletStatus,
    /// The day of the move (ISO 8601): today or earlier, not before the stage it leaves;
    /// default today.
    #[serde(default)]
    pub on: Option<String>,
    /// A new planned opening, for an outlet still in the pipeline after the move.
    #[serde(default)]
    pub planned_open_on: Option<String>,
    /// Why: required for `rejected` and `cancelled`.
    #[serde(default)]
    pub reason: Option<String>,
}

/// An outlet with its partner's name, as answers show it.
#[derive(Debug, Clone)]
pub struct NamedOutlet {
    /// The outlet.
    pub outlet: Outlet,
    /// Its partner's name (none for a competitor's).
    pub partner_name: Option<String>,
}

impl NamedOutlet {
    /// The outlet as a GeoJSON Feature.
    pub fn feature(&self) -> Value {
        self.outlet.feature(self.partner_name.as_deref())
    }
}

/// Outlets.
#[derive(Debug)]
pub struct Outlets {
    store: Store,
    catalog: Arc<Catalog>,
    ledger: Arc<Ledger>,
}

/// What an import stored.
#[derive(Debug)]
pub struct Imported {
    /// Every outlet of the file as stored, in the file's order.
    pub outlets: Vec<Outlet>,
    /// How many of them updated an outlet with the same `external_id`.
    pub updated: usize,
}

/// What storing an outlet whose `external_id` names a stored one does.
#[derive(Debug, Clone, Copy)]
enum ByExternalId {
    /// Updates it (an import).
    Update,
    /// Refuses with 409 (a new outlet).
    Refuse,
}

/// Today (UTC), the last day a move may be dated.
fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// Records in the audit log that `outlet` reached its stage (`request`: what was asked).
async fn record_stage(tx: &mut crate::store::WriteTx, caller: &Caller, outlet: &Outlet, request: Value) -> Result<()> {
    let request = serde_json::value::to_raw_value(&request).map_err(Error::data("the stage move's audit record"))?;
    let moved = crate::store::grants::Decided {
        action: "stage",
        result: outlet.status.as_str(),
        grant_id: None,
        outlet_id: Some(outlet.id),
        request: &request,
        conflicts: &[],
        actor: &caller.actor,
    };
    crate::store::grants::record(tx, &outlet.network, moved).await
}

impl Outlets {
    pub(super) fn new(store: Store, catalog: Arc<Catalog>, ledger: Arc<Ledger>) -> Outlets {
        Outlets { store, catalog, ledger }
    }

    /// Validates an outlet request against the network's policy and standard.
    async fn validate(&self, network: &str, req: &OutletRequest, sys: CoordSys) -> Result<Outlet> {
        let (_, policy) = self.catalog.network(network).await?;
        let partner_known = match req.partner_id {
            Some(id) => match self.catalog.partner(network, id).await? {
                Some(p) if p.status == crate::domain::network::PartnerStatus::Terminated => {
                    return Err(Error::invalid("/partner_id", format!("partner {id} is terminated: it takes no new outlet")));
                }
                known => known.is_some(),
            },
            None => false,
        };
        Ok(outlets::validate(network, req, policy, partner_known, sys, today())?)
    }

    /// Refuses an own outlet, open or in the pipeline, that would stand outside its
    /// partner's grants in force on the day it is (or is planned to be) open, or inside
    /// another partner's exclusive grant (both 409, naming the grants as `viewer` may see
    /// them).
    fn check_placement(&self, viewer: Viewer, o: &Outlet) -> Result<()> {
        let (Some(partner_id), false) = (o.partner_id, o.competitor) else { return Ok(()) };
        let day = match o.status {
            OutletStatus::Open => today(),
            s if s.in_pipeline() => o.planned_open_on.map_or(today(), |d| d.max(today())),
            _ => return Ok(()),
        };
        let index = self.ledger.index();
        let placement = place(index.network(&o.network), partner_id, o.location, day, today());
        let (lon, lat) = (o.location.x(), o.location.y());
        let refs: Vec<GrantRef> = placement.foreign_exclusive.iter().map(|g| GrantRef::from(g.as_ref())).collect();
        let names: Vec<String> = refs.iter().map(|g| viewer.name_grant(g.grant_id, g.partner_id, &g.partner_name)).collect();
        let grants = refs.into_iter().map(|g| viewer.grant_ref(g)).collect();
        if placement.own.is_empty() {
            return Err(Error::Placement {
                detail: format!("the outlet at ({lon}, {lat}) stands outside every grant of partner {partner_id} in force on {day}"),
                grants,
            });
        }
        if !placement.foreign_exclusive.is_empty() {
            return Err(Error::Placement {
                detail: format!("the outlet at ({lon}, {lat}) stands inside another partner's exclusive territory: {}", names.join(", ")),
                grants,
            });
        }
        Ok(())
    }

    /// Stores validated outlets in one transaction of the ledger's protocol, all or
    /// nothing: each own outlet must stand inside an active grant of its partner in force
    /// today (or, in the pipeline, on its planned opening), and not inside another
    /// partner's exclusive grant. An outlet entering the pipeline is in the audit log.
    async fn store_all(&self, caller: &Caller, viewer: Viewer, outlets: &[Outlet], by_external_id: ByExternalId) -> Result<Imported> {
        let mut tx = self.ledger.begin().await?;
        let mut imported = Imported { outlets: Vec::with_capacity(outlets.len()), updated: 0 };
        for (i, o) in outlets.iter().enumerate() {
            self.check_placement(viewer, o).map_err(|e| match e {
                Error::Placement { detail, grants } if outlets.len() > 1 => Error::Placement { detail: format!("outlet {i} (`{}`): {detail}", o.name), grants },
                e => e,
            })?;
            let existing = match (&o.external_id, by_external_id) {
                (Some(external_id), ByExternalId::Update) => outlet_rows::by_external_id(&mut tx, &o.network, external_id).await?,
                _ => None,
            };
            let stored = match existing {
                Some(old) => {
                    // The file's figures replace the stored ones; an ended outlet stays ended.
                    let mut o = o.clone();
                    if old.status.ended() {
                        (o.status, o.closed_on, o.close_reason) = (old.status, old.closed_on, old.close_reason);
                    }
                    imported.updated += 1;
                    outlet_rows::replace(&mut tx, old.id, &o).await?
                }
                None => {
                    let stored = outlet_rows::insert(&mut tx, o).await?;
                    if stored.status.in_pipeline() {
                        let on = [stored.construction_started_on, stored.approved_on, stored.proposed_on].into_iter().flatten().next();
                        record_stage(&mut tx, caller, &stored, serde_json::json!({"outlet_id": stored.id, "created": true, "on": on})).await?;
                    }
                    stored
                }
            };
            imported.outlets.push(stored);
        }
        tx.commit().await?;
        Ok(imported)
    }

    /// Creates one outlet. Admins; a partner token only its own partner's.
    pub async fn create(&self, caller: &Caller, network: &str, req: &OutletRequest, sys: CoordSys) -> Result<NamedOutlet> {
        let viewer = caller.enter(network, Role::Admin)?;
        viewer.acts_for(req.partner_id, "this outlet")?;
        let outlet = self.validate(network, req, sys).await?;
        let stored = self
            .store_all(caller, viewer, &[outlet], ByExternalId::Refuse)
            .await?
            .outlets
            .pop()
            .ok_or_else(|| Error::Internal("insert returned no outlet".into()))?;
        self.named(network, stored).await
    }

    /// Imports outlets from file rows, all or nothing: every row is validated first (every
    /// problem located by feature or line), then all are placed and stored in one
    /// transaction. A row whose `external_id` names a stored outlet updates it (so that
    /// importing a file again changes nothing); two rows may not name the same one.
    pub async fn import(&self, caller: &Caller, network: &str, rows: &[(ImportSource, Value)], sys: CoordSys) -> Result<Imported> {
        let viewer = caller.enter(network, Role::Admin)?;
        self.catalog.network(network).await?;
        let mut outlets = Vec::with_capacity(rows.len());
        let mut errors = Vec::new();
        for (source, body) in rows {
            let result = match deserialize_located::<OutletRequest>(body) {
                Ok(req) => {
                    viewer.acts_for(req.partner_id, "an imported outlet")?;
                    self.validate(network, &req, sys).await
                }
                Err(e) => Err(e.into()),
            };
            match result {
                Ok(o) => outlets.push(o),
                Err(Error::Invalid(e)) => errors.extend(e.into_iter().map(|e| source.locate(e))),
                Err(e) => return Err(e),
            }
        }
        if rows.is_empty() {
            errors.push(crate::input::InputError::at("", "the file holds no outlet"));
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        // Every row became an outlet: they go in the rows' order.
        let mut first_row: HashMap<&str, ImportSource> = HashMap::new();
        for ((source, _), o) in rows.iter().zip(&outlets) {
            let Some(external_id) = o.external_id.as_deref() else { continue };
            match first_row.get(external_id) {
                Some(first) => {
                    let detail = format!("external_id `{external_id}` names the outlet of {} too", first.describe());
                    errors.push(source.locate(crate::input::InputError::at("/external_id", detail)));
                }
                None => {
                    first_row.insert(external_id, *source);
                }
            }
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        self.store_all(caller, viewer, &outlets, ByExternalId::Update).await
    }

    /// Updates an open outlet with a JSON Merge Patch (RFC 7396) over its request form;
    /// the result is validated and placed like a new outlet. The outlet is read, and its
    /// state checked, inside the write transaction: a close racing the update wins or
    /// loses whole, never reopened by it.
    pub async fn update(&self, caller: &Caller, network: &str, id: i64, patch: &Value, sys: CoordSys) -> Result<NamedOutlet> {
        let viewer = caller.enter(network, Role::Admin)?;
        self.catalog.network(network).await?;
        let Some(fields) = patch.as_object() else {
            return Err(Error::invalid("", "a merge patch is a JSON object of the fields to change"));
        };
        for field in ["status", "proposed_on", "approved_on", "construction_started_on"] {
            if fields.contains_key(field) {
                return Err(Error::invalid(
                    format!("/{field}"),
                    format!("an outlet moves through its stages with POST /networks/{network}/outlets/{id}/stage"),
                ));
            }
        }
        let mut tx = self.ledger.begin().await?;
        let existing = outlet_rows::get(&mut tx, network, id).await?;
        viewer.acts_for(existing.partner_id, &format!("outlet {id}"))?;
        if existing.status.ended() {
            return Err(Error::Duplicate(format!("outlet {id} is {}; ended outlets are kept as they were", existing.status.as_str())));
        }
        let mut merged = serde_json::to_value(existing.as_request()).map_err(Error::data("the stored outlet as a request"))?;
        merge_patch(&mut merged, patch);
        let req: OutletRequest = deserialize_located(&merged)?;
        viewer.acts_for(req.partner_id, "the updated outlet")?;
        // Only a location given in the patch is in `sys`; the stored one is WGS84 already.
        let sys = if patch.get("location").is_some() { sys } else { CoordSys::Wgs84 };
        let mut outlet = self.validate(network, &req, sys).await?;
        outlet.id = id;
        self.check_placement(viewer, &outlet)?;
        let stored = outlet_rows::replace(&mut tx, id, &outlet).await?;
        tx.commit().await?;
        self.named(network, stored).await
    }

    /// Closes an open outlet (kept as history); its state is checked inside the write
    /// transaction. `broke`: what the close breaks (see
    /// [`super::compliance::Compliance::consequences`]); if anything, the audit log keeps it.
    pub async fn close(&self, caller: &Caller, network: &str, id: i64, req: &CloseRequest, broke: &[Breach]) -> Result<NamedOutlet> {
        let viewer = caller.enter(network, Role::Admin)?;
        self.catalog.network(network).await?;
        super::check_reason(&req.reason)?;
        let closed_on = req.closed_on.as_deref().map(|s| parse_date(s, "/closed_on")).transpose()?;
        let mut tx = self.store.begin_write().await?;
        let mut outlet = outlet_rows::get(&mut tx, network, id).await?;
        viewer.acts_for(outlet.partner_id, &format!("outlet {id}"))?;
        if outlet.status != OutletStatus::Open {
            let hint = if outlet.status.in_pipeline() { ": an outlet not open yet is cancelled (POST .../stage)" } else { "" };
            return Err(Error::Duplicate(format!("outlet {id} is {}{hint}", outlet.status.as_str())));
        }
        let closed_on = closed_on.unwrap_or_else(|| chrono::Utc::now().date_naive());
        if let Some(opened) = outlet.opened_on
            && closed_on < opened
        {
            return Err(Error::invalid("/closed_on", format!("{closed_on} is before the opening date {opened}")));
        }
        outlet.status = OutletStatus::Closed;
        outlet.closed_on = Some(closed_on);
        outlet.close_reason = Some(req.reason.clone());
        let stored = outlet_rows::replace(&mut tx, id, &outlet).await?;
        if !broke.is_empty() {
            let request = serde_json::value::to_raw_value(&serde_json::json!({"outlet_id": id, "reason": req.reason, "broke": broke}))
                .map_err(Error::data("the close's audit record"))?;
            let closed = crate::store::grants::Decided {
                action: "close",
                result: "closed",
                grant_id: None,
                outlet_id: Some(id),
                request: &request,
                conflicts: &[],
                actor: &caller.actor,
            };
            crate::store::grants::record(&mut tx, network, closed).await?;
        }
        tx.commit().await?;
        self.named(network, stored).await
    }

    /// Moves an outlet in the pipeline (see [`StageRequest`]), read and checked inside the
    /// write transaction; the move is in the audit log with who made it. Opening places
    /// the outlet like a new one, and a new planned opening is placed on its day.
    pub async fn move_stage(&self, caller: &Caller, network: &str, id: i64, req: &StageRequest) -> Result<NamedOutlet> {
        let viewer = caller.enter(network, Role::Admin)?;
        self.catalog.network(network).await?;
        if let Some(reason) = &req.reason {
            super::check_reason(reason)?;
        }
        let on = req.on.as_deref().map(|s| parse_date(s, "/on")).transpose()?.unwrap_or_else(today);
        let planned = req.planned_open_on.as_deref().map(|s| parse_date(s, "/planned_open_on")).transpose()?;
        let mut tx = self.ledger.begin().await?;
        let outlet = outlet_rows::get(&mut tx, network, id).await?;
        viewer.acts_for(outlet.partner_id, &format!("outlet {id}"))?;
        let moved = outlets::move_to(&outlet, req.status, on, today(), planned, req.reason.as_deref()).map_err(|e| match e {
            outlets::MoveRefused::State(detail) => Error::Duplicate(detail),
            outlets::MoveRefused::Invalid(e) => Error::Invalid(vec![e]),
        })?;
        self.check_placement(viewer, &moved)?;
        let stored = outlet_rows::replace(&mut tx, id, &moved).await?;
        let request = serde_json::json!({"outlet_id": id, "from": outlet.status, "to": req.status, "on": on, "planned_open_on": planned, "reason": req.reason});
        record_stage(&mut tx, caller, &stored, request).await?;
        tx.commit().await?;
        self.named(network, stored).await
    }

    /// Outlets with these filters; a partner token sees its own and competitors' only.
    /// With `on`, only the outlets open on that day, or, for a later day, planned to be
    /// open by then (see [`Outlet::planned_open_on`]).
    pub async fn list(&self, caller: &Caller, network: &str, filter: &OutletFilter, on: Option<NaiveDate>) -> Result<Vec<NamedOutlet>> {
        let viewer = caller.enter(network, Role::Viewer)?;
        self.catalog.network(network).await?;
        let names = self.names(network).await?;
        let outlets = self.store.list_outlets(network, filter).await?;
        Ok(outlets
            .into_iter()
            .filter(|o| o.competitor || o.partner_id.is_some_and(|p| viewer.sees(p)))
            .filter(|o| on.is_none_or(|day| o.planned_open_on(day, today())))
            .map(|o| NamedOutlet { partner_name: o.partner_id.and_then(|p| names.get(&p).cloned()), outlet: o })
            .collect())
    }

    /// Every outlet in the pipeline on `on` (default today; past or future), with its
    /// stage, due day and days left, for one partner or all; a partner token sees its own
    /// and competitors' only.
    pub async fn pipeline(&self, caller: &Caller, network: &str, partner_id: Option<i64>, on: Option<NaiveDate>) -> Result<Pipeline> {
        let viewer = caller.enter(network, Role::Viewer)?;
        let (_, policy) = self.catalog.network(network).await?;
        if let Some(id) = partner_id {
            viewer.acts_for(Some(id), &format!("partner {id}'s pipeline"))?;
            self.catalog.partner(network, id).await?.ok_or_else(|| Error::NotFound(format!("no partner {id} in network `{network}`")))?;
        }
        let day = on.unwrap_or_else(today);
        let names = self.names(network).await?;
        let filter = OutletFilter { partner_id, ..Default::default() };
        let outlets = self.store.list_outlets(network, &filter).await?;
        let seen = outlets.iter().filter(|o| o.competitor || o.partner_id.is_some_and(|p| viewer.sees(p)));
        let mut entries = crate::domain::pipeline::entries(seen, policy.standard(), day);
        for e in &mut entries {
            e.partner_name = e.partner_id.and_then(|p| names.get(&p).cloned());
        }
        let overdue = entries.iter().filter(|e| e.overdue).count();
        Ok(Pipeline { network: network.to_string(), on: day, in_pipeline: entries.len(), overdue, entries })
    }

    /// One outlet; a partner token reads only its own (403).
    pub async fn one(&self, caller: &Caller, network: &str, id: i64) -> Result<NamedOutlet> {
        let viewer = caller.enter(network, Role::Viewer)?;
        self.catalog.network(network).await?;
        let outlet = self.store.outlet(network, id).await?;
        viewer.acts_for(outlet.partner_id, &format!("outlet {id}"))?;
        self.named(network, outlet).await
    }

    async fn names(&self, network: &str) -> Result<HashMap<i64, String>> {
        Ok(self.catalog.all_partners(network).await?.into_iter().map(|p| (p.id, p.name)).collect())
    }

    async fn named(&self, network: &str, outlet: Outlet) -> Result<NamedOutlet> {
        let partner_name = match outlet.partner_id {
            Some(p) => self.catalog.partner(network, p).await?.map(|p| p.name),
            None => None,
        };
        Ok(NamedOutlet { outlet, partner_name })
    }
}
