//! Every layer as GIS clients read it (`crate::gis`: GeoJSON, GeoPackage, OGC API items,
//! vector tiles): built from the services, and cached (with its rendered tiles) until the
//! data behind it changes: regions on import, grants and conflicts on any grant write,
//! outlets on any outlet write, demand on a new grid, candidates on a new scoring run.
//!
//! A partner token reads its own layers: its partner's grants, its partner's outlets with
//! competitors', its own last scoring run, and demand; never the conflicts of the network.
//! Each viewer's layer is cached apart.

use super::catalog::Catalog;
use super::demand::Demand;
use super::ledger::{GrantFilter, Ledger};
use super::lock;
use crate::domain::access::{Caller, Denied, Role, Viewer};
use crate::domain::period::Period;
use crate::error::{Error, Result};
use crate::geometry::validate::parse_stored;
use crate::gis::layer::{DEMAND_FIELDS, Feature, Features, FieldType as T, FieldValue as V, GeometryType, Layer, field};
use crate::gis::{Collection, NetworkLayer};
use crate::store::Store;
use crate::store::outlets::OutletFilter;
use chrono::NaiveDate;
use geo::{Geometry, MultiPolygon, Point};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Region fields.
pub const REGION_FIELDS: &[crate::gis::layer::Field] =
    &[field("adcode", T::Text), field("name", T::Text), field("level", T::Text), field("parent_adcode", T::Text), field("area_km2", T::Real)];

/// Grant fields.
pub const GRANT_FIELDS: &[crate::gis::layer::Field] = &[
    field("partner_id", T::Integer),
    field("partner", T::Text),
    field("tier", T::Text),
    field("exclusive", T::Boolean),
    field("valid_from", T::Date),
    field("valid_to", T::Date),
    field("status", T::Text),
    field("adcodes", T::Text),
    field("area_km2", T::Real),
    field("note", T::Text),
    field("created_at", T::DateTime),
    field("revoked_at", T::DateTime),
];

/// Outlet fields (facility figures follow the standard's keys).
pub const OUTLET_FIELDS: &[crate::gis::layer::Field] = &[
    field("partner_id", T::Integer),
    field("partner", T::Text),
    field("competitor", T::Boolean),
    field("brand", T::Text),
    field("name", T::Text),
    field("format", T::Text),
    field("role", T::Text),
    field("site_type", T::Text),
    field("status", T::Text),
    field("opened_on", T::Date),
    field("closed_on", T::Date),
    field("land_m2", T::Real),
    field("building_m2", T::Real),
    field("showroom_m2", T::Real),
    field("frontage_m", T::Real),
    field("depth_m", T::Real),
    field("height_m", T::Real),
    field("workshop_m2", T::Real),
    field("bays_mech", T::Real),
    field("bays_body", T::Real),
    field("bays_paint", T::Real),
    field("paint_booths", T::Real),
    field("parts_m2", T::Real),
    field("staff", T::Real),
    field("note", T::Text),
];

/// Conflict fields: the pair of grants and their overlap.
pub const CONFLICT_FIELDS: &[crate::gis::layer::Field] = &[
    field("grant_a", T::Integer),
    field("partner_a", T::Text),
    field("grant_b", T::Integer),
    field("partner_b", T::Text),
    field("overlap_km2", T::Real),
    field("overlap_ratio", T::Real),
    field("basis", T::Text),
    field("adcodes", T::Text),
];

/// Candidate fields (the best site type's figures).
pub const CANDIDATE_FIELDS: &[crate::gis::layer::Field] = &[
    field("candidate_id", T::Text),
    field("run", T::Integer),
    field("scored_at", T::DateTime),
    field("partner_id", T::Integer),
    field("site_type", T::Text),
    field("format", T::Text),
    field("recommended_format", T::Text),
    field("expected_sales", T::Real),
    field("cannibalised", T::Real),
    field("net_gain", T::Real),
    field("competitor_loss", T::Real),
    field("catchment_demand", T::Real),
    field("in_territory", T::Boolean),
    field("allowed", T::Boolean),
    field("by_site_type", T::Text),
    field("blocking_grants", T::Text),
];

/// Encoded tiles by (z, x, y).
type TileMap = HashMap<(u8, u32, u32), Arc<Vec<u8>>>;

