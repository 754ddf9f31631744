//! The scoring model's parameters (docs/scoring.md), read from the network's policy file so
//! that no default lives in code.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How one site type pulls demand.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteTypeParams {
    /// Visibility factor `m` on the showroom area.
    pub visibility: f64,
    /// Distance decay exponent `beta`.
    pub beta: f64,
    /// Reach `R`, km: cells farther away are not drawn at all.
    pub reach_km: f64,
    /// Share of captured demand converted to sales, `conv`.
    pub conversion: f64,
}

/// Every parameter of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoringParams {
    /// H3 resolution of the demand grid.
    pub resolution: u8,
    /// Distances below this count as this, km.
    pub d_min_km: f64,
    /// The pull of every channel not modelled, `U0`.
    pub u0: f64,
    /// Earth radius of the haversine distance, km.
    pub earth_radius_km: f64,
    /// Showroom area of a format without one, m².
    pub default_showroom_m2: f64,
    /// New cars bought per person per year (demand synthesis).
    pub purchase_rate: f64,
    /// The brand's share of those purchases: demand synthesised from population is the
    /// brand's addressable market, not the whole market (1: the whole market).
    #[serde(default = "whole_market")]
    pub market_share: f64,
    /// Site type code → its parameters.
    pub site_types: BTreeMap<String, SiteTypeParams>,
    /// Site types a candidate without one is scored as, best by net gain (ties: first).
    pub compare_site_types: Vec<String>,
}

impl ScoringParams {
    /// Checks the parameters: positive distances and weights, compared site types known.
    pub fn check(&self) -> Result<(), String> {
        if !(self.d_min_km > 0.0 && self.u0 > 0.0 && self.earth_radius_km > 0.0 && self.default_showroom_m2 > 0.0 && self.purchase_rate >= 0.0) {
            return Err("d_min_km, u0, earth_radius_km and default_showroom_m2 must be positive".into());
        }
        if !(self.market_share > 0.0 && self.market_share <= 1.0) {
            return Err(format!("market_share {} must lie in (0, 1]", self.market_share));
        }
        if h3o::Resolution::try_from(self.resolution).is_err() {
            return Err(format!("resolution {} is not an H3 resolution", self.resolution));
        }
        for (code, st) in &self.site_types {
            if !(st.visibility > 0.0 && st.beta > 0.0 && st.reach_km > 0.0 && st.conversion > 0.0) {
                return Err(format!("site type {code}: visibility, beta, reach_km and conversion must be positive"));
            }
        }
        if let Some(unknown) = self.compare_site_types.iter().find(|s| !self.site_types.contains_key(*s)) {
            return Err(format!("compare_site_types names unknown site type {unknown}"));
        }
        Ok(())
    }
}

fn whole_market() -> f64 {
    1.0
}
