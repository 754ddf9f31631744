//! The exclusivity rule (docs/design.md §3) and the in-memory index it runs on.
//!
//! Two grants conflict when they are in the same network, held by different partners,
//! their validity windows overlap, at least one is exclusive, and their interiors overlap
//! by more than the sliver tolerance. Territories named by regions are compared through
//! the administrative hierarchy (a district lies in its city whatever the polygons say;
//! neighbouring districts never conflict); a drawn territory is compared by geometry.
//!
//! The [`GrantIndex`] is a cache of the active and reserved grants in the database, rebuilt at start
//! and kept current through `state.grants_seq` (see `store::grants`): it narrows the
//! candidates (adcode maps, an R-tree of bounding boxes); the exact test uses geometry.

use crate::domain::grants::{Basis, ConflictEntry, Decision, Grant, Proposal, Territory, Validity};
use crate::domain::regions::RegionSet;
use crate::geometry::{self, Overlap, OverlapGeometry, SliverTolerance};
use chrono::NaiveDate;
use geo::{BooleanOps, MultiPolygon, Orient, orient::Direction};
use rstar::{AABB, RTree, primitives::GeomWithData, primitives::Rectangle};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

type BoxEntry = GeomWithData<Rectangle<[f64; 2]>, i64>;

fn box_entry(t: &Territory, id: i64) -> BoxEntry {
    let (min, max) = (t.shape.bbox.min(), t.shape.bbox.max());
    GeomWithData::new(Rectangle::from_corners([min.x, min.y], [max.x, max.y]), id)
}

/// The active grants of one network, indexed. Cloned only when a change comes while a
/// decision holds the network ([`GrantIndex::shared`]).
#[derive(Debug, Default, Clone)]
pub struct NetworkGrants {
    grants: HashMap<i64, Arc<Grant>>,
    boxes: RTree<BoxEntry>,
    /// adcode → grants naming exactly that region.
    covering: HashMap<String, Vec<i64>>,
    /// adcode → grants naming a region strictly inside it.
    inside: HashMap<String, Vec<i64>>,
}

impl NetworkGrants {
    /// These grants, indexed.
    pub fn of(grants: impl IntoIterator<Item = Arc<Grant>>, regions: &RegionSet) -> NetworkGrants {
        let mut index = NetworkGrants::default();
        for g in grants {
            index.insert(g, regions);
        }
        index
    }

    fn insert(&mut self, grant: Arc<Grant>, regions: &RegionSet) {
        self.boxes.insert(box_entry(&grant.territory, grant.id));
        if let Some(codes) = &grant.territory.adcodes {
            for code in codes {
                self.covering.entry(code.clone()).or_default().push(grant.id);
                for ancestor in regions.ancestors(code) {
                    self.inside.entry(ancestor).or_default().push(grant.id);
                }
            }
        }
        self.grants.insert(grant.id, grant);
    }

    /// These grants with some changed: each id with its new validity window, or `None`
    /// for one revoked. What the change would leave.
    pub fn with_changes(&self, changes: &[(i64, Option<Validity>)], regions: &RegionSet) -> NetworkGrants {
        let mut changed = self.clone();
        for (id, validity) in changes {
            let Some(grant) = self.grants.get(id) else { continue };
            changed.remove(*id);
            if let Some(validity) = validity {
                changed.insert(Arc::new(Grant { validity: *validity, ..Grant::clone(grant) }), regions);
            }
        }
        changed
    }

    /// These grants but grant `id`: what revoking it would leave.
    pub fn without(&self, id: i64) -> NetworkGrants {
        let mut rest = self.clone();
        rest.remove(id);
        rest
    }

    fn remove(&mut self, id: i64) {
        let Some(grant) = self.grants.remove(&id) else { return };
        self.boxes.remove(&box_entry(&grant.territory, id));
        for list in self.covering.values_mut().chain(self.inside.values_mut()) {
            list.retain(|g| *g != id);
        }
    }

