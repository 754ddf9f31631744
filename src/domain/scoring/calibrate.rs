//! Calibration: the model fitted to the network's own sales (docs/scoring.md,
//! "Calibration").
//!
//! Free parameters, in log space (so that they stay positive): per site type with observed
//! outlets `beta`, `conversion` and `visibility` (but the reference site type's visibility,
//! which stays fixed: scaling every visibility and `u0` together changes no share), and
//! `u0`. Reach and `d_min` stay as set. A site type without an observed outlet keeps its
//! values and is named in `unidentified`.
//!
//! Objective: weighted least squares of observed against modelled sales, each residual
//! `(S − Y) / √max(Y, 1)`: the Poisson variance as weight, i.e. the quadratic approximation
//! of the Poisson deviance. Observations per buyer's district (flows) enter the same way,
//! with the modelled flow `conv_j Σ_{i∈d} D_i P_ij`. Solved by Levenberg–Marquardt (the
//! `levenberg-marquardt` crate) with a forward-difference Jacobian; standard errors from
//! `σ² (JᵀJ)⁻¹` with `σ² = RSS / (n − p)`, mapped from log space by the delta method;
//! 95 % intervals `exp(ln θ ± 1.96 se_ln)`.

use super::ScoringParams;
use super::kernel::exact_decay;
use crate::domain::demand::{DemandGrid, chord2, chord2_of_km, unit_vector};
use levenberg_marquardt::{LeastSquaresProblem, LevenbergMarquardt};
use nalgebra::{DMatrix, DVector, Dyn, Owned};
use serde::Serialize;
use std::collections::BTreeMap;

/// The order in which a reference site type is chosen among those with observed outlets.
pub const REFERENCE_ORDER: [&str; 3] = ["auto_city", "mall", "street"];

/// A site of the network as the fit sees it (own or a competitor's).
#[derive(Debug, Clone, PartialEq)]
pub struct FitSite {
    /// Site type code (one of the parameters').
    pub site_type: String,
    /// Showroom area of its format, m².
    pub showroom_m2: f64,
    /// WGS84 longitude.
    pub lon: f64,
    /// WGS84 latitude.
    pub lat: f64,
}

/// One observed figure: cars sold by a site to all its buyers, or to those of one district.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Index of the site in the fit's sites.
    pub site: usize,
    /// Index of the buyers' district (into the fit's districts), or `None` for a total.
    pub district: Option<usize>,
    /// Cars sold.
    pub units: f64,
}

/// What a fit runs on.
#[derive(Debug)]
pub struct FitInput<'a> {
    /// The demand grid.
    pub grid: &'a DemandGrid,
    /// Parameters in force: the start of the fit and the values of what is not fitted.
    pub start: &'a ScoringParams,
    /// Every selling site of the network (own with and without sales, competitors').
    pub sites: Vec<FitSite>,
    /// The observed figures.
    pub observations: Vec<Observation>,
    /// For flows: the district (index) of each grid cell by position, if any observation
    /// has a district.
    pub cell_district: Option<Vec<u32>>,
}

/// A fitted value's spread, in the shape of the scoring section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SiteTypeSpread {
    /// Of `beta`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beta: Option<[f64; 2]>,
    /// Of `conversion`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversion: Option<[f64; 2]>,
    /// Of `visibility`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visibility: Option<[f64; 2]>,
}

/// Standard errors or 95 % intervals of the fitted values, in the shape of the scoring
/// section (a pair `[a, b]`: the interval; for standard errors `[se, se]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Spread {
    /// Of `u0`.
    pub u0: Option<[f64; 2]>,
    /// Per fitted site type.
    pub site_types: BTreeMap<String, SiteTypeSpread>,
}

