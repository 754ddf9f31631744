//! Choosing k sites under constraints (docs/scoring.md, "Choosing k sites").
//!
//! The plan is greedy: each step takes the best remaining *choice* (a candidate as one of
//! its site types) by the objective, among those that break no constraint, until `k` are
//! chosen or none is worth `min_gain`. A candidate leaves the race once chosen.
//!
//! Two implementations of the same rule:
//! - [`Scorer::plan_with`], lazy (CELF): each choice keeps the value it had when last
//!   evaluated, in a max-heap; the top is evaluated again, and taken once it is both fresh
//!   (evaluated against the current set) and on top. A choice's gain can only fall as the
//!   network grows where all site types convert alike (the captured share of a cell is
//!   concave in the own outlets' pull), so the old value bounds the new one and the lazy plan
//!   is the exhaustive plan. With unequal conversions a gain can rise slightly (a
//!   low-converting outlet next door raises what a high-converting one adds); the lazy plan
//!   then may differ (300 random cases of `tests/integration/plans.rs`: none did).
//! - [`Scorer::plan_exhaustive`], which evaluates every choice at every step: the
//!   reference for tests.
//!
//! A choice that breaks the budget or the spacing is out for good (the money left only
//! shrinks and the chosen sites only grow), so it is dropped without being evaluated. One
//! that breaks the mix is held back while it would be the pick, and tried again at the
//! next step. The answer names, for every candidate not chosen that a constraint stopped,
//! the constraint: spacing or budget as they stand at the end, else the mix that last held
//! it back.

use super::model::{Evaluation, Reach, Scenario, Site};
use super::score::{Candidate, Scorer, spatial_order};
use crate::domain::demand::{UnitVector, chord2, chord2_of_km, unit_vector};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

/// What a plan maximises, step by step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// The rise of the network's expected sales (cars a year).
    #[default]
    NetGain,
    /// The network's net present value of the step (RMB): the margin on its net gain less
    /// the site's running costs over the horizon, discounted, less its capex.
    Npv,
}

/// How a plan chooses: how many, how good each step must be, and the constraints.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanSpec {
    /// At most this many sites.
    pub k: usize,
    /// A step is taken only if its objective is at least this (cars or RMB).
    pub min_gain: f64,
    /// What is maximised.
    pub objective: Objective,
    /// Most capex in all (RMB).
    pub budget: Option<f64>,
    /// Least distance between chosen sites, and from the network's own open sales outlets (km).
    pub min_spacing_km: Option<f64>,
    /// Site type → least share of the chosen sites.
    pub mix: BTreeMap<String, f64>,
}

impl PlanSpec {
    /// The plain greedy of `k` sites worth at least `min_gain` cars each, unconstrained.
    pub fn greedy(k: usize, min_gain: f64) -> PlanSpec {
        PlanSpec { k, min_gain, ..PlanSpec::default() }
    }

    /// The fewest sites that can meet the mix (every share met at once), if any up to `limit`.
    pub fn smallest_mixed_plan(&self, limit: usize) -> Option<usize> {
        (1..=limit.max(1)).find(|&m| self.mix.values().map(|s| least_count(*s, m)).sum::<usize>() <= m)
    }
}

/// The least number of sites of a share `s` among `m`: `⌈s·m⌉` (with a little slack for
/// rounding, so that 0.3 × 10 is 3).
fn least_count(share: f64, m: usize) -> usize {
    (share * m as f64 - 1e-9).ceil().max(0.0) as usize
}

/// An own sales outlet already open, for the spacing.
#[derive(Debug, Clone, Copy)]
pub struct ExistingSite {
    /// The outlet's id.
    pub outlet_id: i64,
    /// Its position on the unit sphere.
    pub at: UnitVector,
}

/// A constraint of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Constraint {
    /// The capex would pass the budget.
    Budget,
    /// The site is too close to a chosen site or an own outlet.
    Spacing,
    /// The site type would leave another below its share.
    Mix,
}

/// The site a rejected choice stood too close to.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TooClose {
    /// A chosen candidate's id, if it was one.
    pub candidate: Option<String>,
    /// An own outlet's id, if it was one.
    pub outlet_id: Option<i64>,
    /// Great-circle distance, km.
    pub distance_km: f64,
}

