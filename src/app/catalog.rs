//! Regions, networks and partners: what every other service looks up. Regions live in
//! memory with the `regions_seq` they were read at; networks never change once made, so
//! they are cached and the database is asked on a miss (another process may have made
//! them). Partners' records change (renames, status): the store keeps them only until a
//! commit is seen.

use super::{read, write};
use crate::domain::access::{Caller, Role, Viewer};
use crate::domain::network::{Network, Partner};
use crate::domain::policy::{self, Policy};
use crate::domain::regions::{Level, Region, RegionSet, parse_layer};
use crate::error::{Error, Result};
use crate::input::{Bbox, InputError, MAX_CODE_CHARS, MAX_NAME_CHARS, too_long};
use crate::store::{Store, regions as region_rows};
use geo::{Intersects, Rect};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

/// Regions, networks and partners.
#[derive(Debug)]
pub struct Catalog {
    store: Store,
    /// The regions, with the `regions_seq` they were read at (-1 before the first read).
    regions: RwLock<(i64, Arc<RegionSet>)>,
    networks: RwLock<HashMap<String, Network>>,
}

/// A network as a caller entered it: the network, its policy, and what the caller sees.
#[derive(Debug, Clone)]
pub struct Entered {
    /// The network.
    pub network: Network,
    /// Its policy.
    pub policy: &'static Policy,
    /// What the caller may see there.
    pub viewer: Viewer,
}

/// Body of `POST /networks`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNetwork {
    /// Code used in paths.
    pub code: String,
    /// Human name.
    pub name: String,
    /// Bundled policy: `smart` or `haima`.
    pub policy: String,
}

/// Body of `POST /networks/{net}/partners`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPartner {
    /// Company name.
    pub name: String,
    /// Tier from the network's policy.
    pub tier: String,
    /// Who to call there.
    #[serde(default)]
    pub contact_name: Option<String>,
    /// Their e-mail.
    #[serde(default)]
    pub contact_email: Option<String>,
    /// Their phone.
    #[serde(default)]
    pub contact_phone: Option<String>,
    /// The caller's own key for the partner (a dealer code), unique in the network.
    #[serde(default)]
    pub external_id: Option<String>,
}

/// Filters of a region listing.
#[derive(Debug, Clone, Default)]
pub struct RegionFilter {
    /// Only this level.
    pub level: Option<Level>,
    /// Only the children of this adcode.
    pub parent: Option<String>,
    /// Name contains, or adcode starts with.
    pub q: Option<String>,
    /// Only regions meeting this box.
    pub bbox: Option<Bbox>,
}

/// What an import of a region layer did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportSummary {
    /// Features stored (inserted or replaced).
    pub stored: usize,
    /// Regions in the database afterwards.
    pub total: i64,
}

impl Catalog {
    pub(super) fn new(store: Store) -> Catalog {
        Catalog { store, regions: RwLock::new((-1, Arc::new(RegionSet::default()))), networks: RwLock::new(HashMap::new()) }
    }

    /// The regions in memory.
    pub fn regions(&self) -> Arc<RegionSet> {
        read(&self.regions).1.clone()
    }

    /// The `regions_seq` the regions in memory were read at.
    pub fn regions_seq(&self) -> i64 {
        read(&self.regions).0
    }

    /// Keeps regions read at `seq`.
    pub(super) fn set_regions(&self, seq: i64, regions: Arc<RegionSet>) {
        *write(&self.regions) = (seq, regions);
    }

    /// Reads the regions again if another process imported some since they were read.
    pub async fn refresh_regions(&self) -> Result<()> {
        let mut conn = self.store.pool.acquire().await?;
        let seqs = crate::store::grants::current_seqs(&mut conn).await?;
        if seqs.regions != self.regions_seq() {
            let regions = Arc::new(RegionSet::new(region_rows::load(&mut conn).await?));
            self.set_regions(seqs.regions, regions);
        }
        Ok(())
    }

    /// Regions meeting `filter`, by adcode, for any caller (regions are shared by every
    /// network).
    pub async fn regions_matching(&self, filter: &RegionFilter) -> Result<Vec<Arc<Region>>> {
        self.refresh_regions().await?;
        let regions = self.regions();
        let bbox = filter.bbox.map(|[a, b, c, d]| Rect::new((a, b), (c, d)));
        let mut selected: Vec<Arc<Region>> = regions
            .all()
            .filter(|r| {
                filter.level.is_none_or(|l| r.level == l)
                    && filter.parent.as_deref().is_none_or(|p| r.parent_adcode.as_deref() == Some(p))
                    && filter.q.as_deref().is_none_or(|s| r.name.contains(s) || r.adcode.starts_with(s))
                    && bbox.is_none_or(|b| b.intersects(&r.shape.bbox) && b.intersects(&*r.shape.geometry))
            })
            .cloned()
            .collect();
        selected.sort_by(|a, b| a.adcode.cmp(&b.adcode));
        Ok(selected)
    }