/// How well the model fits.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Fit {
    /// Outlets with observed sales.
    pub n_outlets: usize,
    /// Observed figures (totals and flows).
    pub n_observations: usize,
    /// Parameters fitted.
    pub n_parameters: usize,
    /// 1 − Σ(Y − S)² / Σ(Y − Ȳ)² over outlet totals.
    pub r2: f64,
    /// Mean of |Y − S| / Y over outlets that sold.
    pub mape: f64,
    /// The same, each outlet predicted by a fit without it (k-fold, k ≤ 5).
    pub holdout_mape: Option<f64>,
    /// The weighted residual sum of squares.
    pub weighted_rss: f64,
    /// Solver iterations (residual evaluations).
    pub evaluations: usize,
}

/// A calibration's result.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Calibration {
    /// The fitted parameters, as a policy's `scoring` section.
    #[schema(value_type = Object)]
    pub parameters: ScoringParams,
    /// Standard error of each fitted value (`[se, se]`).
    pub standard_errors: Spread,
    /// 95 % interval of each fitted value.
    pub intervals: Spread,
    /// Fit statistics.
    pub fit: Fit,
    /// The parameters the data cannot determine, kept at their values in force.
    pub unidentified: Vec<String>,
    /// The site type whose visibility stays fixed (only ratios to `u0` are identifiable).
    pub reference_site_type: Option<String>,
}

/// Why a fit cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalibrationError {
    /// Fewer observations than parameters.
    #[error("{observations} observed figure(s) cannot fit {parameters} parameter(s); give sales of more outlets")]
    TooFewObservations {
        /// Observed figures.
        observations: usize,
        /// Parameters to fit.
        parameters: usize,
    },
    /// No observation at all.
    #[error("no sales to fit")]
    NoSales,
    /// The solver found no finite answer.
    #[error("the fit did not converge to finite values")]
    Diverged,
}

/// Which value a parameter slot holds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Slot {
    Beta(usize),
    Conversion(usize),
    Visibility(usize),
    U0,
}

/// The precomputed pairs of sites and the cells they reach.
struct Pairs {
    /// Per site: the range of its pairs.
    of_site: Vec<std::ops::Range<usize>>,
    /// Per pair: local cell index, ln max(d, d_min), district (u32::MAX: none).
    cell: Vec<u32>,
    ln_d: Vec<f64>,
    district: Vec<u32>,
    /// Per local cell: demand.
    demand: Vec<f64>,
}

/// The fit's state: inputs, the slots of θ, and θ.
struct Problem<'a> {
    sites: &'a [FitSite],
    /// Site type of each site, as an index into `types`.
    site_type: Vec<usize>,
    /// Values in force per site type (beta, conversion, visibility).
    fixed: Vec<[f64; 3]>,
    u0: f64,
    showroom: Vec<f64>,
    pairs: &'a Pairs,
    observations: Vec<Observation>,
    slots: Vec<Slot>,
    theta: DVector<f64>,
    evaluations: std::cell::Cell<usize>,
}