/// A layer as served, with the vector tiles rendered from it so far.
#[derive(Debug)]
pub struct Served {
    /// The layer.
    pub layer: Arc<Layer>,
    /// Its time extent (first day, last day; `None` ends are open), for the layers with
    /// time: grants (their windows) and outlets (opening to closing). `None`: no time.
    pub time: Option<(Option<NaiveDate>, Option<NaiveDate>)>,
    /// Rendered tiles by (z, x, y).
    pub tiles: Mutex<TileMap>,
    /// The layer's extent, computed on first use.
    extent: std::sync::OnceLock<Option<geo::Rect<f64>>>,
}

/// Most tiles kept per layer; the cache is emptied when full.
const TILES_PER_LAYER: usize = 4_096;

impl Served {
    /// A layer ready to serve.
    pub fn new(layer: Layer, time: Option<(Option<NaiveDate>, Option<NaiveDate>)>) -> Served {
        Served { layer: Arc::new(layer), time, tiles: Mutex::default(), extent: std::sync::OnceLock::new() }
    }

    /// Bounding box of all features (computed once), `None` for an empty layer.
    pub fn extent(&self) -> Option<geo::Rect<f64>> {
        *self.extent.get_or_init(|| self.layer.extent())
    }

    /// A tile from the cache, or rendered by `render` and kept.
    pub fn tile(&self, z: u8, x: u32, y: u32, render: impl FnOnce(&Layer) -> Vec<u8>) -> Arc<Vec<u8>> {
        if let Some(t) = self.tiles.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&(z, x, y)) {
            return t.clone();
        }
        let tile = Arc::new(render(&self.layer));
        let mut tiles = self.tiles.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if tiles.len() >= TILES_PER_LAYER {
            tiles.clear();
        }
        tiles.insert((z, x, y), tile.clone());
        tile
    }
}

/// A layer as one viewer sees it on some days: the collection, whose view (0: the whole
/// network; a partner id: that partner token's own layer), and the period (none: all).
type LayerKey = (Collection, i64, Option<Period>);

/// Most layers of a period kept at once (each day asked for is one); beyond, they are
/// dropped and built again when asked.
const DATED_LAYERS_KEPT: usize = 32;

/// Whether a collection's features have days: grants, outlets and the conflicts between
/// grants in force.
pub fn has_time(c: &Collection) -> bool {
    matches!(c, Collection::Network(_, NetworkLayer::Grants | NetworkLayer::Outlets | NetworkLayer::Conflicts))
}

/// GIS layers and their caches.
#[derive(Debug)]
pub struct Gis {
    store: Store,
    catalog: Arc<Catalog>,
    ledger: Arc<Ledger>,
    demand: Arc<Demand>,
    /// Layers, each with the version of the data it was built from.
    layers: Mutex<HashMap<LayerKey, (String, Arc<Served>)>>,
}

fn text_or_null(s: &str) -> V {
    if s.is_empty() { V::Null } else { V::Text(s.to_string()) }
}

fn multipolygon_feature(id: i64, mp: MultiPolygon<f64>, values: Vec<V>) -> Feature {
    Feature::new(id, Geometry::MultiPolygon(mp), values)
}

impl Gis {
    pub(super) fn new(store: Store, catalog: Arc<Catalog>, ledger: Arc<Ledger>, demand: Arc<Demand>) -> Gis {
        Gis { store, catalog, ledger, demand, layers: Mutex::new(HashMap::new()) }
    }

    /// Every collection the caller may read: `regions`, then each layer of each network
    /// it reaches (a partner token: not the network's conflicts).
    pub async fn collections(&self, caller: &Caller) -> Result<Vec<Collection>> {
        let mut out = vec![Collection::Regions];
        for n in self.catalog.networks(caller).await? {
            let viewer = caller.enter(&n.code, Role::Viewer)?;
            out.extend(NetworkLayer::ALL.into_iter().filter(|l| readable(viewer, *l)).map(|l| Collection::Network(n.code.clone(), l)));
        }
        Ok(out)
    }

