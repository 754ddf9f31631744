//! The scoring model in force for each network: the policy's parameters (version 0), or a
//! fit to the network's observed sales (`domain::scoring::calibrate`). Every fit is kept as
//! a version; one is in force, and a rollback puts an earlier one (or the policy's) back.

use super::catalog::Catalog;
use super::demand::Demand;
use super::{blocking, lock};
use crate::domain::access::{Caller, Role};
use crate::domain::demand::synthesize;
use crate::domain::outlets::{Outlet, OutletStatus};
use crate::domain::regions::Level;
use crate::domain::scoring::calibrate::{self, Calibration, FitInput, FitSite, Observation, Spread};
use crate::domain::scoring::network::{outlet_site, showroom};
use crate::domain::scoring::{ModelRef, ModelSource, ScoringParams};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::models as model_rows;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// The parameters in force for a network, and which version they are.
#[derive(Debug, Clone)]
pub struct InForce {
    /// The scoring parameters.
    pub params: ScoringParams,
    /// Which version.
    pub model: ModelRef,
}

/// A fit's report as stored with its version.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FitReport {
    /// The year of the sales fitted.
    pub year: i64,
    /// Standard error of each fitted value.
    #[schema(value_type = Object)]
    pub standard_errors: serde_json::Value,
    /// 95 % interval of each fitted value.
    #[schema(value_type = Object)]
    pub intervals: serde_json::Value,
    /// Fit statistics.
    #[schema(value_type = Object)]
    pub fit: serde_json::Value,
    /// The parameters the data cannot determine, kept at their values in force.
    pub unidentified: Vec<String>,
    /// The site type whose visibility stays fixed.
    pub reference_site_type: Option<String>,
}

/// One version of a network's model.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ModelVersion {
    /// Which version.
    #[serde(flatten)]
    pub model: ModelRef,
    /// Whether it is in force.
    pub current: bool,
    /// Its parameters, as a policy's `scoring` section.
    #[schema(value_type = Object)]
    pub parameters: ScoringParams,
    /// The fit's report (none for the policy's).
    pub report: Option<FitReport>,
}

/// The answer of a calibration: the new version, in force.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Calibrated {
    /// The version stored.
    pub version: i64,
    /// The version as answers name it.
    pub model: ModelRef,
    /// The year fitted.
    pub year: i64,
    /// The fit.
    #[serde(flatten)]
    pub calibration: Calibration,
}

/// Model versions.
#[derive(Debug)]
pub struct Models {
    store: Store,
    catalog: Arc<Catalog>,
    demand: Arc<Demand>,
    /// Parsed versions by (network, version).
    parsed: Mutex<HashMap<(String, i64), Arc<InForce>>>,
}

impl Models {
    pub(super) fn new(store: Store, catalog: Arc<Catalog>, demand: Arc<Demand>) -> Models {
        Models { store, catalog, demand, parsed: Mutex::new(HashMap::new()) }
    }

    /// The parameters in force for a network (no access check: for the services' own use).
    pub async fn in_force(&self, network: &str) -> Result<Arc<InForce>> {
        let version = self.store.current_model(network).await?;
        self.version(network, version).await
    }

    /// One version's parameters.
    async fn version(&self, network: &str, version: i64) -> Result<Arc<InForce>> {
        let key = (network.to_string(), version);
        if let Some(v) = lock(&self.parsed).get(&key) {
            return Ok(v.clone());
        }
        let (_, policy) = self.catalog.network(network).await?;
        let in_force = if version == 0 {
            InForce { params: policy.scoring.clone(), model: ModelRef { version: 0, source: ModelSource::Policy, fitted_at: None } }
        } else {
            let row = self.store.model(network, version).await?.ok_or_else(|| Error::NotFound(format!("no model version {version} of network `{network}`")))?;
            let params: ScoringParams = serde_json::from_str(&row.parameters).map_err(Error::data(format!("model version {version} of `{network}`")))?;
            InForce { params, model: ModelRef { version, source: ModelSource::Fitted, fitted_at: Some(row.created_at) } }
        };
        let in_force = Arc::new(in_force);
        lock(&self.parsed).insert(key, in_force.clone());
        Ok(in_force)
    }

