//! The Huff model of docs/scoring.md on a demand grid.
//!
//! A [`Scenario`] holds, per cell, the denominator `den_i = U0 + Σ_k U_ik` over the sales
//! outlets and the own and competitor shares `own_i = Σ_own conv_j U_ij`,
//! `comp_i = Σ_comp conv_k U_ik`. A candidate then costs one pass over the cells within
//! its reach:
//!
//! - `P_ic = U_ic / (den_i + U_ic)`, `expected_sales = conv_c Σ D_i P_ic`;
//! - `cannibalised = Σ_own S_j(B) − S_j(B+c) = Σ_i D_i (own_i / den_i) P_ic`
//!   (since `1/den − 1/(den + U) = U / (den (den + U))`), and likewise `competitor_loss`.
//!
//! The pass itself is [`kernel`]'s: vectorised, with the distance decay computed from a
//! formula of the squared chord (no `asin` or `powf` per cell).

use super::ScoringParams;
use super::kernel::{self, KernelSite, exact_decay};
use crate::domain::demand::{DemandGrid, UnitVector, chord2, chord2_of_km, unit_vector};
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

/// What one candidate does to the network (docs/scoring.md, "Scoring a candidate").
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

/// The cells a candidate reaches: the ranges of cells visited and each visited cell's decay
/// `w_i = max(d_i, d_min)^(−beta)` (0 beyond the reach), kept to try other attractions
/// (formats) without measuring distances again.
#[derive(Debug, Default)]
pub struct Reach {
    ranges: Vec<std::ops::Range<usize>>,
    ws: Vec<f64>,
}

/// The per-cell state of a set of sales outlets on a grid.
#[derive(Debug, Clone)]
pub struct Scenario {
    grid: Arc<DemandGrid>,
    d_min_km: f64,
    radius_km: f64,
    u0: f64,
    /// Per cell `[den_i, D_i, D_i own_i / den_i, D_i comp_i / den_i]`: a candidate streams
    /// this one array (32 bytes a cell).
    packed: Vec<[f64; 4]>,
}

impl Scenario {
    /// The empty scenario (no outlet): `den_i = U0`.
    pub fn new(grid: Arc<DemandGrid>, params: &ScoringParams) -> Scenario {
        let packed = grid.demand.iter().map(|&d| [params.u0, d, 0.0, 0.0]).collect();
        Scenario { grid, d_min_km: params.d_min_km, radius_km: params.earth_radius_km, u0: params.u0, packed }
    }

    /// The site as the vectorised kernel sees it (`None` beyond the decay formula's range:
    /// the exact formula is used then).
    fn kernel_site(&self, site: &Site) -> Option<KernelSite> {
        let limit = chord2_of_km(site.reach_km, self.radius_km);
        KernelSite::new(site.at, site.attraction, site.beta, limit, chord2_of_km(self.d_min_km, self.radius_km), self.radius_km)
    }

