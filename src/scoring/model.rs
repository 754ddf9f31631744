//! The Huff model of SCORING.md on a demand grid.
//!
//! A [`Scenario`] holds, per cell, the denominator `den_i = U0 + Σ_k U_ik` over the sales
//! outlets and the own and competitor shares `own_i = Σ_own conv_j U_ij`,
//! `comp_i = Σ_comp conv_k U_ik`. A candidate then costs one pass over the cells within
//! its reach:
//!
//! - `P_ic = U_ic / (den_i + U_ic)`, `expected_sales = conv_c Σ D_i P_ic`;
//! - `cannibalised = Σ_own S_j(B) − S_j(B+c) = Σ_i D_i (own_i / den_i) P_ic`
//!   (since `1/den − 1/(den + U) = U / (den (den + U))`), and likewise `competitor_loss`.

use super::ScoringParams;
use crate::demand::{DemandGrid, UnitVector, chord2, chord2_of_km, unit_vector};
use serde::Serialize;
use std::sync::Arc;

/// A site of the model: an outlet or a candidate, resolved to its parameters.
#[derive(Debug, Clone, Copy)]
pub struct Site {
    /// Position on the unit sphere.
    pub at: UnitVector,
    /// Attraction `A = showroom_m2 × m(site type)`.
    pub attraction: f64,
    /// Conversion `conv(site type)`.
    pub conversion: f64,
    /// Distance decay `beta(site type)`.
    pub beta: f64,
    /// Reach `R(site type)`, km.
    pub reach_km: f64,
}

impl Site {
    /// A site at `lon, lat` (WGS84 degrees) of a site type with a showroom area.
    pub fn new(params: &ScoringParams, lon: f64, lat: f64, site_type: &super::SiteTypeParams, showroom_m2: f64) -> Site {
        Site {
            at: unit_vector(lon, lat),
            attraction: showroom_m2 * site_type.visibility,
            conversion: site_type.conversion,
            beta: site_type.beta,
            reach_km: site_type.reach_km.min(params.earth_radius_km * std::f64::consts::PI),
        }
    }
}

/// What one candidate does to the network (SCORING.md, "Scoring a candidate").
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Evaluation {
    /// `S_c` under `B + c`.
    pub expected_sales: f64,
    /// Sales the network's own outlets lose to the candidate.
    pub cannibalised: f64,
    /// `expected_sales − cannibalised`.
    pub net_gain: f64,
    /// Sales competitors lose to the candidate.
    pub competitor_loss: f64,
    /// Demand of the cells the candidate reaches.
    pub catchment_demand: f64,
}

/// The cells a candidate reaches, with `w_i = max(d_i, d_min)^(−beta)`, kept to try other
/// attractions (formats) without measuring distances again.
#[derive(Debug, Default)]
pub struct Reach {
    cells: Vec<(u32, f64)>,
}

/// The per-cell state of a set of sales outlets on a grid.
#[derive(Debug, Clone)]
pub struct Scenario {
    grid: Arc<DemandGrid>,
    d_min_km: f64,
    radius_km: f64,
    u0: f64,
    den: Vec<f64>,
    own: Vec<f64>,
    comp: Vec<f64>,
}

impl Scenario {
    /// The empty scenario (no outlet): `den_i = U0`.
    pub fn new(grid: Arc<DemandGrid>, params: &ScoringParams) -> Scenario {
        let n = grid.len();
        Scenario { grid, d_min_km: params.d_min_km, radius_km: params.earth_radius_km, u0: params.u0, den: vec![params.u0; n], own: vec![0.0; n], comp: vec![0.0; n] }
    }

    /// The grid.
    pub fn grid(&self) -> &DemandGrid {
        &self.grid
    }

    /// Calls `f(i, w_i)` for every cell within the site's reach.
    pub fn for_each_in_reach(&self, site: &Site, mut f: impl FnMut(usize, f64)) {
        let limit = chord2_of_km(site.reach_km, self.radius_km);
        let d_min = self.d_min_km;
        for range in self.grid.ranges_near(&site.at, site.reach_km, self.radius_km) {
            for i in range {
                let c2 = chord2(&site.at, &self.grid.centres[i]);
                if c2 > limit {
                    continue;
                }
                let d = 2.0 * self.radius_km * (c2.sqrt() / 2.0).asin();
                f(i, d.max(d_min).powf(-site.beta));
            }
        }
    }

    /// Adds a sales outlet: own (`true`) or a competitor's.
    pub fn add(&mut self, site: &Site, own: bool) {
        let mut updates = Vec::new();
        self.for_each_in_reach(site, |i, w| updates.push((i, site.attraction * w)));
        for (i, u) in updates {
            self.den[i] += u;
            if own { self.own[i] += site.conversion * u } else { self.comp[i] += site.conversion * u }
        }
    }

    /// `S_j` of a site that is already in the scenario.
    pub fn sales_of(&self, site: &Site) -> f64 {
        let mut sum = 0.0;
        self.for_each_in_reach(site, |i, w| sum += self.grid.demand[i] * site.attraction * w / self.den[i]);
        site.conversion * sum
    }

    /// Sum of `S_j` over the own outlets: `Σ_i D_i own_i / den_i`.
    pub fn own_total(&self) -> f64 {
        self.grid.demand.iter().zip(&self.own).zip(&self.den).map(|((d, o), den)| d * o / den).sum()
    }

    /// Share of cell `i`'s demand captured by the modelled outlets: `Σ_k P_ik`, below 1.
    pub fn captured_share(&self, i: usize) -> f64 {
        (self.den[i] - self.u0) / self.den[i]
    }

    /// Scores a candidate against this scenario (which it does not change), keeping its
    /// reach in `reach` for [`Scenario::sales_with`].
    pub fn evaluate(&self, site: &Site, reach: &mut Reach) -> Evaluation {
        reach.cells.clear();
        let (mut sales, mut cann, mut comp, mut catchment) = (0.0, 0.0, 0.0, 0.0);
        let a = site.attraction;
        self.for_each_in_reach(site, |i, w| {
            reach.cells.push((i as u32, w));
            let u = a * w;
            if u <= 0.0 {
                return;
            }
            let den = self.den[i];
            let p = u / (den + u);
            let d = self.grid.demand[i];
            sales += d * p;
            cann += d * (self.own[i] / den) * p;
            comp += d * (self.comp[i] / den) * p;
            catchment += d;
        });
        let expected_sales = site.conversion * sales;
        Evaluation { expected_sales, cannibalised: cann, net_gain: expected_sales - cann, competitor_loss: comp, catchment_demand: catchment }
    }

    /// The candidate's `S_c` with another attraction (another format), on the reach of
    /// the last [`Scenario::evaluate`] of the same site.
    pub fn sales_with(&self, reach: &Reach, attraction: f64, conversion: f64) -> f64 {
        let mut sales = 0.0;
        for &(i, w) in &reach.cells {
            let u = attraction * w;
            if u > 0.0 {
                let i = i as usize;
                sales += self.grid.demand[i] * u / (self.den[i] + u);
            }
        }
        conversion * sales
    }
}