    /// The version of the data behind a viewer's layer (changes whenever the layer would).
    async fn layer_version(&self, c: &Collection, viewer: Viewer) -> Result<String> {
        Ok(match c {
            Collection::Regions => {
                self.catalog.refresh_regions().await?;
                format!("{}@{:p}", self.catalog.regions_seq(), Arc::as_ptr(&self.catalog.regions()))
            }
            Collection::Network(_, NetworkLayer::Grants | NetworkLayer::Conflicts) => self.store.grants_seq().await?.to_string(),
            Collection::Network(net, NetworkLayer::Outlets) => self.store.outlets_version(net).await?,
            Collection::Network(net, NetworkLayer::Demand) => self.demand.info(net).await?.map_or_else(|| "none".to_string(), |i| i.version.to_string()),
            Collection::Network(net, NetworkLayer::Candidates) => {
                self.store.last_run(net, viewer.owner()).await?.map_or_else(|| "none".to_string(), |r| r.run.to_string())
            }
        })
    }

    /// A collection's layer as the caller may see it, built or from the cache; 404 for an
    /// unknown network, 403 for a network or layer the caller may not read.
    pub async fn layer(&self, caller: &Caller, c: &Collection) -> Result<Arc<Served>> {
        self.layer_during(caller, c, None).await
    }

    /// A collection's layer on some days (`period`): the grants in force then (revoked
    /// ones before their revoke), the outlets open then, the conflicts between those
    /// grants. A layer without time (regions, demand, candidates) refuses a period (400).
    pub async fn layer_during(&self, caller: &Caller, c: &Collection, period: Option<Period>) -> Result<Arc<Served>> {
        if period.is_some() && !has_time(c) {
            return Err(Error::BadRequest(format!("`{c}` has no time: `on` and `datetime` are for grants, outlets and conflicts")));
        }
        let viewer = match c {
            Collection::Regions => Viewer::All,
            Collection::Network(net, layer) => {
                let viewer = self.catalog.enter(caller, net, Role::Viewer).await?.viewer;
                if !readable(viewer, *layer) {
                    return Err(Denied(format!("a partner token cannot read `{}` of the whole network", layer.as_str())).into());
                }
                // Demand names no partner: every viewer shares the network's layer.
                if *layer == NetworkLayer::Demand { Viewer::All } else { viewer }
            }
        };
        self.viewed(c, viewer, period).await
    }

    /// A layer as `viewer` sees it (no access check: for the services' own use).
    pub async fn viewed(&self, c: &Collection, viewer: Viewer, period: Option<Period>) -> Result<Arc<Served>> {
        let key = (c.clone(), viewer.owner(), period);
        let version = self.layer_version(c, viewer).await?;
        if let Some((v, served)) = lock(&self.layers).get(&key)
            && *v == version
        {
            return Ok(served.clone());
        }
        let (layer, time) = self.build_layer(c, viewer, period).await?;
        let served = Arc::new(Served::new(layer, time));
        let mut layers = lock(&self.layers);
        if period.is_some() && layers.keys().filter(|k| k.2.is_some()).count() >= DATED_LAYERS_KEPT {
            layers.retain(|k, _| k.2.is_none());
        }
        layers.insert(key, (version, served.clone()));
        Ok(served)
    }