impl Problem<'_> {
    /// (beta, conversion, visibility) per site type and u0 under `theta`.
    fn values(&self, theta: &DVector<f64>) -> (Vec<[f64; 3]>, f64) {
        let mut v = self.fixed.clone();
        let mut u0 = self.u0;
        for (slot, x) in self.slots.iter().zip(theta.iter()) {
            let x = x.exp();
            match *slot {
                Slot::Beta(t) => v[t][0] = x,
                Slot::Conversion(t) => v[t][1] = x,
                Slot::Visibility(t) => v[t][2] = x,
                Slot::U0 => u0 = x,
            }
        }
        (v, u0)
    }

    /// Modelled totals per site and flows per (site, district) under `theta`.
    fn model(&self, theta: &DVector<f64>) -> (Vec<f64>, BTreeMap<(usize, u32), f64>) {
        self.evaluations.set(self.evaluations.get() + 1);
        let (v, u0) = self.values(theta);
        let p = self.pairs;
        let mut u = vec![0.0; p.cell.len()];
        let mut den = vec![u0; p.demand.len()];
        for (j, range) in p.of_site.iter().enumerate() {
            let [beta, _, vis] = v[self.site_type[j]];
            let a = self.showroom[j] * vis;
            for k in range.clone() {
                let uk = a * (-beta * p.ln_d[k]).exp();
                u[k] = uk;
                den[p.cell[k] as usize] += uk;
            }
        }
        let mut totals = vec![0.0; self.sites.len()];
        let mut flows = BTreeMap::new();
        let wants_flows = self.observations.iter().any(|o| o.district.is_some());
        for (j, range) in p.of_site.iter().enumerate() {
            let conv = v[self.site_type[j]][1];
            let mut s = 0.0;
            for k in range.clone() {
                let c = p.cell[k] as usize;
                let x = conv * p.demand[c] * u[k] / den[c];
                s += x;
                if wants_flows && p.district[k] != u32::MAX {
                    *flows.entry((j, p.district[k])).or_insert(0.0) += x;
                }
            }
            totals[j] = s;
        }
        (totals, flows)
    }

    fn residuals_at(&self, theta: &DVector<f64>) -> DVector<f64> {
        let (totals, flows) = self.model(theta);
        DVector::from_iterator(
            self.observations.len(),
            self.observations.iter().map(|o| {
                let m = match o.district {
                    None => totals[o.site],
                    Some(d) => flows.get(&(o.site, d as u32)).copied().unwrap_or(0.0),
                };
                (m - o.units) / o.units.max(1.0).sqrt()
            }),
        )
    }

    fn jacobian_at(&self, theta: &DVector<f64>) -> DMatrix<f64> {
        let base = self.residuals_at(theta);
        let mut j = DMatrix::zeros(base.len(), theta.len());
        for k in 0..theta.len() {
            let h = 1e-6;
            let mut t = theta.clone();
            t[k] += h;
            let r = self.residuals_at(&t);
            j.set_column(k, &((r - &base) / h));
        }
        j
    }
}

impl LeastSquaresProblem<f64, Dyn, Dyn> for Problem<'_> {
    type ResidualStorage = Owned<f64, Dyn>;
    type JacobianStorage = Owned<f64, Dyn, Dyn>;
    type ParameterStorage = Owned<f64, Dyn>;

    fn set_params(&mut self, x: &DVector<f64>) {
        self.theta.copy_from(x);
    }

    fn params(&self) -> DVector<f64> {
        self.theta.clone()
    }

    fn residuals(&self) -> Option<DVector<f64>> {
        let r = self.residuals_at(&self.theta);
        r.iter().all(|x| x.is_finite()).then_some(r)
    }

    fn jacobian(&self) -> Option<DMatrix<f64>> {
        let j = self.jacobian_at(&self.theta);
        j.iter().all(|x| x.is_finite()).then_some(j)
    }
}

/// Every site's reach over the grid, as pairs (local cells only).
fn pairs(input: &FitInput<'_>, reach_of: &[f64]) -> Pairs {
    let p = input.start;
    let grid = input.grid;
    let mut local: std::collections::HashMap<usize, u32> = std::collections::HashMap::new();
    let mut demand = Vec::new();
    let (mut of_site, mut cell, mut ln_d, mut district) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (j, s) in input.sites.iter().enumerate() {
        let at = unit_vector(s.lon, s.lat);
        let limit = chord2_of_km(reach_of[j], p.earth_radius_km);
        let start = cell.len();
        for range in grid.ranges_near(&at, reach_of[j], p.earth_radius_km) {
            for i in range {
                let s2 = chord2(&at, &grid.centres[i]);
                if s2 > limit {
                    continue;
                }
                // ln max(d, d_min), the same distance the model's exact decay uses.
                let ln = -exact_decay(s2, 1.0, p.d_min_km, p.earth_radius_km).ln();
                let next = local.len() as u32;
                let l = *local.entry(i).or_insert_with(|| {
                    demand.push(grid.demand[i]);
                    next
                });
                cell.push(l);
                ln_d.push(ln);
                district.push(input.cell_district.as_ref().map_or(u32::MAX, |d| d[i]));
            }
        }
        of_site.push(start..cell.len());
    }
    Pairs { of_site, cell, ln_d, district, demand }
}

