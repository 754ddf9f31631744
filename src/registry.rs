//! The territory registry: validates grant requests, decides them against the
//! exclusivity rule, and stores them atomically. HTTP handlers and CLI commands both go
//! through it.
//!
//! A decision to grant runs entirely inside one `BEGIN IMMEDIATE` transaction:
//! 1. take SQLite's write lock (every other writer, in any process, waits);
//! 2. bring the grant index up to `state.grants_seq` (rows other instances wrote);
//! 3. decide on the index;
//! 4. insert the grant (or only the refusal) and the audit record, bump `grants_seq`;
//! 5. commit, then apply the new grant to the index.
//!
//! So two requests racing for the same land cannot both win, and after a restart the
//! index is rebuilt from the same rows: every decision comes out the same.

use crate::error::{Error, Result};
use crate::input::InputError;
use serde_json::value::RawValue;
use crate::domain::exclusivity::{GrantIndex, conflicts_among, regions_geojson, union_of_regions};
use crate::geometry::{self, CoordSys, GeometryLimits, Shape};
use crate::domain::grants::{ConflictEntry, Decision, Grant, Proposal, Status, Territory, Validity};
use crate::domain::compliance;
use crate::domain::demand::synthesize::{self, Report as SynthesisReport};
use crate::domain::demand::DemandGrid;
use crate::domain::scoring::{self, model::Scenario};
use crate::domain::scoring::network::{CandidateInput, ExcludedCandidate, PlanAnswer, ScoreAnswer, ScoredCandidate};
use crate::store::demand::{self as demand_rows, GridInfo};
use h3o::{CellIndex, Resolution};
use crate::domain::grants::GrantRef;
use crate::domain::outlets::{self, ImportSource, Outlet, OutletRequest, OutletStatus, place};
use crate::domain::policy::{self, Policy};
use crate::domain::regions::{RegionSet, parse_layer};
use crate::store::grants::{self as grant_rows, GrantRow};
use crate::domain::network::{Network, Partner};
use crate::store::outlets::{self as outlet_rows, OutletFilter};
use crate::store::{Store, regions as region_rows};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// A request to grant a territory (API.md, Grants).
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
    /// Free text.
    #[serde(default)]
    pub note: Option<String>,
    /// The drawn geometry as the HTTP layer read it straight from the body, in place of
    /// `geometry` (never given in a body).
    #[serde(skip)]
    pub read_geometry: Option<ReadGeometry>,
}

impl GrantRequest {
    /// The drawn territory, if one was given: as read from the body, or as its text.
    fn drawing(&self) -> Option<Drawing<'_>> {
        match (&self.read_geometry, &self.geometry) {
            (Some(read), _) => Some(Drawing::Read(read)),
            (None, Some(text)) => Some(Drawing::Text(text)),
            (None, None) => None,
        }
    }
}