    /// The version in force, with its parameters and report.
    pub async fn current(&self, caller: &Caller, network: &str) -> Result<ModelVersion> {
        self.catalog.enter(caller, network, Role::Viewer).await?;
        let version = self.store.current_model(network).await?;
        self.describe(network, version, version).await
    }

    /// Every version, the policy's first, with which is in force.
    pub async fn history(&self, caller: &Caller, network: &str) -> Result<Vec<ModelVersion>> {
        self.catalog.enter(caller, network, Role::Viewer).await?;
        let current = self.store.current_model(network).await?;
        let mut out = vec![self.describe(network, 0, current).await?];
        for row in self.store.models(network).await? {
            out.push(self.describe(network, row.version, current).await?);
        }
        Ok(out)
    }

    async fn describe(&self, network: &str, version: i64, current: i64) -> Result<ModelVersion> {
        let in_force = self.version(network, version).await?;
        let report = match version {
            0 => None,
            v => {
                let row = self.store.model(network, v).await?.ok_or_else(|| Error::NotFound(format!("no model version {v}")))?;
                Some(serde_json::from_str(&row.report).map_err(Error::data(format!("model version {v} of `{network}`")))?)
            }
        };
        Ok(ModelVersion { model: in_force.model.clone(), current: version == current, parameters: in_force.params.clone(), report })
    }

    /// Puts an earlier version (0: the policy's) back in force. Admins of the network.
    pub async fn rollback(&self, caller: &Caller, network: &str, version: i64) -> Result<ModelVersion> {
        caller.governs(network)?;
        self.catalog.network(network).await?;
        if version != 0 && self.store.model(network, version).await?.is_none() {
            return Err(Error::invalid("/version", format!("network `{network}` has no model version {version}")));
        }
        let mut tx = self.store.begin_write().await?;
        model_rows::set_current(&mut tx, network, version).await?;
        tx.commit().await?;
        self.describe(network, version, version).await
    }