/// Fits the model to the observations (see the module doc).
pub fn calibrate(input: &FitInput<'_>) -> Result<Calibration, CalibrationError> {
    if input.observations.is_empty() {
        return Err(CalibrationError::NoSales);
    }
    let start = input.start;
    let types: Vec<String> = start.site_types.keys().cloned().collect();
    let index = |code: &str| types.iter().position(|t| t == code);
    let site_type: Vec<usize> = input.sites.iter().map(|s| index(&s.site_type).unwrap_or(0)).collect();
    let reach_of: Vec<f64> = input.sites.iter().map(|s| start.site_types.get(&s.site_type).map_or(0.0, |t| t.reach_km)).collect();
    let observed_types: std::collections::BTreeSet<usize> = input.observations.iter().map(|o| site_type[o.site]).collect();
    let reference = REFERENCE_ORDER.iter().filter_map(|c| index(c)).chain(0..types.len()).find(|t| observed_types.contains(t));
    let mut slots = Vec::new();
    let mut unidentified = Vec::new();
    for (t, code) in types.iter().enumerate() {
        if observed_types.contains(&t) {
            slots.push(Slot::Beta(t));
            slots.push(Slot::Conversion(t));
            if Some(t) != reference {
                slots.push(Slot::Visibility(t));
            }
        } else {
            unidentified.extend(["beta", "conversion", "visibility"].map(|f| format!("site_types.{code}.{f}")));
        }
    }
    slots.push(Slot::U0);
    let n = input.observations.len();
    if n <= slots.len() {
        return Err(CalibrationError::TooFewObservations { observations: n, parameters: slots.len() });
    }
    let fixed: Vec<[f64; 3]> = types.iter().map(|c| start.site_types[c]).map(|s| [s.beta, s.conversion, s.visibility]).collect();
    let theta0 = DVector::from_iterator(
        slots.len(),
        slots.iter().map(|s| match *s {
            Slot::Beta(t) => fixed[t][0].ln(),
            Slot::Conversion(t) => fixed[t][1].ln(),
            Slot::Visibility(t) => fixed[t][2].ln(),
            Slot::U0 => start.u0.ln(),
        }),
    );
    let pairs = pairs(input, &reach_of);
    let showroom: Vec<f64> = input.sites.iter().map(|s| s.showroom_m2).collect();
    let problem = |observations: Vec<Observation>, theta: DVector<f64>| Problem {
        sites: &input.sites,
        site_type: site_type.clone(),
        fixed: fixed.clone(),
        u0: start.u0,
        showroom: showroom.clone(),
        pairs: &pairs,
        observations,
        slots: slots.clone(),
        theta,
        evaluations: std::cell::Cell::new(0),
    };
    let solver = LevenbergMarquardt::new().with_patience(200);
    let (fitted, _report) = solver.minimize(problem(input.observations.clone(), theta0));
    let theta = fitted.theta.clone();
    if theta.iter().any(|x| !x.is_finite()) {
        return Err(CalibrationError::Diverged);
    }
    // Spread: σ² (JᵀJ)⁻¹ in log space, then the delta method.
    let r = fitted.residuals_at(&theta);
    let j = fitted.jacobian_at(&theta);
    let rss = r.norm_squared();
    let dof = (n - slots.len()) as f64;
    let cov = (j.transpose() * &j).pseudo_inverse(1e-12).map(|m| m * (rss / dof)).unwrap_or_else(|_| DMatrix::from_element(slots.len(), slots.len(), f64::NAN));
    let (values, u0) = fitted.values(&theta);
    let mut parameters = start.clone();
    for (t, code) in types.iter().enumerate() {
        if let Some(st) = parameters.site_types.get_mut(code) {
            [st.beta, st.conversion, st.visibility] = values[t];
        }
    }
    parameters.u0 = u0;
    let mut standard_errors = Spread::default();
    let mut intervals = Spread::default();
    for (k, slot) in slots.iter().enumerate() {
        let se_ln = cov[(k, k)].max(0.0).sqrt();
        let x = theta[k].exp();
        let se = [x * se_ln, x * se_ln];
        let ci = [(theta[k] - 1.96 * se_ln).exp(), (theta[k] + 1.96 * se_ln).exp()];
        let put = |spread: &mut Spread, v: [f64; 2]| match *slot {
            Slot::U0 => spread.u0 = Some(v),
            Slot::Beta(t) => spread.site_types.entry(types[t].clone()).or_default().beta = Some(v),
            Slot::Conversion(t) => spread.site_types.entry(types[t].clone()).or_default().conversion = Some(v),
            Slot::Visibility(t) => spread.site_types.entry(types[t].clone()).or_default().visibility = Some(v),
        };
        put(&mut standard_errors, se);
        put(&mut intervals, ci);
    }
    let (totals, _) = fitted.model(&theta);
    let observed = observed_totals(&input.observations);
    let (r2, mape) = goodness(&observed, &totals);
    let holdout_mape = holdout(input, &observed, &theta, &problem);
    let fit = Fit {
        n_outlets: observed.len(),
        n_observations: n,
        n_parameters: slots.len(),
        r2,
        mape,
        holdout_mape,
        weighted_rss: rss,
        evaluations: fitted.evaluations.get(),
    };
    Ok(Calibration { parameters, standard_errors, intervals, fit, unidentified, reference_site_type: reference.map(|t| types[t].clone()) })
}