    /// Every cell within the site's reach as `(position, w_i)`: an iterator, so callers'
    /// sums stay in registers. The decay is the kernel's formula, so that outlets added to
    /// the scenario see what candidates saw.
    #[inline]
    pub fn reach(&self, site: &Site) -> impl Iterator<Item = (usize, f64)> + '_ {
        let limit = chord2_of_km(site.reach_km, self.radius_km);
        let formula = self.kernel_site(site);
        let (at, beta, d_min, radius) = (site.at, site.beta, self.d_min_km, self.radius_km);
        self.grid.ranges_near(&site.at, site.reach_km, self.radius_km).into_iter().flat_map(move |range| {
            let start = range.start;
            self.grid.centres[range].iter().enumerate().filter_map(move |(k, c)| {
                let s = chord2(&at, c);
                if s > limit {
                    return None;
                }
                let w = match &formula {
                    Some(f) => kernel::decay_scalar(s, f),
                    None => exact_decay(s, beta, d_min, radius),
                };
                Some((start + k, w))
            })
        })
    }

    /// Adds a sales outlet: own (`true`) or a competitor's.
    pub fn add(&mut self, site: &Site, own: bool) {
        let updates: Vec<(usize, f64)> = self.reach(site).map(|(i, w)| (i, site.attraction * w)).collect();
        for (i, u) in updates {
            let [den, d, d_own, d_comp] = self.packed[i];
            if d == 0.0 {
                // No demand: only the denominator matters (for captured shares).
                self.packed[i][0] = den + u;
                continue;
            }
            // own_i = (D own_i / den) den / D, to 1 ulp or so.
            let (mut own_i, mut comp_i) = (d_own * den / d, d_comp * den / d);
            if own {
                own_i += site.conversion * u
            } else {
                comp_i += site.conversion * u
            }
            let den = den + u;
            self.packed[i] = [den, d, d * (own_i / den), d * (comp_i / den)];
        }
    }

    /// `S_j` of a site that is already in the scenario.
    pub fn sales_of(&self, site: &Site) -> f64 {
        let sum: f64 = self.reach(site).map(|(i, w)| self.packed[i][1] * site.attraction * w / self.packed[i][0]).sum();
        site.conversion * sum
    }

    /// Sum of `S_j` over the own outlets: `Σ_i D_i own_i / den_i`.
    pub fn own_total(&self) -> f64 {
        self.packed.iter().map(|p| p[2]).sum()
    }

    /// Bytes held by the per-cell state.
    pub fn heap_bytes(&self) -> usize {
        self.packed.capacity() * 32
    }

    /// Share of cell `i`'s demand captured by the modelled outlets: `Σ_k P_ik`, below 1.
    pub fn captured_share(&self, i: usize) -> f64 {
        (self.packed[i][0] - self.u0) / self.packed[i][0]
    }

    /// Scores a candidate against this scenario (which it does not change), keeping its
    /// reach in `reach` for [`Scenario::sales_with`].
    pub fn evaluate(&self, site: &Site, reach: &mut Reach) -> Evaluation {
        self.evaluate_keeping(site, reach, true)
    }

    /// [`Scenario::evaluate`], keeping the reach only if `keep` (format trials need it).
    pub fn evaluate_keeping(&self, site: &Site, reach: &mut Reach, keep: bool) -> Evaluation {
        reach.ranges.clear();
        reach.ws.clear();
        if site.attraction <= 0.0 {
            return Evaluation::default();
        }
        reach.ranges = self.grid.ranges_near(&site.at, site.reach_km, self.radius_km);
        let sums = match self.kernel_site(site) {
            Some(k) => kernel::evaluate(&self.grid.centres, &self.packed, &reach.ranges, &k, keep.then_some(&mut reach.ws)),
            None => self.evaluate_exactly(site, &reach.ranges, keep.then_some(&mut reach.ws)),
        };
        let expected_sales = site.conversion * sums.sales;
        Evaluation {
            expected_sales,
            cannibalised: sums.cannibalised,
            net_gain: expected_sales - sums.cannibalised,
            competitor_loss: sums.competitor_loss,
            catchment_demand: sums.catchment,
        }
    }

    /// The kernel's sums with the exact decay, one cell at a time: for reaches beyond the
    /// kernel's formula.
    fn evaluate_exactly(&self, site: &Site, ranges: &[std::ops::Range<usize>], mut keep: Option<&mut Vec<f64>>) -> kernel::Sums {
        let limit = chord2_of_km(site.reach_km, self.radius_km);
        let mut sums = kernel::Sums::default();
        for range in ranges {
            for (c, &[den, d, d_own, d_comp]) in self.grid.centres[range.clone()].iter().zip(&self.packed[range.clone()]) {
                let s = chord2(&site.at, c);
                let w = if s <= limit { exact_decay(s, site.beta, self.d_min_km, self.radius_km) } else { 0.0 };
                if let Some(keep) = keep.as_deref_mut() {
                    keep.push(w);
                }
                if s > limit {
                    continue;
                }
                let u = site.attraction * w;
                let p = u / (den + u);
                sums.sales += d * p;
                sums.cannibalised += d_own * p;
                sums.competitor_loss += d_comp * p;
                sums.catchment += d;
            }
        }
        sums
    }

    /// The candidate's `S_c` with another attraction (another format), on the reach of
    /// the last [`Scenario::evaluate`] of the same site.
    pub fn sales_with(&self, reach: &Reach, attraction: f64, conversion: f64) -> f64 {
        conversion * kernel::sales_with(&self.packed, &reach.ranges, &reach.ws, attraction)
    }
}