/// A candidate not chosen that a constraint stopped.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Rejection {
    /// The candidate's id.
    pub candidate: String,
    /// What stopped it: `spacing` (too close to a chosen site or an own outlet at the end),
    /// `budget` (none of its site types fits in the money left at the end), or `mix` (it
    /// was the best choice at a step, but its site type would have broken the mix).
    pub constraint: Constraint,
    /// Why, in words.
    pub detail: String,
    /// For the mix: the site type it was held back as.
    pub site_type: Option<String>,
    /// For the mix: the last step it was held back at.
    pub step: Option<usize>,
    /// For the mix: its objective at that step.
    pub value: Option<f64>,
    /// For the spacing: the nearest site it is too close to.
    pub too_close_to: Option<TooClose>,
}

/// Why a plan stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// `k` sites were chosen.
    KReached,
    /// No remaining candidate is worth `min_gain` (or none is left).
    NoGain,
    /// Candidates worth `min_gain` remain, but each breaks a constraint (the mix now, or
    /// the spacing or the budget for good).
    Constraints,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PlanStep {
    /// 1-based.
    pub step: usize,
    /// The chosen candidate's id.
    pub candidate: String,
    /// Its site type (given, or the best compared).
    pub site_type: String,
    /// Its format, if given.
    pub format: Option<String>,
    /// WGS84 `[lon, lat]`.
    pub location: [f64; 2],
    /// Its `net_gain` at this step: the rise of the network total.
    pub gain: f64,
    /// Its own expected sales at this step.
    pub expected_sales: f64,
    /// What it takes from the network's own outlets at this step.
    pub cannibalised: f64,
    /// Sum of the own outlets' expected sales after this step.
    pub network_total: f64,
    /// Its capital cost, RMB.
    pub capex: f64,
    /// Capex of the steps so far, this one included.
    pub capex_total: f64,
    /// The network's net present value of the step: margin on `gain` less the site's
    /// running costs over the horizon, discounted, less `capex` (RMB).
    pub npv: f64,
}

/// The greedy choice, step by step.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Plan {
    /// What was maximised.
    pub objective: Objective,
    /// Sum of the own outlets' expected sales before the first step.
    pub network_total_before: f64,
    /// The steps, in order.
    pub steps: Vec<PlanStep>,
    /// Why it stopped.
    pub stopped: Stop,
    /// The candidates not chosen that a constraint stopped, in input order.
    pub rejected: Vec<Rejection>,
}

/// A candidate as one site type, with what it costs.
#[derive(Debug, Clone)]
struct Choice {
    candidate: usize,
    site_type: String,
    site: Site,
    capex: f64,
    /// `objective = offset + slope × net_gain`.
    offset: f64,
    slope: f64,
    /// `npv = npv_offset + npv_slope × net_gain`.
    npv_offset: f64,
    npv_slope: f64,
}

impl Choice {
    fn value(&self, e: &Evaluation) -> f64 {
        self.offset + self.slope * e.net_gain
    }
}

/// A choice's value as last evaluated, ordered for the heap: the larger value first, then
/// the earlier choice (the first candidate in the input, its first site type).
#[derive(Debug, Clone, Copy)]
struct Ranked {
    value: f64,
    choice: usize,
    /// The number of steps taken when it was evaluated.
    fresh_at: usize,
    evaluation: Evaluation,
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.value.total_cmp(&other.value).then(other.choice.cmp(&self.choice))
    }
}

/// The state of a plan being built.
struct Planner<'a> {
    scorer: &'a Scorer<'a>,
    candidates: &'a [Candidate],
    spec: &'a PlanSpec,
    existing: &'a [ExistingSite],
    choices: Vec<Choice>,
    scenario: Scenario,
    network_total_before: f64,
    taken: Vec<bool>,
    chosen_at: Vec<(usize, UnitVector)>,
    counts: BTreeMap<String, usize>,
    spent: f64,
    steps: Vec<PlanStep>,
    /// Candidate → the last time the mix held it back.
    held_back: BTreeMap<usize, Rejection>,
    /// Hold-backs so far (to tell whether the last search held one back).
    hold_backs: usize,
    /// The fewest sites that meet the mix (1 without a mix).
    smallest_mixed: usize,
}