    async fn build_layer(&self, c: &Collection, viewer: Viewer, period: Option<Period>) -> Result<(Layer, Option<(Option<NaiveDate>, Option<NaiveDate>)>)> {
        let mut time = None;
        let (title, description, geometry_type, fields, features) = match c {
            Collection::Regions => {
                let regions = self.catalog.regions();
                let mut features: Vec<Feature> = regions
                    .all()
                    .map(|r| {
                        let id = r.adcode.parse::<i64>().unwrap_or(0);
                        let values = vec![
                            V::Text(r.adcode.clone()),
                            V::Text(r.name.clone()),
                            V::Text(r.level.as_str().to_string()),
                            V::text(r.parent_adcode.as_ref()),
                            V::real(r.shape.area_km2),
                        ];
                        multipolygon_feature(id, (*r.shape.geometry).clone(), values)
                    })
                    .collect();
                features.sort_by_key(|f| f.id);
                (
                    "Regions".to_string(),
                    "Provinces, cities and districts (GB/T 2260 adcodes), WGS84".to_string(),
                    GeometryType::MultiPolygon,
                    REGION_FIELDS,
                    Features::Listed(features),
                )
            }
            Collection::Network(net, NetworkLayer::Grants) => {
                let own = match viewer {
                    Viewer::All => None,
                    Viewer::Partner(p) => Some(p),
                };
                let rows = self.ledger.grant_rows(net, &GrantFilter { partner_id: own, ..GrantFilter::default() }).await?;
                let rows: Vec<_> = rows.into_iter().filter(|g| period.is_none_or(|p| in_force_during(g, p))).collect();
                time = Some(time_extent(rows.iter().map(|g| (g.valid_from.parse().ok(), g.valid_to.as_deref().map(|d| d.parse().ok())))));
                let mut features = Vec::with_capacity(rows.len());
                for g in rows {
                    let value: serde_json::Value = serde_json::from_str(&g.geometry).map_err(Error::data(format!("grant {}: stored geometry", g.id)))?;
                    let mp = parse_stored(&value).map_err(|_| Error::Internal(format!("grant {}: stored geometry is invalid", g.id)))?;
                    let adcodes = g.adcodes.as_deref().and_then(|a| serde_json::from_str::<Vec<String>>(a).ok()).map(|a| a.join(","));
                    let values = vec![
                        V::Integer(g.partner_id),
                        V::Text(g.partner_name),
                        V::Text(g.tier),
                        V::Boolean(g.exclusive),
                        V::Text(g.valid_from),
                        V::text(g.valid_to),
                        V::Text(g.status),
                        V::text(adcodes),
                        V::real(g.area_km2),
                        text_or_null(&g.note),
                        V::Text(g.created_at),
                        V::text(g.revoked_at),
                    ];
                    features.push(multipolygon_feature(g.id, mp, values));
                }
                features.sort_by_key(|f| f.id);
                (
                    format!("{net} grants"),
                    format!("Territories granted to the partners of network {net}, active and revoked"),
                    GeometryType::MultiPolygon,
                    GRANT_FIELDS,
                    Features::Listed(features),
                )
            }
            Collection::Network(net, NetworkLayer::Outlets) => {
                let partners: HashMap<i64, String> = self.catalog.all_partners(net).await?.into_iter().map(|p| (p.id, p.name)).collect();
                let outlets = self.store.list_outlets(net, &OutletFilter::default()).await?;
                let today = chrono::Utc::now().date_naive();
                let outlets: Vec<_> = outlets
                    .into_iter()
                    .filter(|o| o.competitor || o.partner_id.is_some_and(|p| viewer.sees(p)))
                    .filter(|o| period.is_none_or(|p| o.planned_during(p.bounds().0, p.bounds().1, today)))
                    .collect();
                let closed_on = |o: &crate::domain::outlets::Outlet| if o.status.ended() { Some(o.closed_on) } else { Some(None) };
                time = Some(time_extent(outlets.iter().map(|o| (o.opened_on.or(o.proposed_on), closed_on(o)))));
                let mut features: Vec<Feature> = outlets
                    .into_iter()
                    .map(|o| {
                        let mut values = vec![
                            o.partner_id.map_or(V::Null, V::Integer),
                            V::text(o.partner_id.and_then(|id| partners.get(&id))),
                            V::Boolean(o.competitor),
                            V::text(o.brand),
                            V::Text(o.name),
                            V::text(o.format),
                            V::text(o.role),
                            V::Text(o.site_type),
                            V::Text(o.status.as_str().to_string()),
                            V::text(o.opened_on),
                            V::text(o.closed_on),
                        ];
                        values.extend(o.facility.figures().iter().map(|(_, v)| v.map_or(V::Null, V::real)));
                        values.push(text_or_null(&o.note));
                        Feature::new(o.id, Geometry::Point(o.location), values)
                    })
                    .collect();
                features.sort_by_key(|f| f.id);
                (
                    format!("{net} outlets"),
                    format!("Outlets of network {net} (own and competitors', open and closed)"),
                    GeometryType::Point,
                    OUTLET_FIELDS,
                    Features::Listed(features),
                )
            }
            Collection::Network(net, NetworkLayer::Demand) => {
                let features = match self.demand.info(net).await? {
                    Some(_) => Features::Cells(self.demand.grid(net).await?.1),
                    None => Features::Listed(Vec::new()),
                };
                (format!("{net} demand"), format!("Demand of network {net} per H3 cell, new cars per year"), GeometryType::Polygon, DEMAND_FIELDS, features)
            }
            Collection::Network(net, NetworkLayer::Conflicts) => {
                let grants: HashMap<i64, String> =
                    self.ledger.grant_rows(net, &GrantFilter::default()).await?.into_iter().map(|g| (g.id, g.partner_name)).collect();
                let mut features = Vec::new();
                let conflicts = match period {
                    None => self.ledger.conflicts_of(net).await?,
                    Some(p) => self.ledger.conflicts_during(net, p).await?,
                };
                for (n, (a, e)) in conflicts.into_iter().enumerate() {
                    let mp = e.geometry.area().unwrap_or_else(|| MultiPolygon(Vec::new()));
                    let basis = serde_json::to_value(e.basis).ok().and_then(|b| b.as_str().map(str::to_string));
                    let values = vec![
                        V::Integer(a),
                        V::text(grants.get(&a)),
                        V::Integer(e.grant_id),
                        V::Text(e.partner_name),
                        V::real(e.overlap_km2),
                        V::real(e.overlap_ratio),
                        V::text(basis),
                        V::text(e.adcodes.map(|a| a.join(","))),
                    ];
                    features.push(multipolygon_feature(n as i64 + 1, mp, values));
                }
                (
                    format!("{net} conflicts"),
                    format!("Overlaps between active grants of network {net} that break exclusivity"),
                    GeometryType::MultiPolygon,
                    CONFLICT_FIELDS,
                    Features::Listed(features),
                )
            }
            Collection::Network(net, NetworkLayer::Candidates) => {
                let features = match self.store.last_run(net, viewer.owner()).await? {
                    None => Vec::new(),
                    Some(run) => self
                        .store
                        .last_candidates(net, viewer.owner())
                        .await?
                        .into_iter()
                        .map(|c| {
                            let values = vec![
                                V::Text(c.candidate_id),
                                V::Integer(run.run),
                                V::Text(run.created_at.clone()),
                                run.partner_id.map_or(V::Null, V::Integer),
                                V::Text(c.site_type),
                                V::text(c.format),
                                V::text(c.recommended_format),
                                V::real(c.expected_sales),
                                V::real(c.cannibalised),
                                V::real(c.net_gain),
                                V::real(c.competitor_loss),
                                V::real(c.catchment_demand),
                                c.in_territory.map_or(V::Null, V::Boolean),
                                V::Boolean(c.allowed),
                                V::text(c.by_site_type),
                                V::text(c.blocking_grants),
                            ];
                            Feature::new(c.position, Geometry::Point(Point::new(c.lon, c.lat)), values)
                        })
                        .collect(),
                };
                (
                    format!("{net} candidates"),
                    match viewer {
                        Viewer::All => format!("Candidate sites of the last scoring run of network {net}"),
                        Viewer::Partner(p) => format!("Candidate sites of partner {p}'s last scoring run in network {net}"),
                    },
                    GeometryType::Point,
                    CANDIDATE_FIELDS,
                    Features::Listed(features),
                )
            }
        };
        Ok((Layer { id: c.to_string(), title, description, geometry_type, fields, features }, time))
    }
}