    /// Active grants of this network.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Grant>> {
        self.grants.values()
    }

    /// Active grants whose bounding box holds the point (the exact test is the caller's).
    pub fn at_point(&self, c: geo::Coord<f64>) -> impl Iterator<Item = &Arc<Grant>> {
        self.boxes.locate_all_at_point(&[c.x, c.y]).map(|e| &self.grants[&e.data])
    }

    /// An active grant by id.
    pub fn get(&self, id: i64) -> Option<&Arc<Grant>> {
        self.grants.get(&id)
    }

    /// Number of active grants.
    pub fn len(&self) -> usize {
        self.grants.len()
    }

    /// Whether there is no active grant.
    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }

    /// Ids of the grants that may overlap `t`: by adcode for a territory named by regions
    /// (plus drawn grants by bounding box), by bounding box for a drawn one.
    fn candidates(&self, t: &Territory, regions: &RegionSet) -> BTreeSet<i64> {
        let (min, max) = (t.shape.bbox.min(), t.shape.bbox.max());
        let envelope = AABB::from_corners([min.x, min.y], [max.x, max.y]);
        let by_box = self.boxes.locate_in_envelope_intersecting(&envelope).map(|e| e.data);
        match &t.adcodes {
            None => by_box.collect(),
            Some(codes) => {
                let mut ids: BTreeSet<i64> = by_box.filter(|id| self.grants[id].territory.adcodes.is_none()).collect();
                for code in codes {
                    let ancestors = regions.ancestors(code);
                    for key in std::iter::once(code).chain(ancestors.iter()) {
                        ids.extend(self.covering.get(key).into_iter().flatten());
                    }
                    ids.extend(self.inside.get(code).into_iter().flatten());
                }
                ids
            }
        }
    }
}

/// The active grants of every network: the cache the decisions run on.
#[derive(Debug, Default)]
pub struct GrantIndex {
    /// The value of `state.grants_seq` this cache reflects.
    pub seq: i64,
    networks: HashMap<String, Arc<NetworkGrants>>,
}

impl GrantIndex {
    /// Applies changed grant rows (new, or revoked) read from the store.
    pub fn apply(&mut self, changed: Vec<Grant>, seq: i64, regions: &RegionSet) {
        for grant in changed {
            let net = Arc::make_mut(self.networks.entry(grant.network.clone()).or_default());
            net.remove(grant.id);
            if grant.status != crate::domain::grants::Status::Revoked {
                net.insert(Arc::new(grant), regions);
            }
        }
        self.seq = seq;
    }

    /// The active grants of a network.
    pub fn network(&self, code: &str) -> Option<&NetworkGrants> {
        self.networks.get(code).map(|n| &**n)
    }

    /// The active grants of a network as they are now, to decide on without holding the
    /// index: a change applied meanwhile copies the network instead of waiting for the
    /// decision (a heavy one takes a second; every check and grant would queue behind it).
    pub fn shared(&self, code: &str) -> Option<Arc<NetworkGrants>> {
        self.networks.get(code).cloned()
    }
}

impl NetworkGrants {
    /// Decides a proposal against these grants as they hold `today` (an expired
    /// reservation holds nothing).
    pub fn decide(&self, proposal: &Proposal, regions: &RegionSet, tolerance: SliverTolerance, today: NaiveDate) -> Decision {
        let mut decision = Decision::default();
        for id in self.candidates(&proposal.territory, regions) {
            crate::budget::check();
            let other = &self.grants[&id];
            if !other.holds(today) {
                continue;
            }
            let (mine, theirs) = ((proposal.partner_id, proposal.exclusive, &proposal.validity), (other.partner_id, other.exclusive, &other.validity));
            if rule_applies(mine, theirs) {
                compare(&proposal.territory, other, regions, tolerance, &mut decision);
            } else if other.partner_id == proposal.partner_id && other.validity.overlaps(&proposal.validity) {
                let mut own = Decision::default();
                compare(&proposal.territory, other, regions, tolerance, &mut own);
                decision.duplicates.extend(own.conflicts);
            }
        }
        decision
    }
}

/// Whether two grants `(partner, exclusive, validity)` are subject to the rule at all:
/// different partners, at least one exclusive, windows sharing a day (all but geometry).
pub fn rule_applies(a: (i64, bool, &Validity), b: (i64, bool, &Validity)) -> bool {
    a.0 != b.0 && (a.1 || b.1) && a.2.overlaps(b.2)
}