impl<'a> Planner<'a> {
    fn new(scorer: &'a Scorer<'a>, scenario: Scenario, candidates: &'a [Candidate], spec: &'a PlanSpec, existing: &'a [ExistingSite]) -> Planner<'a> {
        let money = scorer.money;
        let annuity = money.annuity();
        let mut choices = Vec::new();
        for (i, c) in candidates.iter().enumerate() {
            let types: Vec<&String> = match &c.site_type {
                Some(st) => vec![st],
                None => scorer.params.compare_site_types.iter().collect(),
            };
            for st in types {
                let Some(site) = scorer.site(c, st, c.format.as_deref()) else { continue };
                let format = c.format.as_deref();
                let capex = money.capex(format, st);
                let running = money.running_cost(format, st, scorer.showroom(format));
                let (npv_offset, npv_slope) = (-capex - running * annuity, money.margin_per_unit * annuity);
                let (offset, slope) = match spec.objective {
                    Objective::NetGain => (0.0, 1.0),
                    Objective::Npv => (npv_offset, npv_slope),
                };
                choices.push(Choice { candidate: i, site_type: st.clone(), site, capex, offset, slope, npv_offset, npv_slope });
            }
        }
        Planner {
            scorer,
            candidates,
            spec,
            existing,
            choices,
            network_total_before: scenario.own_total(),
            scenario,
            taken: vec![false; candidates.len()],
            chosen_at: Vec::new(),
            counts: BTreeMap::new(),
            spent: 0.0,
            steps: Vec::new(),
            held_back: BTreeMap::new(),
            hold_backs: 0,
            smallest_mixed: if spec.mix.is_empty() { 1 } else { spec.smallest_mixed_plan(spec.k).unwrap_or(usize::MAX) },
        }
    }

    /// Evaluates choices against the current set, in parallel (in a spatial order, so
    /// that neighbours share cache).
    fn evaluate(&self, which: &[usize]) -> Vec<Ranked> {
        let at = |c: usize| (self.candidates[self.choices[c].candidate].lon, self.candidates[self.choices[c].candidate].lat);
        let order = spatial_order(which.iter().map(|&c| at(c)));
        let deadline = crate::budget::Deadline::current();
        let mut out: Vec<(usize, Ranked)> = order
            .par_iter()
            .map_init(Reach::default, |reach, &pos| {
                deadline.check();
                (pos, self.evaluate_one(which[pos], reach))
            })
            .collect();
        out.sort_by_key(|(pos, _)| *pos);
        out.into_iter().map(|(_, r)| r).collect()
    }

    fn evaluate_one(&self, choice: usize, reach: &mut Reach) -> Ranked {
        let c = &self.choices[choice];
        let evaluation = self.scenario.evaluate_keeping(&c.site, reach, false);
        Ranked { value: c.value(&evaluation), choice, fresh_at: self.steps.len(), evaluation }
    }

    /// The nearest chosen site or own outlet closer to the candidate than the spacing.
    fn too_close(&self, candidate: usize) -> Option<TooClose> {
        let km = self.spec.min_spacing_km?;
        let radius = self.scorer.params.earth_radius_km;
        let limit = chord2_of_km(km, radius);
        let c = &self.candidates[candidate];
        let at = unit_vector(c.lon, c.lat);
        let chosen = self.chosen_at.iter().map(|(i, p)| (Some(self.candidates[*i].id.clone()), None, chord2(&at, p)));
        let outlets = self.existing.iter().map(|e| (None, Some(e.outlet_id), chord2(&at, &e.at)));
        let (candidate, outlet_id, c2) = chosen.chain(outlets).filter(|x| x.2 < limit).min_by(|a, b| a.2.total_cmp(&b.2))?;
        Some(TooClose { candidate, outlet_id, distance_km: 2.0 * radius * (c2.sqrt() / 2.0).min(1.0).asin() })
    }

    /// Whether the choice breaks the spacing or the budget: for good, as both only tighten.
    fn out_for_good(&self, choice: &Choice) -> bool {
        self.spec.budget.is_some_and(|b| self.spent + choice.capex > b) || self.too_close(choice.candidate).is_some()
    }

    /// Whether taking the choice now leaves the mix reachable: met at this size, or, below
    /// the fewest sites that meet it, still within reach of them.
    fn mix_allows(&self, choice: &Choice) -> bool {
        if self.spec.mix.is_empty() {
            return true;
        }
        let n = self.steps.len() + 1;
        let target = n.max(self.smallest_mixed);
        let count = |t: &str| self.counts.get(t).copied().unwrap_or(0) + usize::from(t == choice.site_type);
        let short: usize = self.spec.mix.iter().map(|(t, s)| least_count(*s, target).saturating_sub(count(t))).sum();
        short <= target - n
    }

    /// Records that the mix held the choice back at this step.
    fn hold_back(&mut self, r: &Ranked) {
        let c = &self.choices[r.choice];
        let n = self.steps.len() + 1;
        let wanted: Vec<String> = self.spec.mix.iter().map(|(t, s)| format!("{t} {} %", s * 100.0)).collect();
        let rejection = Rejection {
            candidate: self.candidates[c.candidate].id.clone(),
            constraint: Constraint::Mix,
            detail: format!("best choice for site {n} as {}, which would leave the mix ({}) out of reach", c.site_type, wanted.join(", ")),
            site_type: Some(c.site_type.clone()),
            step: Some(n),
            value: Some(r.value),
            too_close_to: None,
        };
        self.hold_backs += 1;
        self.held_back.insert(c.candidate, rejection);
    }

    /// Takes a fresh choice: a step.
    fn take(&mut self, r: &Ranked) {
        let c = &self.choices[r.choice];
        let candidate = &self.candidates[c.candidate];
        self.scenario.add(&c.site, true);
        // The total rises by the fresh evaluation's gain (summing every cell again would
        // cost more than the step).
        let network_total = self.steps.last().map_or(self.network_total_before, |s| s.network_total) + r.evaluation.net_gain;
        self.taken[c.candidate] = true;
        self.held_back.remove(&c.candidate);
        self.chosen_at.push((c.candidate, unit_vector(candidate.lon, candidate.lat)));
        *self.counts.entry(c.site_type.clone()).or_default() += 1;
        self.spent += c.capex;
        let e = r.evaluation;
        self.steps.push(PlanStep {
            step: self.steps.len() + 1,
            candidate: candidate.id.clone(),
            site_type: c.site_type.clone(),
            format: candidate.format.clone(),
            location: [candidate.lon, candidate.lat],
            gain: e.net_gain,
            expected_sales: e.expected_sales,
            cannibalised: e.cannibalised,
            network_total,
            capex: c.capex,
            capex_total: self.spent,
            npv: c.npv_offset + c.npv_slope * e.net_gain,
        });
    }

    /// Why a plan that found no pick stopped: constraints if the last search held a choice
    /// back for the mix, or if a choice out for good would still be worth `min_gain`.
    fn stopped_short(&self, held_back_in_last_search: bool) -> Stop {
        if held_back_in_last_search {
            return Stop::Constraints;
        }
        let out: Vec<usize> = (0..self.choices.len()).filter(|&c| !self.taken[self.choices[c].candidate] && self.out_for_good(&self.choices[c])).collect();
        let worth = out.par_iter().any(|&c| self.evaluate_one(c, &mut Reach::default()).value >= self.spec.min_gain);
        if worth { Stop::Constraints } else { Stop::NoGain }
    }

    /// The plan and, for each candidate not chosen, the constraint that stopped it. Steps
    /// that cannot meet the mix (a plan stopped below the fewest sites that meet it) are
    /// dropped and reported.
    fn finish(mut self, stopped: Stop) -> Plan {
        let mut dropped = BTreeMap::new();
        if !self.spec.mix.is_empty() && !self.steps.is_empty() && self.steps.len() < self.smallest_mixed {
            let n = self.steps.len();
            for (s, (candidate, _)) in std::mem::take(&mut self.steps).into_iter().zip(&self.chosen_at) {
                let detail =
                    format!("chosen as site {}, then dropped: the plan stopped at {n} sites, fewer than the {} the mix needs", s.step, self.smallest_mixed);
                let rejection = Rejection {
                    candidate: s.candidate,
                    constraint: Constraint::Mix,
                    detail,
                    site_type: Some(s.site_type),
                    step: Some(s.step),
                    value: None,
                    too_close_to: None,
                };
                dropped.insert(*candidate, rejection);
            }
        }
        let left = self.spec.budget.map(|b| b - self.spent);
        let mut cheapest = vec![f64::INFINITY; self.candidates.len()];
        for ch in &self.choices {
            cheapest[ch.candidate] = cheapest[ch.candidate].min(ch.capex);
        }
        let mut rejected = Vec::new();
        for (i, c) in self.candidates.iter().enumerate() {
            if let Some(r) = dropped.remove(&i) {
                rejected.push(r);
                continue;
            }
            if self.taken[i] {
                continue;
            }
            let cheapest = Some(cheapest[i]).filter(|c| c.is_finite());
            let rejection = if let Some(near) = self.too_close(i) {
                let what = match (&near.candidate, near.outlet_id) {
                    (Some(id), _) => format!("chosen site `{id}`"),
                    (_, Some(id)) => format!("own outlet {id}"),
                    _ => String::new(),
                };
                let km = self.spec.min_spacing_km.unwrap_or(0.0);
                Some(Rejection {
                    candidate: c.id.clone(),
                    constraint: Constraint::Spacing,
                    detail: format!("{:.2} km from {what}; min_spacing_km is {km}", near.distance_km),
                    site_type: None,
                    step: None,
                    value: None,
                    too_close_to: Some(near),
                })
            } else if let (Some(left), Some(cheapest)) = (left, cheapest)
                && cheapest > left
            {
                Some(Rejection {
                    candidate: c.id.clone(),
                    constraint: Constraint::Budget,
                    detail: format!("costs {cheapest:.0} at least; {left:.0} of the budget is left"),
                    site_type: None,
                    step: None,
                    value: None,
                    too_close_to: None,
                })
            } else {
                self.held_back.remove(&i)
            };
            rejected.extend(rejection);
        }
        Plan { objective: self.spec.objective, network_total_before: self.network_total_before, steps: self.steps, stopped, rejected }
    }
}

impl Scorer<'_> {
    /// Chooses up to `k` candidates greedily by net gain (ties: the first in the input),
    /// unconstrained: [`Scorer::plan_with`] with [`PlanSpec::greedy`].
    pub fn plan(&self, scenario: Scenario, candidates: &[Candidate], k: usize, min_gain: f64) -> Plan {
        self.plan_with(scenario, candidates, &PlanSpec::greedy(k, min_gain), &[], &|_| {})
    }