    /// One region, or 404.
    pub async fn region(&self, adcode: &str) -> Result<Arc<Region>> {
        self.refresh_regions().await?;
        self.regions().get(adcode).cloned().ok_or_else(|| Error::NotFound(format!("no region with adcode `{adcode}`")))
    }

    /// A network and its policy, or 404 (no access check: for the services' own use).
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
        let policy = policy::find(&network.policy).ok_or_else(|| Error::Internal(format!("network `{code}` names unknown policy `{}`", network.policy)))?;
        Ok((network, policy))
    }

    /// Enters a network for `caller` to do what needs `role`: 403 if it may not, 404 if
    /// the network does not exist (asked only of callers that may reach it).
    pub async fn enter(&self, caller: &Caller, code: &str, role: Role) -> Result<Entered> {
        let viewer = caller.enter(code, role)?;
        let (network, policy) = self.network(code).await?;
        Ok(Entered { network, policy, viewer })
    }

    /// The networks the caller may reach.
    pub async fn networks(&self, caller: &Caller) -> Result<Vec<Network>> {
        Ok(self.store.networks().await?.into_iter().filter(|n| caller.reaches(&n.code)).collect())
    }

    /// Creates a network with a bundled policy.
    pub async fn create_network(&self, caller: &Caller, req: &NewNetwork) -> Result<Network> {
        caller.governs_all()?;
        let mut errors = Vec::new();
        if req.code.is_empty() || !req.code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            errors.push(InputError::at("/code", "use letters, digits, `_` or `-` (it appears in paths)"));
        }
        if req.name.trim().is_empty() {
            errors.push(InputError::at("/name", "must not be empty"));
        }
        errors.extend(too_long("/code", &req.code, MAX_CODE_CHARS));
        errors.extend(too_long("/name", &req.name, MAX_NAME_CHARS));
        if policy::find(&req.policy).is_none() {
            let known: Vec<&String> = policy::bundled().keys().collect();
            errors.push(InputError::at("/policy", format!("unknown policy `{}`; bundled: {known:?}", req.policy)));
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        self.store.create_network(&req.code, &req.name, &req.policy).await
    }

    /// A partner of a network (no access check), as the store keeps it: read again once
    /// anything was committed, in this process or another (a partner's record changes).
    pub async fn partner(&self, network: &str, id: i64) -> Result<Option<Partner>> {
        self.store.partner(network, id).await
    }

    /// The partners of a network (data behind answers; no access check).
    pub async fn all_partners(&self, network: &str) -> Result<Vec<Partner>> {
        self.store.partners(network).await
    }

    /// The partners a caller may see: all, or a partner token's own.
    pub async fn partners(&self, caller: &Caller, network: &str) -> Result<Vec<Partner>> {
        let entered = self.enter(caller, network, Role::Viewer).await?;
        Ok(self.all_partners(network).await?.into_iter().filter(|p| entered.viewer.sees(p.id)).collect())
    }

    /// One partner, or 404; a partner token sees only its own (403).
    pub async fn partner_for(&self, caller: &Caller, network: &str, id: i64) -> Result<Partner> {
        let entered = self.enter(caller, network, Role::Viewer).await?;
        if !entered.viewer.sees(id) {
            return Err(crate::domain::access::Denied(format!("a partner token sees only its own partner, not partner {id}")).into());
        }
        self.partner(network, id).await?.ok_or_else(|| Error::NotFound(format!("no partner {id} in network `{network}`")))
    }

    /// Creates a partner in a network; the tier must be one of the policy's.
    pub async fn create_partner(&self, caller: &Caller, network: &str, req: &NewPartner) -> Result<Partner> {
        caller.governs(network)?;
        let (_, policy) = self.network(network).await?;
        let record = crate::domain::network::PartnerRecord {
            name: req.name.clone(),
            contact_name: req.contact_name.clone(),
            contact_email: req.contact_email.clone(),
            contact_phone: req.contact_phone.clone(),
            external_id: req.external_id.clone(),
            status: crate::domain::network::PartnerStatus::Active,
        };
        let mut errors = record.problems();
        if policy.tier(&req.tier).is_none() {
            errors.push(InputError::at("/tier", format!("unknown tier `{}` for policy `{}`; tiers: {:?}", req.tier, policy.code, policy.tier_codes())));
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        self.store.create_partner(network, &record.cleaned(), &req.tier).await
    }

    /// Imports a region layer (a GeoJSON FeatureCollection), all or nothing. The ledger
    /// rebuilds its index on the new regions at its next sync (`regions_seq` moved).
    pub async fn import_regions(&self, caller: &Caller, collection: &Value, progress: impl FnMut(usize)) -> Result<ImportSummary> {
        caller.governs_all()?;
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
        self.refresh_regions().await?;
        Ok(ImportSummary { stored: regions.len(), total: self.store.region_count().await? })
    }
}