/// Compares a territory with a stored grant and records a conflict or warning.
pub fn compare(t: &Territory, other: &Grant, regions: &RegionSet, tolerance: SliverTolerance, decision: &mut Decision) {
    let entry = |km2: f64, ratio: f64, basis: Basis, adcodes: Option<Vec<String>>, geometry: OverlapGeometry| ConflictEntry {
        grant_id: other.id,
        partner_id: other.partner_id,
        partner_name: other.partner_name.clone(),
        exclusive: other.exclusive,
        valid_from: other.validity.from,
        valid_to: other.validity.to,
        overlap_km2: km2,
        overlap_ratio: ratio,
        basis,
        adcodes,
        geometry,
    };
    match (&t.adcodes, &other.territory.adcodes) {
        (Some(mine), Some(theirs)) => {
            let shared = shared_regions(mine, theirs, regions);
            if shared.is_empty() {
                return;
            }
            let (geometry, km2) = union_of_regions(&shared, regions);
            let ratio = geometry::overlap::overlap_ratio(km2, t.shape.area_km2, other.territory.shape.area_km2);
            let geojson = regions_geojson(&shared, &geometry, regions);
            decision.conflicts.push(entry(km2, ratio, Basis::Hierarchy, Some(shared), OverlapGeometry::Text(geojson)));
        }
        _ => match geometry::overlap(&t.shape, &other.territory.shape, tolerance) {
            Overlap::None => {}
            Overlap::Sliver(m) => decision.warnings.push(entry(m.km2, m.ratio, Basis::Geometry, None, m.geometry_out())),
            Overlap::Conflict(m) => decision.conflicts.push(entry(m.km2, m.ratio, Basis::Geometry, None, m.geometry_out())),
        },
    }
}

/// The regions both lists cover: for each pair where one region lies in (or is) the
/// other, the inner one. Sorted, without duplicates.
pub fn shared_regions(a: &[String], b: &[String], regions: &RegionSet) -> Vec<String> {
    let mut shared = BTreeSet::new();
    for x in a {
        for y in b {
            if x == y || regions.is_ancestor(y, x) {
                shared.insert(x.clone());
            } else if regions.is_ancestor(x, y) {
                shared.insert(y.clone());
            }
        }
    }
    shared.into_iter().collect()
}

/// The union of regions' boundaries and the sum of their areas (they never overlap).
/// One region's boundary is shared, not copied.
pub fn union_of_regions(codes: &[String], regions: &RegionSet) -> (Arc<MultiPolygon<f64>>, f64) {
    let parts: Vec<&Arc<crate::domain::regions::Region>> = codes.iter().filter_map(|c| regions.get(c)).collect();
    let km2 = parts.iter().map(|r| r.shape.area_km2).sum();
    let geometry = match parts.as_slice() {
        [one] => one.shape.geometry.clone(),
        many => Arc::new(many.iter().fold(MultiPolygon(vec![]), |acc, r| acc.union(&*r.shape.geometry)).orient(Direction::Default)),
    };
    (geometry, km2)
}

/// The GeoJSON of the regions `codes`, whose union is `union`: one region's text as
/// serialised when it was loaded, or the union serialised.
pub fn regions_geojson(codes: &[String], union: &MultiPolygon<f64>, regions: &RegionSet) -> Arc<serde_json::value::RawValue> {
    let one = match codes {
        [one] => regions.get(one).map(|r| r.geojson.clone()),
        _ => None,
    };
    one.unwrap_or_else(|| geometry::raw_geojson(union))
}

/// Every conflicting pair among a set of grants (for `GET /conflicts` and bulk checks).
pub fn conflicts_among(grants: &[Arc<Grant>], regions: &RegionSet, tolerance: SliverTolerance) -> Vec<(i64, ConflictEntry)> {
    let tree: RTree<BoxEntry> = RTree::bulk_load(grants.iter().enumerate().map(|(i, g)| box_entry(&g.territory, i as i64)).collect());
    let mut out = Vec::new();
    for (i, a) in grants.iter().enumerate() {
        let (min, max) = (a.territory.shape.bbox.min(), a.territory.shape.bbox.max());
        let env = AABB::from_corners([min.x, min.y], [max.x, max.y]);
        for e in tree.locate_in_envelope_intersecting(&env) {
            let j = e.data as usize;
            if j <= i {
                continue;
            }
            let b = &grants[j];
            if !rule_applies((a.partner_id, a.exclusive, &a.validity), (b.partner_id, b.exclusive, &b.validity)) {
                continue;
            }
            let mut d = Decision::default();
            compare(&a.territory, b, regions, tolerance, &mut d);
            out.extend(d.conflicts.into_iter().map(|c| (a.id, c)));
        }
    }
    out
}