    /// Chooses up to `spec.k` candidates (lazy greedy, module doc), never breaking a
    /// constraint; `existing`: the own outlets the spacing keeps away from. Calls
    /// `progress(steps done)` after each step.
    pub fn plan_with(&self, scenario: Scenario, candidates: &[Candidate], spec: &PlanSpec, existing: &[ExistingSite], progress: &dyn Fn(usize)) -> Plan {
        let mut p = Planner::new(self, scenario, candidates, spec, existing);
        let all: Vec<usize> = (0..p.choices.len()).collect();
        let mut heap: BinaryHeap<Ranked> = p.evaluate(&all).into();
        let stopped = loop {
            if p.steps.len() >= spec.k {
                break Stop::KReached;
            }
            let hold_backs = p.hold_backs;
            let mut held = Vec::new();
            let pick = loop {
                crate::budget::check();
                let Some(top) = heap.pop() else { break None };
                let choice = &p.choices[top.choice];
                if p.taken[choice.candidate] || p.out_for_good(choice) {
                    continue;
                }
                if top.value < spec.min_gain {
                    heap.push(top);
                    break None;
                }
                if top.fresh_at != p.steps.len() {
                    heap.push(p.evaluate_one(top.choice, &mut Reach::default()));
                    continue;
                }
                if p.mix_allows(choice) {
                    break Some(top);
                }
                p.hold_back(&top);
                held.push(top);
            };
            heap.extend(held);
            match pick {
                Some(top) => p.take(&top),
                None => break p.stopped_short(p.hold_backs > hold_backs),
            }
            progress(p.steps.len());
        };
        p.finish(stopped)
    }

    /// The same plan as [`Scorer::plan_with`], evaluating every remaining choice at every
    /// step: the reference for tests (and slow: k full scoring runs).
    pub fn plan_exhaustive(&self, scenario: Scenario, candidates: &[Candidate], spec: &PlanSpec, existing: &[ExistingSite]) -> Plan {
        let mut p = Planner::new(self, scenario, candidates, spec, existing);
        let mut live: Vec<usize> = (0..p.choices.len()).collect();
        let stopped = loop {
            if p.steps.len() >= spec.k {
                break Stop::KReached;
            }
            live.retain(|&c| !p.taken[p.choices[c].candidate] && !p.out_for_good(&p.choices[c]));
            let mut ranked = p.evaluate(&live);
            ranked.sort_by(|a, b| b.cmp(a));
            let hold_backs = p.hold_backs;
            let mut pick = None;
            for r in ranked.iter().take_while(|r| r.value >= spec.min_gain) {
                if p.mix_allows(&p.choices[r.choice]) {
                    pick = Some(*r);
                    break;
                }
                p.hold_back(r);
            }
            match pick {
                Some(r) => p.take(&r),
                None => break p.stopped_short(p.hold_backs > hold_backs),
            }
        };
        p.finish(stopped)
    }
}