    /// Fits the model to the network's observed sales of `year` (default: the latest) and
    /// puts the fit in force as a new version. Admins of the network.
    pub async fn calibrate(&self, caller: &Caller, network: &str, year: Option<i64>) -> Result<Calibrated> {
        caller.governs(network)?;
        let (_, policy) = self.catalog.network(network).await?;
        let years = self.store.sales_years(network).await?;
        let year = match year {
            Some(y) if years.contains(&y) => y,
            Some(y) => return Err(Error::invalid("/year", format!("network `{network}` has no sales of {y}; it has {years:?}"))),
            None => *years.last().ok_or_else(|| Error::NotReady(format!("network `{network}` has no sales yet: PUT /networks/{network}/sales")))?,
        };
        let rows = self.store.sales(network, Some(year)).await?;
        let (_, grid) = self.demand.grid(network).await?;
        let start = self.in_force(network).await?;
        let outlets = self.store.list_outlets(network, &Default::default()).await?;
        // The sites of that year: outlets open in it (opened by its end, not closed before it).
        let (first, last) = (NaiveDate::from_ymd_opt(year as i32, 1, 1), NaiveDate::from_ymd_opt(year as i32, 12, 31));
        let open_in = |o: &Outlet| first.zip(last).is_some_and(|(first, last)| o.open_during(first, last));
        let mut sites = Vec::new();
        let mut site_of: HashMap<i64, usize> = HashMap::new();
        for o in outlets.iter().filter(|o| open_in(o)) {
            let mut o = o.clone();
            o.status = OutletStatus::Open;
            if outlet_site(policy, &start.params, &o).is_none() {
                continue;
            }
            site_of.insert(o.id, sites.len());
            let showroom_m2 = showroom(policy, &start.params, o.format.as_deref());
            sites.push(FitSite { site_type: o.site_type.clone(), showroom_m2, lon: o.location.x(), lat: o.location.y() });
        }
        // Districts of the flows, and the grid cells in each.
        let districts: Vec<String> = {
            let mut d: Vec<String> = rows.iter().filter(|r| !r.district.is_empty()).map(|r| r.district.clone()).collect();
            d.sort();
            d.dedup();
            d
        };
        let district_index: BTreeMap<&str, usize> = districts.iter().enumerate().map(|(i, d)| (d.as_str(), i)).collect();
        let mut observations = Vec::new();
        for r in &rows {
            let Some(&site) = site_of.get(&r.outlet_id) else { continue };
            let district = (!r.district.is_empty()).then(|| district_index[r.district.as_str()]);
            observations.push(Observation { site, district, units: r.units });
        }
        let cell_district = match districts.is_empty() {
            true => None,
            false => Some(self.cell_districts(&districts, &grid, &start.params).await?),
        };
        let params = start.params.clone();
        let grid_for_fit = grid.clone();
        let calibration = blocking(move || calibrate::calibrate(&FitInput { grid: &grid_for_fit, start: &params, sites, observations, cell_district }))
            .await?
            .map_err(|e| Error::invalid("", e.to_string()))?;
        let report = FitReport {
            year,
            standard_errors: json(&calibration.standard_errors)?,
            intervals: json(&calibration.intervals)?,
            fit: serde_json::to_value(&calibration.fit).map_err(Error::data("the fit"))?,
            unidentified: calibration.unidentified.clone(),
            reference_site_type: calibration.reference_site_type.clone(),
        };
        let parameters = serde_json::to_string(&calibration.parameters).map_err(Error::data("the fitted parameters"))?;
        let report_text = serde_json::to_string(&report).map_err(Error::data("the fit's report"))?;
        let mut tx = self.store.begin_write().await?;
        let version = model_rows::insert(&mut tx, network, &parameters, &report_text).await?;
        tx.commit().await?;
        let model = self.version(network, version).await?.model.clone();
        Ok(Calibrated { version, model, year, calibration })
    }

    /// The district (index into `districts`) of each grid cell by position (`u32::MAX`:
    /// none of them), as synthesis assigns cells to districts.
    async fn cell_districts(&self, districts: &[String], grid: &Arc<crate::domain::demand::DemandGrid>, params: &ScoringParams) -> Result<Vec<u32>> {
        self.catalog.refresh_regions().await?;
        let regions = self.catalog.regions();
        if let Some(unknown) = districts.iter().find(|d| regions.get(d).is_none_or(|r| r.level != Level::District && r.level != Level::City)) {
            return Err(Error::invalid("/district", format!("sales name buyers' district `{unknown}`, which is no district of the stored regions")));
        }
        let settings = synthesize::bundled_settings()?;
        let resolution = h3o::Resolution::try_from(params.resolution).map_err(Error::data("the H3 resolution"))?;
        let wanted: Vec<String> = districts.to_vec();
        let grid = grid.clone();
        blocking(move || -> Result<Vec<u32>> {
            let keep = |adcode: &str| wanted.iter().any(|d| d == adcode);
            let (found, _) = synthesize::districts(&regions, super::demand::POPULATION_2010, &settings, 1.0, resolution, &keep, |_, _| {})?;
            let position: HashMap<u64, usize> = grid.cells.iter().enumerate().map(|(i, c)| (*c, i)).collect();
            let mut out = vec![u32::MAX; grid.len()];
            for d in found {
                let index = wanted.iter().position(|w| *w == d.adcode).unwrap_or(0) as u32;
                for c in d.cells {
                    if let Some(&i) = position.get(&u64::from(c)) {
                        out[i] = index;
                    }
                }
            }
            Ok(out)
        })
        .await?
    }
}

fn json(spread: &Spread) -> Result<serde_json::Value> {
    serde_json::to_value(spread).map_err(Error::data("a fit's spread"))
}