/// A drawn territory as a request gives it.
enum Drawing<'r> {
    /// Read from the body by the HTTP layer.
    Read(&'r ReadGeometry),
    /// GeoJSON text, to read.
    Text(&'r RawValue),
}

/// A drawn geometry read from a request body as it arrived ([`geometry::read`]), with the
/// datum and limits it was read under and its text (a slice of the body, not a copy).
#[derive(Debug, Clone)]
pub struct ReadGeometry {
    /// The MultiPolygon (WGS84, not yet checked for OGC validity) and whether it was written as one.
    pub area: (geo::MultiPolygon<f64>, bool),
    /// The datum its coordinates were converted from.
    pub sys: CoordSys,
    /// The limits it was read within.
    pub limits: GeometryLimits,
    /// Its GeoJSON text.
    pub text: axum::body::Bytes,
}

/// Called after each step of a plan with (steps done, k).
pub type StepProgress = Arc<dyn Fn(usize, usize) + Send + Sync>;

/// How a plan chooses.
#[derive(Clone, Default)]
pub struct PlanOptions {
    /// Told after each step (the CLI's progress bar).
    pub progress: Option<StepProgress>,
    /// Most sites to choose.
    pub k: usize,
    /// Stop when no candidate gains at least this.
    pub min_gain: f64,
    /// Only candidates the partner may open.
    pub within_territory: bool,
}

/// What a cached scenario was built from: grid version, outlet count, last outlet change.
type ScenarioKey = (i64, i64, Option<String>);

/// Bundled 2010 district population (data/population_2010.csv).
pub const POPULATION_2010: &str = include_str!("../data/population_2010.csv");

/// Applies a JSON Merge Patch (RFC 7396) to `target`.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in patch {
            if value.is_null() {
                map.remove(key);
            } else {
                merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// What an import of a region layer did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportSummary {
    /// Features stored (inserted or replaced).
    pub stored: usize,
    /// Regions in the database afterwards.
    pub total: i64,
}

/// How stale a dry-run check may be with respect to writes of *other* instances sharing
/// the database. This instance's own writes are visible at once, and a grant always
/// reads the database inside its write transaction, so this bounds only advisory answers.
pub const DRY_RUN_STALENESS: Duration = Duration::from_millis(50);

/// The registry: the store plus the caches decisions run on.
#[derive(Debug)]
pub struct Registry {
    /// The database.
    pub store: Store,
    /// The regions, with the `regions_seq` they were read at.
    regions: RwLock<(i64, Arc<RegionSet>)>,
    index: RwLock<GrantIndex>,
    /// Networks and partners never change once created: cached, with the database
    /// consulted on a miss (another instance may have created them).
    networks: RwLock<HashMap<String, Network>>,
    partners: RwLock<HashMap<i64, Partner>>,
    last_sync: Mutex<Option<Instant>>,
    /// Demand grids by network, with the stored version they reflect.
    grids: RwLock<HashMap<String, (i64, Arc<DemandGrid>)>>,
    /// The scenario of each network's current outlets, keyed by grid version and outlet state.
    scenarios: Mutex<HashMap<String, (ScenarioKey, Arc<Scenario>)>>,
    /// Limits on input geometry.
    pub limits: GeometryLimits,
    /// GIS layers and their tiles (see `gis::layers`).
    pub(crate) layer_cache: crate::gis::layers::LayerCache,
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn parse_date(s: &str, pointer: &str) -> Result<NaiveDate, InputError> {
    s.parse().map_err(|_| InputError::at(pointer, format!("`{s}` is not an ISO 8601 date (YYYY-MM-DD)")))
}

impl Registry {
    /// Opens the registry on a store: loads the regions and builds the grant index.
    pub async fn open(store: Store, limits: GeometryLimits) -> Result<Registry> {
        let registry = Registry {
            store,
            regions: RwLock::new((-1, Arc::new(RegionSet::default()))),
            index: RwLock::new(GrantIndex::default()),
            networks: RwLock::new(HashMap::new()),
            partners: RwLock::new(HashMap::new()),
            last_sync: Mutex::new(None),
            grids: RwLock::new(HashMap::new()),
            scenarios: Mutex::new(HashMap::new()),
            layer_cache: Default::default(),
            limits,
        };
        registry.reload().await?;
        Ok(registry)
    }

    /// Rebuilds both caches from the database.
    pub async fn reload(&self) -> Result<()> {
        let mut conn = self.store.pool.acquire().await?;
        self.reload_on(&mut conn).await
    }

    /// Rebuilds the regions and the grant index from what `conn` reads.
    async fn reload_on(&self, conn: &mut sqlx::SqliteConnection) -> Result<()> {
        let seqs = grant_rows::current_seqs(conn).await?;
        let regions = Arc::new(RegionSet::new(region_rows::load(conn).await?));
        let grants = grant_rows::changed_since(conn, 0).await?;
        let mut index = GrantIndex::default();
        index.apply(grants, seqs.grants, &regions);
        *write(&self.regions) = (seqs.regions, regions);
        *write(&self.index) = index;
        Ok(())
    }

    /// Number of active grants of a network in the index.
    pub fn grant_count(&self, network: &str) -> usize {
        read(&self.index).network(network).map_or(0, |n| n.len())
    }

    /// The regions in memory.
    pub fn regions(&self) -> Arc<RegionSet> {
        read(&self.regions).1.clone()
    }

    /// The `regions_seq` the regions in memory were read at.
    pub fn regions_seq(&self) -> i64 {
        read(&self.regions).0
    }

    /// Brings the regions and the grant index up to date with what any process committed,
    /// unless they were synced within [`DRY_RUN_STALENESS`] (for answers that write nothing).
    pub async fn refresh(&self) -> Result<()> {
        let fresh = self.last_sync.lock().unwrap_or_else(std::sync::PoisonError::into_inner).is_some_and(|t| t.elapsed() < DRY_RUN_STALENESS);
        if fresh {
            return Ok(());
        }
        let mut conn = self.store.pool.acquire().await?;
        self.sync(&mut conn).await
    }

    /// Brings the grant index up to the database's `grants_seq` on this connection, and
    /// reloads everything if another process imported regions (`regions_seq` moved).
    async fn sync(&self, conn: &mut sqlx::SqliteConnection) -> Result<()> {
        *self.last_sync.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
        let seqs = grant_rows::current_seqs(conn).await?;
        if seqs.regions != self.regions_seq() {
            return self.reload_on(conn).await;
        }
        let seq = seqs.grants;
        let known = read(&self.index).seq;
        if seq == known {
            return Ok(());
        }
        let changed = grant_rows::changed_since(conn, known).await?;
        let regions = self.regions();
        let mut index = write(&self.index);
        if seq > index.seq {
            index.apply(changed, seq, &regions);
        }
        Ok(())
    }

    /// A partner of a network, from the cache or the database.
    pub async fn partner(&self, network: &str, id: i64) -> Result<Option<Partner>> {
        if let Some(p) = read(&self.partners).get(&id) {
            return Ok((p.network == network).then(|| p.clone()));
        }
        let Some(p) = self.store.partner(network, id).await? else { return Ok(None) };
        write(&self.partners).insert(id, p.clone());
        Ok(Some(p))
    }

    /// A network and its policy, or 404.
    pub async fn network(&self, code: &str) -> Result<(Network, &'static Policy)> {
        let cached = read(&self.networks).get(code).cloned();
        let network = match cached {
            Some(n) => n,
            None => {
                let n = self.store.network(code).await?;
                write(&self.networks).insert(code.to_string(), n.clone());
                n
            }
        };
        let policy = policy::find(&network.policy)
            .ok_or_else(|| Error::Internal(format!("network `{code}` names unknown policy `{}`", network.policy)))?;
        Ok((network, policy))
    }

    /// Creates a network with a bundled policy.
    pub async fn create_network(&self, code: &str, name: &str, policy_code: &str) -> Result<Network> {
        let mut errors = Vec::new();
        if code.is_empty() || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            errors.push(InputError::at("/code", "use letters, digits, `_` or `-` (it appears in paths)"));
        }
        if name.trim().is_empty() {
            errors.push(InputError::at("/name", "must not be empty"));
        }
        if policy::find(policy_code).is_none() {
            let known: Vec<&String> = policy::bundled().keys().collect();
            errors.push(InputError::at("/policy", format!("unknown policy `{policy_code}`; bundled: {known:?}")));
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        self.store.create_network(code, name, policy_code).await
    }

    /// Creates a partner in a network; the tier must be one of the policy's.
    pub async fn create_partner(&self, network: &str, name: &str, tier: &str) -> Result<Partner> {
        let (_, policy) = self.network(network).await?;
        let mut errors = Vec::new();
        if name.trim().is_empty() {
            errors.push(InputError::at("/name", "must not be empty"));
        }
        if policy.tier(tier).is_none() {
            errors.push(InputError::at("/tier", format!("unknown tier `{tier}` for policy `{}`; tiers: {:?}", policy.code, policy.tier_codes())));
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        self.store.create_partner(network, name, tier).await
    }

    /// Builds the territory named by adcodes: each must exist, none twice or inside another.
    pub fn territory_of_regions(&self, codes: &[String], base: &str) -> Result<Territory, Vec<InputError>> {
        let regions = self.regions();
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
                    errors.push(InputError::at(format!("{base}/{i}"), format!("`{code}` and `{other}` (at {j}) overlap in the hierarchy; list each area once")));
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

    /// Builds a drawn territory: from the area the HTTP layer read from the body if it was
    /// read as this service reads it (datum, limits), else from the text.
    fn territory_of_drawing(&self, drawing: Drawing, base: &str, sys: CoordSys) -> Result<Territory, Vec<InputError>> {
        let shape = match drawing {
            Drawing::Read(read) if read.sys == sys && read.limits == self.limits => geometry::validate::drawn_shape(read.area.clone(), base)?,
            Drawing::Read(read) => {
                let text = std::str::from_utf8(&read.text).map_err(|e| vec![InputError::at(base, format!("not UTF-8: {e}"))])?;
                geometry::parse_area_text(text, base, sys, self.limits)?
            }
            Drawing::Text(text) => geometry::parse_area_text(text.get(), base, sys, self.limits)?,
        };
        Ok(Territory::new(None, shape))
    }

    /// Validates a grant request into a proposal (every problem at once, located).
    pub async fn propose(&self, network: &str, req: &GrantRequest, sys: CoordSys) -> Result<(Proposal, &'static Policy)> {
        let (_, policy) = self.network(network).await?;
        self.refresh().await?;
        let mut errors = Vec::new();
        let partner = self.partner(network, req.partner_id).await?;
        if partner.is_none() {
            errors.push(InputError::at("/partner_id", format!("no partner {} in network `{network}`", req.partner_id)));
        }
        let exclusive = match partner.as_ref().map(|p| (p, policy.tier(&p.tier))) {
            Some((_, Some(tier))) => policy.resolve_exclusive(tier, req.exclusive).map_err(|e| errors.push(InputError::at("/exclusive", e.to_string()))).ok(),
            Some((p, None)) => {
                errors.push(InputError::at("/partner_id", format!("partner {} has tier `{}`, unknown to policy `{}`", p.id, p.tier, policy.code)));
                None
            }
            None => None,
        };
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
        let territory = match (&req.adcodes, req.drawing()) {
            (Some(codes), None) => self.territory_of_regions(codes, "/adcodes").map_err(|e| errors.extend(e)).ok(),
            (None, Some(drawing)) => self.territory_of_drawing(drawing, "/geometry", sys).map_err(|e| errors.extend(e)).ok(),
            (Some(_), Some(_)) => {
                errors.push(InputError::at("", "give either `adcodes` or `geometry`, not both"));
                None
            }
            (None, None) => {
                errors.push(InputError::at("", "give the territory as `adcodes` or as `geometry`"));
                None
            }
        };
        match (errors.is_empty(), territory, exclusive, from, to) {
            (true, Some(territory), Some(exclusive), Some(from), Some(to)) => Ok((
                Proposal {
                    network: network.to_string(),
                    partner_id: req.partner_id,
                    partner_name: partner.as_ref().map(|p| p.name.clone()).unwrap_or_default(),
                    tier: partner.as_ref().map(|p| p.tier.clone()).unwrap_or_default(),
                    territory,
                    exclusive,
                    validity: Validity { from, to },
                    note: req.note.clone().unwrap_or_default(),
                },
                policy,
            )),
            _ => Err(Error::Invalid(errors)),
        }
    }

    /// Dry run: what would a grant of this proposal meet? Writes nothing.
    pub async fn check(&self, proposal: &Proposal, policy: &Policy) -> Result<Decision> {
        self.refresh().await?;
        let regions = self.regions();
        Ok(read(&self.index).decide(proposal, &regions, policy.sliver_tolerance))
    }

    /// Decides and, if clear, stores a grant, atomically; records the decision in the audit
    /// log either way. A refusal is `Error::Conflict` with every conflicting grant.
    pub async fn grant(&self, proposal: &Proposal, policy: &Policy, request: &RawValue) -> Result<(GrantRow, Decision)> {
        let mut tx = self.store.begin_write().await?;
        self.sync(&mut tx).await?;
        let regions = self.regions();
        let decision = read(&self.index).decide(proposal, &regions, policy.sliver_tolerance);
        if !decision.ok() {
            grant_rows::record(&mut tx, &proposal.network, "grant", "refused", None, request, &decision.conflicts).await?;
            tx.commit().await?;
            let n = decision.conflicts.len();
            let names: Vec<String> = decision.conflicts.iter().map(|c| format!("grant {} of {}", c.grant_id, c.partner_name)).collect();
            return Err(Error::Conflict {
                detail: format!("refused: the territory overlaps {n} exclusive grant(s): {}", names.join(", ")),
                conflicts: decision.conflicts,
                warnings: decision.warnings,
            });
        }
        let shape = &proposal.territory.shape;
        let geometry = match &proposal.territory.adcodes {
            Some(codes) => regions_geojson(codes, &shape.geometry, &regions),
            None => geometry::raw_geojson(&shape.geometry),
        };
        let geometry = geometry.get().to_string();
        let (row, seq) = grant_rows::insert(&mut tx, proposal, geometry).await?;
        grant_rows::record(&mut tx, &proposal.network, "grant", "granted", Some(row.id), request, &[]).await?;
        tx.commit().await?;
        self.applied(vec![proposal.clone().into_grant(row.id, row.created_at.clone())], seq);
        Ok((row, decision))
    }

    /// Applies rows this instance just committed at `seq` to the index, if it is at `seq - 1`.
    fn applied(&self, rows: Vec<Grant>, seq: i64) {
        let regions = self.regions();
        let mut index = write(&self.index);
        if index.seq == seq - 1 {
            index.apply(rows, seq, &regions);
        }
    }

    /// Revokes an active grant (kept as history) and records it.
    pub async fn revoke(&self, network: &str, id: i64, reason: &str) -> Result<GrantRow> {
        self.network(network).await?;
        let existing = self.store.grant(network, id).await?;
        if existing.status == Status::Revoked.as_str() {
            return Err(Error::Duplicate(format!("grant {id} is revoked already")));
        }
        let mut tx = self.store.begin_write().await?;
        self.sync(&mut tx).await?;
        let Some(seq) = grant_rows::revoke(&mut tx, network, id, reason).await? else {
            return Err(Error::Duplicate(format!("grant {id} is revoked already")));
        };
        let request = serde_json::value::to_raw_value(&serde_json::json!({"grant_id": id, "reason": reason})).map_err(|e| Error::Internal(e.to_string()))?;
        grant_rows::record(&mut tx, network, "revoke", "revoked", Some(id), &request, &[]).await?;
        tx.commit().await?;
        let row = self.store.grant(network, id).await?;
        self.applied(vec![row.clone().into_grant()?], seq);
        Ok(row)
    }

    /// Every conflicting pair among the stored active grants of a network.
    pub async fn conflicts(&self, network: &str) -> Result<Vec<(i64, ConflictEntry)>> {
        let (_, policy) = self.network(network).await?;
        let mut conn = self.store.pool.acquire().await?;
        self.sync(&mut conn).await?;
        drop(conn);
        let regions = self.regions();
        let grants: Vec<Arc<Grant>> = read(&self.index).network(network).map(|n| n.iter().cloned().collect()).unwrap_or_default();
        Ok(conflicts_among(&grants, &regions, policy.sliver_tolerance))
    }

    /// Refuses an own, open outlet that stands outside its partner's grants in force on
    /// `day`, or inside another partner's exclusive grant (both 409, naming the grants).
    fn check_placement(&self, o: &Outlet, day: NaiveDate) -> Result<()> {
        let (Some(partner_id), false, OutletStatus::Open) = (o.partner_id, o.competitor, o.status) else { return Ok(()) };
        let index = read(&self.index);
        let placement = place(index.network(&o.network), partner_id, o.location, day);
        let (lon, lat) = (o.location.x(), o.location.y());
        if placement.own.is_empty() {
            return Err(Error::Placement {
                detail: format!("the outlet at ({lon}, {lat}) stands outside every grant of partner {partner_id} in force on {day}"),
                grants: placement.foreign_exclusive.iter().map(|g| GrantRef::from(g.as_ref())).collect(),
            });
        }
        if !placement.foreign_exclusive.is_empty() {
            let grants: Vec<GrantRef> = placement.foreign_exclusive.iter().map(|g| GrantRef::from(g.as_ref())).collect();
            let names: Vec<String> = grants.iter().map(|g| format!("grant {} of {}", g.grant_id, g.partner_name)).collect();
            return Err(Error::Placement {
                detail: format!("the outlet at ({lon}, {lat}) stands inside another partner's exclusive territory: {}", names.join(", ")),
                grants,
            });
        }
        Ok(())
    }

    /// Validates an outlet request against the network's policy and standard.
    pub async fn validate_outlet(&self, network: &str, req: &OutletRequest, sys: CoordSys) -> Result<Outlet> {
        let (_, policy) = self.network(network).await?;
        let partner_known = match req.partner_id {
            Some(id) => self.partner(network, id).await?.is_some(),
            None => false,
        };
        outlets::validate(network, req, policy, partner_known, sys).map_err(Error::Invalid)
    }

    /// Stores validated outlets in one transaction, all or nothing: each own outlet must
    /// stand inside an active grant of its partner in force on the later of today and its
    /// opening date, and not inside another partner's exclusive grant.
    pub async fn create_outlets(&self, outlets: &[Outlet]) -> Result<Vec<Outlet>> {
        let mut tx = self.store.begin_write().await?;
        self.sync(&mut tx).await?;
        let today = chrono::Utc::now().date_naive();
        let mut stored = Vec::with_capacity(outlets.len());
        for (i, o) in outlets.iter().enumerate() {
            self.check_placement(o, o.opened_on.map_or(today, |d| d.max(today))).map_err(|e| match e {
                Error::Placement { detail, grants } if outlets.len() > 1 => Error::Placement { detail: format!("outlet {i} (`{}`): {detail}", o.name), grants },
                e => e,
            })?;
            stored.push(outlet_rows::insert(&mut tx, o).await?);
        }
        tx.commit().await?;
        Ok(stored)
    }

    /// Imports outlets from file rows, all or nothing: every row is validated first (every
    /// problem located by feature or line), then all are placed and stored in one transaction.
    pub async fn import_outlets(&self, network: &str, rows: &[(ImportSource, Value)], sys: CoordSys) -> Result<Vec<Outlet>> {
        self.network(network).await?;
        let mut outlets = Vec::with_capacity(rows.len());
        let mut errors = Vec::new();
        for (source, body) in rows {
            let result = match crate::input::deserialize_located::<OutletRequest>(body).map_err(Error::from) {
                Ok(req) => self.validate_outlet(network, &req, sys).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(o) => outlets.push(o),
                Err(Error::Invalid(e)) => errors.extend(e.into_iter().map(|e| source.locate(e))),
                Err(e) => return Err(e),
            }
        }
        if rows.is_empty() {
            errors.push(InputError::at("", "the file holds no outlet"));
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        self.create_outlets(&outlets).await
    }

    /// Creates one outlet.
    pub async fn create_outlet(&self, network: &str, req: &OutletRequest, sys: CoordSys) -> Result<Outlet> {
        let outlet = self.validate_outlet(network, req, sys).await?;
        let mut stored = self.create_outlets(&[outlet]).await?;
        stored.pop().ok_or_else(|| Error::Internal("insert returned no outlet".into()))
    }

    /// Updates an open outlet with a JSON Merge Patch (RFC 7396) over its request form;
    /// the result is validated and placed like a new outlet.
    pub async fn update_outlet(&self, network: &str, id: i64, patch: &Value, sys: CoordSys) -> Result<Outlet> {
        self.network(network).await?;
        let existing = self.store.outlet(network, id).await?;
        if existing.status == OutletStatus::Closed {
            return Err(Error::Duplicate(format!("outlet {id} is closed; closed outlets are kept as they were")));
        }
        if !patch.is_object() {
            return Err(Error::invalid("", "a merge patch is a JSON object of the fields to change"));
        }
        let mut merged = serde_json::to_value(existing.as_request()).map_err(|e| Error::Internal(e.to_string()))?;
        merge_patch(&mut merged, patch);
        let req: OutletRequest = crate::input::deserialize_located(&merged)?;
        // Only a location given in the patch is in `sys`; the stored one is WGS84 already.
        let sys = if patch.get("location").is_some() { sys } else { CoordSys::Wgs84 };
        let mut outlet = self.validate_outlet(network, &req, sys).await?;
        outlet.id = id;
        let mut tx = self.store.begin_write().await?;
        self.sync(&mut tx).await?;
        let today = chrono::Utc::now().date_naive();
        self.check_placement(&outlet, outlet.opened_on.map_or(today, |d| d.max(today)))?;
        let stored = outlet_rows::replace(&mut tx, id, &outlet).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Closes an open outlet (kept as history).
    pub async fn close_outlet(&self, network: &str, id: i64, reason: &str, closed_on: Option<NaiveDate>) -> Result<Outlet> {
        self.network(network).await?;
        let mut outlet = self.store.outlet(network, id).await?;
        if outlet.status == OutletStatus::Closed {
            return Err(Error::Duplicate(format!("outlet {id} is closed already")));
        }
        let closed_on = closed_on.unwrap_or_else(|| chrono::Utc::now().date_naive());
        if let Some(opened) = outlet.opened_on
            && closed_on < opened
        {
            return Err(Error::invalid("/closed_on", format!("{closed_on} is before the opening date {opened}")));
        }
        outlet.status = OutletStatus::Closed;
        outlet.closed_on = Some(closed_on);
        outlet.close_reason = Some(reason.to_string());
        let mut tx = self.store.begin_write().await?;
        let stored = outlet_rows::replace(&mut tx, id, &outlet).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// The network checked against its format standard, for all partners or one.
    pub async fn compliance(&self, network: &str, partner_id: Option<i64>) -> Result<compliance::Report> {
        let (_, policy) = self.network(network).await?;
        // With a grid, the scenario lists the outlets it was built from; without, list them here.
        let (outlets, expected_sales) = match self.store.grid_info(network).await? {
            Some(_) => {
                let (scenario, outlets) = self.scenario(network).await?;
                let for_sales = outlets.clone();
                let sales = tokio::task::spawn_blocking(move || scoring::network::outlet_sales(&scenario, policy, &for_sales))
                    .await
                    .map_err(|e| Error::Internal(e.to_string()))?;
                (outlets, Some(sales))
            }
            None => (self.store.list_outlets(network, &OutletFilter::default()).await?, None),
        };
        let partners = match partner_id {
            Some(id) => vec![self.partner(network, id).await?.ok_or_else(|| Error::NotFound(format!("no partner {id} in network `{network}`")))?],
            None => self.store.partners(network).await?,
        };
        let conflicts = self.conflicts(network).await?;
        let regions = self.regions();
        let index = read(&self.index);
        let inputs = compliance::Inputs {
            network,
            policy,
            partners: &partners,
            outlets: &outlets,
            grants: index.network(network),
            regions: &regions,
            conflicts: &conflicts,
            expected_sales: expected_sales.as_ref(),
            day: chrono::Utc::now().date_naive(),
        };
        Ok(compliance::check(&inputs))
    }

    /// A network's demand grid (cached; reloaded when another instance replaced it), or
    /// 409 if it has none.
    pub async fn grid(&self, network: &str) -> Result<(GridInfo, Arc<DemandGrid>)> {
        self.network(network).await?;
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

    /// Replaces a network's demand grid, whole, in one transaction.
    pub async fn replace_demand(&self, network: &str, rows: Vec<(CellIndex, f64)>, source: &str) -> Result<GridInfo> {
        let (_, policy) = self.network(network).await?;
        let fallback = Resolution::try_from(policy.scoring.resolution).map_err(|e| Error::Internal(e.to_string()))?;
        // Each demand is finite (checked by the readers); their sum must be too, or every
        // share the model computes from it would be NaN.
        if !rows.iter().map(|(_, d)| d).sum::<f64>().is_finite() {
            return Err(Error::invalid("", "the demands add up to more than a 64-bit float holds; give units per year"));
        }
        let grid = Arc::new(tokio::task::spawn_blocking(move || DemandGrid::new(rows, fallback)).await.map_err(|e| Error::Internal(e.to_string()))?);
        let mut tx = self.store.begin_write().await?;
        let info = demand_rows::replace(&mut tx, network, &grid, source).await?;
        tx.commit().await?;
        write(&self.grids).insert(network.to_string(), (info.version, grid));
        Ok(info)
    }

    /// Synthesises a network's grid from district population (see `demand::synthesize`)
    /// and stores it.
    pub async fn synthesize_demand(&self, network: &str, population_csv: &str, progress: impl Fn(usize, usize) + Sync + Send + 'static) -> Result<(GridInfo, SynthesisReport)> {
        let (_, policy) = self.network(network).await?;
        let settings = synthesize::bundled_settings()?;
        let resolution = Resolution::try_from(policy.scoring.resolution).map_err(|e| Error::Internal(e.to_string()))?;
        let regions = self.regions();
        let rate = policy.scoring.purchase_rate;
        let csv = population_csv.to_string();
        let (rows, report) = tokio::task::spawn_blocking(move || synthesize::synthesize(&regions, &csv, &settings, rate, resolution, progress))
            .await
            .map_err(|e| Error::Internal(e.to_string()))??;
        let info = self.replace_demand(network, rows, "synthesized from 2010 district population scaled to the 2020 census").await?;
        Ok((info, report))
    }

    /// The scenario of the network's current open outlets on its grid (cached until the
    /// grid or an outlet changes).
    pub async fn scenario(&self, network: &str) -> Result<(Arc<Scenario>, Vec<Outlet>)> {
        let (_, policy) = self.network(network).await?;
        let (info, grid) = self.grid(network).await?;
        let outlets = self.store.list_outlets(network, &OutletFilter::default()).await?;
        let key: ScenarioKey = (info.version, outlets.len() as i64, outlets.iter().map(|o| o.updated_at.clone()).max());
        let cached = self.scenarios.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(network).filter(|(k, _)| *k == key).map(|(_, s)| s.clone());
        if let Some(s) = cached {
            return Ok((s, outlets));
        }
        let for_build = outlets.clone();
        let scenario = tokio::task::spawn_blocking(move || {
            let mut s = Scenario::new(grid, &policy.scoring);
            scoring::network::add_outlets(&mut s, policy, &for_build);
            s
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
        let scenario = Arc::new(scenario);
        self.scenarios.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(network.to_string(), (key, scenario.clone()));
        Ok((scenario, outlets))
    }

    async fn scoring_partner(&self, network: &str, partner_id: Option<i64>) -> Result<Option<Partner>> {
        match partner_id {
            Some(id) => Ok(Some(self.partner(network, id).await?.ok_or_else(|| Error::invalid("/partner_id", format!("no partner {id} in network `{network}`")))?)),
            None => Ok(None),
        }
    }

    /// Scores candidates against the network's current outlets (SCORING.md), each with
    /// its territory check for the partner, and keeps them as the network's last run (the
    /// `candidates` layer).
    pub async fn score(&self, network: &str, partner_id: Option<i64>, inputs: &[CandidateInput], sys: CoordSys) -> Result<ScoreAnswer> {
        let (_, policy) = self.network(network).await?;
        let partner = self.scoring_partner(network, partner_id).await?;
        let candidates = scoring::network::parse_candidates(inputs, policy, sys)?;
        let (scenario, _) = self.scenario(network).await?;
        let scorer_partner = partner.clone();
        let (scores, total) = tokio::task::spawn_blocking(move || {
            let scorer = scoring::network::scorer(policy, scorer_partner.as_ref());
            (scorer.score_all(&scenario, &candidates), scenario.own_total())
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
        let out = {
            let index = read(&self.index);
            let mut out = Vec::with_capacity(scores.len());
            for score in scores {
                let score = score.ok_or_else(|| Error::Internal("a validated candidate could not be scored".into()))?;
                let territory = scoring::network::territory_check(index.network(network), partner.as_ref(), score.location);
                out.push(ScoredCandidate { score, territory });
            }
            out
        };
        let answer = ScoreAnswer { network: network.to_string(), partner_id, network_total: total, candidates: out };
        let mut tx = self.store.begin_write().await?;
        crate::store::scoring_runs::replace(&mut tx, &answer).await?;
        tx.commit().await?;
        Ok(answer)
    }

    /// Chooses up to `k` candidates greedily; with `within_territory`, only those the
    /// partner may open (inside its grants, outside others' exclusive ones).
    pub async fn plan(&self, network: &str, partner_id: Option<i64>, inputs: &[CandidateInput], options: PlanOptions, sys: CoordSys) -> Result<PlanAnswer> {
        let PlanOptions { k, min_gain, within_territory, progress } = options;
        let (_, policy) = self.network(network).await?;
        let partner = self.scoring_partner(network, partner_id).await?;
        if within_territory && partner.is_none() {
            return Err(Error::invalid("/within_territory", "restricting a plan to a territory needs `partner_id`"));
        }
        let mut candidates = scoring::network::parse_candidates(inputs, policy, sys)?;
        let mut excluded = Vec::new();
        if within_territory {
            let index = read(&self.index);
            let (kept, left_out): (Vec<_>, Vec<_>) = candidates
                .into_iter()
                .map(|c| {
                    let t = scoring::network::territory_check(index.network(network), partner.as_ref(), [c.lon, c.lat]);
                    (c, t)
                })
                .partition(|(_, t)| t.allowed);
            excluded = left_out.into_iter().map(|(c, territory)| ExcludedCandidate { id: c.id, territory }).collect();
            candidates = kept.into_iter().map(|(c, _)| c).collect();
        }
        let (scenario, _) = self.scenario(network).await?;
        let plan = tokio::task::spawn_blocking(move || {
            let scorer = scoring::network::scorer(policy, partner.as_ref());
            let progress = |done: usize| {
                if let Some(p) = &progress {
                    p(done, k)
                }
            };
            scorer.plan_with_progress((*scenario).clone(), &candidates, k, min_gain, &progress)
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
        Ok(PlanAnswer { network: network.to_string(), partner_id, plan, excluded })
    }

    /// Imports a region layer (a GeoJSON FeatureCollection), all or nothing.
    pub async fn import_regions(&self, collection: &Value, progress: impl FnMut(usize)) -> Result<ImportSummary> {
        let known: HashSet<String> = self.store.region_codes().await?;
        let inputs = parse_layer(collection, &known, progress).map_err(|bad| {
            Error::Invalid(
                bad.into_iter()
                    .flat_map(|f| {
                        let who = f.adcode.map(|a| format!("feature {} ({a})", f.feature)).unwrap_or(format!("feature {}", f.feature));
                        f.problems.into_iter().map(move |p| InputError::at(p.pointer, format!("{who}: {}", p.detail)))
                    })
                    .collect(),
            )
        })?;
        let mut regions: Vec<_> = inputs.into_iter().map(|i| i.region).collect();
        regions.sort_by_key(|r| r.level);
        let mut tx = self.store.begin_write().await?;
        region_rows::upsert(&mut tx, &regions).await?;
        tx.commit().await?;
        self.reload().await?;
        Ok(ImportSummary { stored: regions.len(), total: self.store.region_count().await? })
    }
}