/// Observed sales per site: the totals where given, else the sum of its flows.
fn observed_totals(observations: &[Observation]) -> BTreeMap<usize, f64> {
    let mut totals: BTreeMap<usize, f64> = BTreeMap::new();
    let with_total: std::collections::BTreeSet<usize> = observations.iter().filter(|o| o.district.is_none()).map(|o| o.site).collect();
    for o in observations {
        if o.district.is_none() || !with_total.contains(&o.site) {
            *totals.entry(o.site).or_default() += o.units;
        }
    }
    totals
}

/// R² and MAPE of modelled totals against observed ones.
fn goodness(observed: &BTreeMap<usize, f64>, totals: &[f64]) -> (f64, f64) {
    let mean = observed.values().sum::<f64>() / observed.len().max(1) as f64;
    let (mut ss_res, mut ss_tot, mut ape, mut n_ape) = (0.0, 0.0, 0.0, 0usize);
    for (&j, &y) in observed {
        let s = totals[j];
        ss_res += (y - s).powi(2);
        ss_tot += (y - mean).powi(2);
        if y > 0.0 {
            ape += (y - s).abs() / y;
            n_ape += 1;
        }
    }
    let r2 = if ss_tot > 0.0 { 1.0 - ss_res / ss_tot } else { f64::NAN };
    (r2, if n_ape > 0 { ape / n_ape as f64 } else { f64::NAN })
}

/// k-fold holdout MAPE (k = min(5, outlets)): each fold's outlets predicted by a fit
/// without their observations.
fn holdout<'a>(
    input: &FitInput<'_>,
    observed: &BTreeMap<usize, f64>,
    theta: &DVector<f64>,
    problem: &dyn Fn(Vec<Observation>, DVector<f64>) -> Problem<'a>,
) -> Option<f64> {
    let outlets: Vec<usize> = observed.keys().copied().collect();
    let k = outlets.len().min(5);
    if k < 2 {
        return None;
    }
    let mut ape = 0.0;
    let mut n = 0usize;
    for fold in 0..k {
        let held: std::collections::BTreeSet<usize> = outlets.iter().enumerate().filter(|(i, _)| i % k == fold).map(|(_, j)| *j).collect();
        let kept: Vec<Observation> = input.observations.iter().filter(|o| !held.contains(&o.site)).cloned().collect();
        let p = problem(kept, theta.clone());
        if p.observations.len() <= p.slots.len() {
            return None;
        }
        let (fitted, _) = LevenbergMarquardt::new().with_patience(100).minimize(p);
        let (totals, _) = fitted.model(&fitted.theta);
        for j in &held {
            let y = observed[j];
            if y > 0.0 {
                ape += (y - totals[*j]).abs() / y;
                n += 1;
            }
        }
    }
    (n > 0).then(|| ape / n as f64)
}