/// Whether a stored grant was in force on some day of the period (see
/// [`crate::store::grants::GrantRow::window_in_force`]).
fn in_force_during(g: &crate::store::grants::GrantRow, p: Period) -> bool {
    g.window_in_force().is_some_and(|w| p.meets(w.from, w.to))
}

/// The first and last day of windows (`from`, `to`: `Some(None)` is open-ended, `None`
/// unreadable); the last is open if any window is.
fn time_extent(windows: impl Iterator<Item = (Option<NaiveDate>, Option<Option<NaiveDate>>)>) -> (Option<NaiveDate>, Option<NaiveDate>) {
    let (mut first, mut last, mut open) = (None::<NaiveDate>, None::<NaiveDate>, false);
    for (from, to) in windows {
        if let Some(f) = from {
            first = Some(first.map_or(f, |x| x.min(f)));
        }
        match to {
            Some(Some(t)) => last = Some(last.map_or(t, |x| x.max(t))),
            Some(None) => open = true,
            None => {}
        }
    }
    (first, if open { None } else { last })
}

/// Whether a viewer may read a network layer: a partner token reads its own layers and
/// demand, not the conflicts between other partners' grants.
fn readable(viewer: Viewer, layer: NetworkLayer) -> bool {
    viewer == Viewer::All || layer != NetworkLayer::Conflicts
}
