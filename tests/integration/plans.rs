//! Plans under constraints (docs/scoring.md, "Choosing k sites"): hand-computable cases
//! where the budget, the spacing and the mix each bind, properties that no plan breaks a
//! constraint and that its objective never falls, and the lazy plan against the
//! exhaustive one.

use h3o::{LatLng, Resolution};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use std::collections::BTreeMap;
use std::sync::Arc;
use territory::domain::demand::{DemandGrid, unit_vector};
use territory::domain::scoring::model::{Scenario, Site};
use territory::domain::scoring::money::{FormatMoney, Money, SiteTypeMoney};
use territory::domain::scoring::plan::{Constraint, ExistingSite, Objective, Plan, PlanSpec, Stop};
use territory::domain::scoring::score::{Candidate, Scorer};
use territory::domain::scoring::{ScoringParams, SiteTypeParams};

const LAT: f64 = 29.7;

/// Malls and auto-cities; `auto_conversion` sets whether they convert alike.
fn params(auto_conversion: f64) -> ScoringParams {
    let mut p = territory::domain::policy::find("haima").expect("haima").scoring.clone();
    let st = |visibility, beta, reach_km, conversion| SiteTypeParams { visibility, beta, reach_km, conversion };
    p.site_types =
        [("mall", st(1.3, 2.2, 25.0, 0.7)), ("auto_city", st(1.0, 1.6, 50.0, auto_conversion))].into_iter().map(|(code, s)| (code.to_string(), s)).collect();
    p.compare_site_types = vec!["mall".into(), "auto_city".into()];
    p
}

/// Round figures: a mall costs 500k, an auto-city 300k, a `big` format 5M; 10k RMB a car
/// over 5 undiscounted years, no running costs.
fn money() -> Money {
    Money {
        margin_per_unit: 10_000.0,
        horizon_years: 5,
        discount_rate: 0.0,
        fixed_opex_year: 0.0,
        site_types: [("mall", 500_000.0), ("auto_city", 300_000.0)]
            .into_iter()
            .map(|(code, capex)| (code.to_string(), SiteTypeMoney { rent_m2_year: 0.0, capex }))
            .collect(),
        formats: [("big".to_string(), FormatMoney { capex: Some(5_000_000.0), fixed_opex_year: None })].into(),
        note: String::new(),
    }
}

/// A grid of the cells holding each `(lon, lat, demand)`, summed per cell.
fn grid(points: &[(f64, f64, f64)]) -> Arc<DemandGrid> {
    let mut cells = BTreeMap::new();
    for &(lon, lat, demand) in points {
        *cells.entry(LatLng::new(lat, lon).expect("latlng").to_cell(Resolution::Eight)).or_insert(0.0) += demand;
    }
    Arc::new(DemandGrid::new(cells.into_iter().collect(), Resolution::Eight))
}

/// The centre of the cell holding `(lon, lat)`.
fn centre(lon: f64, lat: f64) -> (f64, f64) {
    let c = LatLng::from(LatLng::new(lat, lon).expect("latlng").to_cell(Resolution::Eight));
    (c.lng(), c.lat())
}

fn candidate(id: &str, (lon, lat): (f64, f64), site_type: &str, format: Option<&str>) -> Candidate {
    Candidate { id: id.into(), lon, lat, site_type: Some(site_type.into()), format: format.map(str::to_string) }
}

/// Markets 1.5° of longitude (~145 km) apart, so that no outlet reaches another's: one per
/// demand, in order.
fn markets(demands: &[f64]) -> Vec<(f64, f64)> {
    (0..demands.len()).map(|i| centre(110.0 + 1.5 * i as f64, LAT)).collect()
}

fn ids(plan: &Plan) -> Vec<&str> {
    plan.steps.iter().map(|s| s.candidate.as_str()).collect()
}

fn rejected(plan: &Plan) -> Vec<(&str, Constraint)> {
    plan.rejected.iter().map(|r| (r.candidate.as_str(), r.constraint)).collect()
}

fn spec(k: usize) -> PlanSpec {
    PlanSpec::greedy(k, 0.0)
}

/// Four separate markets of 300, 200, 100 and 50 cars; A is a `big` format (5M).
fn four_markets() -> (ScoringParams, Arc<DemandGrid>, Vec<Candidate>) {
    let demand = [300.0, 200.0, 100.0, 50.0];
    let at = markets(&demand);
    let g = grid(&at.iter().zip(demand).map(|(&(lon, lat), d)| (lon, lat, d)).collect::<Vec<_>>());
    let candidates = vec![
        candidate("A", at[0], "mall", Some("big")),
        candidate("B", at[1], "mall", None),
        candidate("C", at[2], "mall", None),
        candidate("E", at[3], "mall", None),
    ];
    (params(0.7), g, candidates)
}

#[test]
fn the_budget_binds_and_npv_weighs_the_capex() {
    let (p, g, candidates) = four_markets();
    let m = money();
    let scorer = Scorer { params: &p, money: &m, formats: vec![], tier_formats: vec![] };
    let plan = |spec: &PlanSpec| scorer.plan_with(Scenario::new(g.clone(), &p), &candidates, spec, &[], &|_| {});

    // Unconstrained, by cars: the markets in order of size.
    let free = plan(&spec(3));
    assert_eq!(ids(&free), ["A", "B", "C"]);
    assert_eq!(free.stopped, Stop::KReached);
    assert!(free.rejected.is_empty(), "{:?}", free.rejected);

    // A budget of 5.9M: A (5M) and B (0.5M) fit, C would bring it to 6M.
    let budget = plan(&PlanSpec { budget: Some(5_900_000.0), ..spec(3) });
    assert_eq!(ids(&budget), ["A", "B"]);
    assert_eq!(budget.stopped, Stop::Constraints);
    assert_eq!(rejected(&budget), [("C", Constraint::Budget), ("E", Constraint::Budget)]);
    assert_eq!(budget.rejected[0].detail, "costs 500000 at least; 400000 of the budget is left");
    assert_eq!(budget.steps.last().expect("a step").capex_total, 5_500_000.0);

    // By money: A sells ~210 cars (2.1M a year, 10.5M over 5 years) but costs 5M: 5.5M;
    // B sells ~140 (7M) for 0.5M: 6.5M. B comes first.
    let npv = plan(&PlanSpec { objective: Objective::Npv, ..spec(2) });
    assert_eq!(ids(&npv), ["B", "A"]);
    for s in &npv.steps {
        // Each step's NPV, by hand: −capex + gain × margin × horizon (rate 0, no running costs).
        let by_hand = -s.capex + s.gain * 10_000.0 * 5.0;
        assert!((s.npv - by_hand).abs() < 1e-6 * by_hand.abs(), "{s:?}");
        let finance = m.finance(s.gain, s.format.as_deref(), &s.site_type, p.default_showroom_m2);
        assert!((s.npv - finance.npv).abs() < 1e-6 * by_hand.abs());
    }
    // min_gain counts in the objective's unit: only B clears 6M.
    let npv_6m = plan(&PlanSpec { objective: Objective::Npv, min_gain: 6_000_000.0, ..spec(4) });
    assert_eq!(ids(&npv_6m), ["B"]);
    assert_eq!(npv_6m.stopped, Stop::NoGain);
}

#[test]
fn the_spacing_binds_between_chosen_sites_and_from_own_outlets() {
    let p = params(0.7);
    let m = money();
    let north = |(lon, lat): (f64, f64), km: f64| (lon, lat + (km / p.earth_radius_km).to_degrees());
    let [a, c, d] = [centre(110.0, LAT), centre(111.5, LAT), centre(113.0, LAT)];
    let b = north(a, 8.0);
    let g = grid(&[(a.0, a.1, 300.0), (b.0, b.1, 100.0), (c.0, c.1, 100.0), (d.0, d.1, 80.0)]);
    let candidates = vec![candidate("A", a, "mall", None), candidate("B", b, "mall", None), candidate("C", c, "mall", None), candidate("D", d, "mall", None)];
    // An own outlet 2 km from D, far from the rest.
    let outlet = north(d, 2.0);
    let mut scenario = Scenario::new(g.clone(), &p);
    scenario.add(&Site::new(&p, outlet.0, outlet.1, &p.site_types["auto_city"], 300.0), true);
    let existing = [ExistingSite { outlet_id: 7, at: unit_vector(outlet.0, outlet.1) }];
    let scorer = Scorer { params: &p, money: &m, formats: vec![], tier_formats: vec![] };

    let free = scorer.plan_with(scenario.clone(), &candidates, &spec(4), &existing, &|_| {});
    assert_eq!(free.steps.len(), 4, "{:?}", ids(&free));

    let spaced = scorer.plan_with(scenario, &candidates, &PlanSpec { min_spacing_km: Some(10.0), ..spec(4) }, &existing, &|_| {});
    assert_eq!(ids(&spaced), ["A", "C"]);
    assert_eq!(spaced.stopped, Stop::Constraints);
    assert_eq!(rejected(&spaced), [("B", Constraint::Spacing), ("D", Constraint::Spacing)]);
    let near_a = spaced.rejected[0].too_close_to.as_ref().expect("too close");
    assert_eq!((near_a.candidate.as_deref(), near_a.outlet_id), (Some("A"), None));
    assert!((near_a.distance_km - 8.0).abs() < 1e-6, "{near_a:?}");
    let near_outlet = spaced.rejected[1].too_close_to.as_ref().expect("too close");
    assert_eq!((near_outlet.candidate.as_deref(), near_outlet.outlet_id), (None, Some(7)));
    assert!((near_outlet.distance_km - 2.0).abs() < 1e-6, "{near_outlet:?}");
    assert_eq!(spaced.rejected[1].detail, "2.00 km from own outlet 7; min_spacing_km is 10");
}

#[test]
fn the_mix_binds_at_every_size_of_the_plan() {
    let p = params(0.7);
    let m = money();
    let demand = [300.0, 250.0, 200.0, 100.0, 90.0];
    let at = markets(&demand);
    let g = grid(&at.iter().zip(demand).map(|(&(lon, lat), d)| (lon, lat, d)).collect::<Vec<_>>());
    let candidates = vec![
        candidate("M1", at[0], "mall", None),
        candidate("M2", at[1], "mall", None),
        candidate("M3", at[2], "mall", None),
        candidate("X1", at[3], "auto_city", None),
        candidate("X2", at[4], "auto_city", None),
    ];
    let scorer = Scorer { params: &p, money: &m, formats: vec![], tier_formats: vec![] };
    let plan = |spec: &PlanSpec, candidates: &[Candidate]| scorer.plan_with(Scenario::new(g.clone(), &p), candidates, spec, &[], &|_| {});
    let half_auto = |k| PlanSpec { mix: [("auto_city".to_string(), 0.5)].into(), ..spec(k) };

    assert_eq!(ids(&plan(&spec(4), &candidates)), ["M1", "M2", "M3", "X1"]);
    // At least half auto-cities at every size: 1 of 1, 1 of 2, 2 of 3, 2 of 4.
    let mixed = plan(&half_auto(4), &candidates);
    assert_eq!(ids(&mixed), ["X1", "M1", "X2", "M2"]);
    assert_eq!(mixed.stopped, Stop::KReached);
    assert_eq!(rejected(&mixed), [("M3", Constraint::Mix)]);
    let m3 = &mixed.rejected[0];
    assert_eq!((m3.site_type.as_deref(), m3.step), (Some("mall"), Some(3)));

    // With one auto-city only, the third site cannot keep half: the plan stops at two.
    let one_auto: Vec<Candidate> = candidates.iter().filter(|c| c.id != "X2").cloned().collect();
    let short = plan(&half_auto(4), &one_auto);
    assert_eq!(ids(&short), ["X1", "M1"]);
    assert_eq!(short.stopped, Stop::Constraints);
    assert_eq!(rejected(&short), [("M2", Constraint::Mix), ("M3", Constraint::Mix)]);

    // A mix that needs two sites (30 % of each type) with one candidate in all: nothing.
    let both = PlanSpec { mix: [("auto_city".to_string(), 0.3), ("mall".to_string(), 0.3)].into(), ..spec(3) };
    assert_eq!(both.smallest_mixed_plan(3), Some(2));
    let alone = plan(&both, &candidates[..1]);
    assert!(alone.steps.is_empty(), "{:?}", ids(&alone));
    assert_eq!(rejected(&alone), [("M1", Constraint::Mix)]);
}

/// A random case: demand points, own outlets, candidates, and a plan's constraints.
#[derive(Debug, Clone)]
struct Case {
    demand: Vec<(f64, f64, f64)>,
    outlets: Vec<(f64, f64, bool, bool)>,
    candidates: Vec<(f64, f64, Option<bool>, bool)>,
    k: usize,
    min_gain: f64,
    npv: bool,
    budget: Option<f64>,
    spacing: Option<f64>,
    mix: Vec<(bool, f64)>,
}

fn arb_case() -> impl Strategy<Value = Case> {
    let point = || (-0.4..0.4f64, -0.3..0.3f64);
    (
        prop::collection::vec((point(), 1.0..200.0f64), 1..40),
        prop::collection::vec((point(), any::<bool>(), any::<bool>()), 0..4),
        prop::collection::vec((point(), prop::option::of(any::<bool>()), prop::bool::weighted(0.2)), 1..14),
        (1usize..7, prop_oneof![Just(0.0), 0.0..5.0f64], any::<bool>()),
        (prop::option::of(300_000.0..4_000_000.0f64), prop::option::of(0.5..25.0f64), prop::collection::vec((any::<bool>(), 0.05..0.7f64), 0..3)),
    )
        .prop_map(|(demand, outlets, candidates, (k, min_gain, npv), (budget, spacing, mix))| Case {
            demand: demand.into_iter().map(|((x, y), d)| (116.0 + x, LAT + y, d)).collect(),
            outlets: outlets.into_iter().map(|((x, y), auto, own)| (116.0 + x, LAT + y, auto, own)).collect(),
            candidates: candidates.into_iter().map(|((x, y), t, big)| (116.0 + x, LAT + y, t, big)).collect(),
            k,
            min_gain,
            npv,
            budget,
            spacing,
            mix,
        })
}

impl Case {
    fn scenario(&self, p: &ScoringParams) -> (Scenario, Vec<ExistingSite>) {
        let mut scenario = Scenario::new(grid(&self.demand), p);
        let mut existing = Vec::new();
        for (i, &(lon, lat, auto, own)) in self.outlets.iter().enumerate() {
            scenario.add(&Site::new(p, lon, lat, &p.site_types[type_name(auto)], 300.0), own);
            if own {
                existing.push(ExistingSite { outlet_id: i as i64, at: unit_vector(lon, lat) });
            }
        }
        (scenario, existing)
    }

    fn candidates(&self) -> Vec<Candidate> {
        let big = |b: bool| b.then(|| "big".to_string());
        self.candidates
            .iter()
            .enumerate()
            .map(|(i, &(lon, lat, t, b))| Candidate { id: format!("c{i}"), lon, lat, site_type: t.map(|a| type_name(a).to_string()), format: big(b) })
            .collect()
    }

    fn spec(&self) -> PlanSpec {
        let mut mix: BTreeMap<String, f64> = BTreeMap::new();
        for &(auto, share) in &self.mix {
            mix.insert(type_name(auto).into(), share);
        }
        // Keep the shares' sum within 1, as the API demands.
        let sum: f64 = mix.values().sum();
        if sum > 1.0 {
            mix.values_mut().for_each(|s| *s /= sum);
        }
        let objective = if self.npv { Objective::Npv } else { Objective::NetGain };
        let min_gain = if self.npv { self.min_gain * 100_000.0 } else { self.min_gain };
        PlanSpec { k: self.k, min_gain, objective, budget: self.budget, min_spacing_km: self.spacing, mix }
    }
}

fn type_name(auto: bool) -> &'static str {
    if auto { "auto_city" } else { "mall" }
}

fn km_between(p: &ScoringParams, a: (f64, f64), b: (f64, f64)) -> f64 {
    let (ua, ub) = (unit_vector(a.0, a.1), unit_vector(b.0, b.1));
    let chord = ua.iter().zip(&ub).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt();
    2.0 * p.earth_radius_km * (chord / 2.0).min(1.0).asin()
}

/// Checks that `plan` keeps every constraint of `spec` and that its objective never falls.
fn check_constraints(case: &Case, p: &ScoringParams, spec: &PlanSpec, plan: &Plan) -> Result<(), TestCaseError> {
    prop_assert!(plan.steps.len() <= spec.k);
    if let Some(budget) = spec.budget {
        let spent: f64 = plan.steps.iter().map(|s| s.capex).sum();
        prop_assert!(spent <= budget, "spent {spent} of {budget}");
    }
    if let Some(km) = spec.min_spacing_km {
        for (i, a) in plan.steps.iter().enumerate() {
            for b in &plan.steps[..i] {
                let d = km_between(p, (a.location[0], a.location[1]), (b.location[0], b.location[1]));
                prop_assert!(d >= km - 1e-9, "{} and {} are {d} km apart", a.candidate, b.candidate);
            }
            for &(lon, lat, _, own) in &case.outlets {
                let d = km_between(p, (a.location[0], a.location[1]), (lon, lat));
                prop_assert!(!own || d >= km - 1e-9, "{} is {d} km from an own outlet", a.candidate);
            }
        }
    }
    if !spec.mix.is_empty() && !plan.steps.is_empty() {
        for n in 1..=plan.steps.len() {
            if n < spec.smallest_mixed_plan(spec.k).expect("reachable") {
                continue;
            }
            for (t, share) in &spec.mix {
                let count = plan.steps[..n].iter().filter(|s| &s.site_type == t).count();
                prop_assert!(count as f64 >= share * n as f64 - 1e-9, "{count} of {n} are {t}, below {share}");
            }
        }
    }
    let mut total = plan.network_total_before;
    for s in &plan.steps {
        let value = match spec.objective {
            Objective::NetGain => s.gain,
            Objective::Npv => s.npv,
        };
        prop_assert!(value >= spec.min_gain, "step {} is worth {value} < {}", s.step, spec.min_gain);
        prop_assert!(s.network_total >= total - 1e-9 * total.abs(), "the network total fell at step {}", s.step);
        total = s.network_total;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    /// Where all site types convert alike, every gain only falls as the plan grows, so the
    /// lazy plan is the exhaustive one, exactly: steps, stop and rejections.
    #[test]
    fn no_plan_breaks_a_constraint_and_lazy_is_exhaustive(case in arb_case()) {
        let p = params(0.7);
        let m = money();
        let scorer = Scorer { params: &p, money: &m, formats: vec![], tier_formats: vec![] };
        let (scenario, existing) = case.scenario(&p);
        let candidates = case.candidates();
        let spec = case.spec();
        prop_assume!(spec.smallest_mixed_plan(spec.k).is_some());
        let lazy = scorer.plan_with(scenario.clone(), &candidates, &spec, &existing, &|_| {});
        check_constraints(&case, &p, &spec, &lazy)?;
        // The totals, summed again over the network with the chosen sites.
        let mut with = scenario.clone();
        for s in &lazy.steps {
            let showroom = p.default_showroom_m2;
            with.add(&Site::new(&p, s.location[0], s.location[1], &p.site_types[&s.site_type], showroom), true);
            prop_assert!((with.own_total() - s.network_total).abs() <= 1e-9 * (1.0 + s.network_total), "step {}: {} summed again", s.step, with.own_total());
        }
        let exhaustive = scorer.plan_exhaustive(scenario, &candidates, &spec, &existing);
        prop_assert_eq!(&lazy, &exhaustive);
        // Every candidate not chosen that a constraint stopped is named once.
        let mut named: Vec<&str> = lazy.rejected.iter().map(|r| r.candidate.as_str()).collect();
        named.dedup();
        prop_assert_eq!(named.len(), lazy.rejected.len());
        prop_assert!(lazy.rejected.iter().all(|r| !lazy.steps.iter().any(|s| s.candidate == r.candidate)));
    }

    /// Unequal conversions: the lazy plan still never breaks a constraint.
    #[test]
    fn with_unequal_conversions_no_plan_breaks_a_constraint(case in arb_case()) {
        let p = params(1.0);
        let m = money();
        let scorer = Scorer { params: &p, money: &m, formats: vec![], tier_formats: vec![] };
        let (scenario, existing) = case.scenario(&p);
        let spec = case.spec();
        prop_assume!(spec.smallest_mixed_plan(spec.k).is_some());
        let lazy = scorer.plan_with(scenario, &case.candidates(), &spec, &existing, &|_| {});
        check_constraints(&case, &p, &spec, &lazy)?;
    }
}

/// With unequal conversions (malls 0.7, auto-cities 1.0) a gain can rise a little as the
/// plan grows, so the lazy plan may part from the exhaustive one: measured on 300 random
/// cases, it agrees on all but a few, and where it parts its total is within 2 %.
#[test]
fn with_unequal_conversions_the_lazy_plan_mostly_agrees_with_the_exhaustive() {
    let p = params(1.0);
    let m = money();
    let scorer = Scorer { params: &p, money: &m, formats: vec![], tier_formats: vec![] };
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = arb_case();
    let (mut same, mut cases, mut worst) = (0, 0, 0.0f64);
    while cases < 300 {
        let case = strategy.new_tree(&mut runner).expect("case").current();
        let spec = PlanSpec { mix: BTreeMap::new(), ..case.spec() };
        let (scenario, existing) = case.scenario(&p);
        let candidates = case.candidates();
        let lazy = scorer.plan_with(scenario.clone(), &candidates, &spec, &existing, &|_| {});
        let exhaustive = scorer.plan_exhaustive(scenario, &candidates, &spec, &existing);
        cases += 1;
        if lazy == exhaustive {
            same += 1;
            continue;
        }
        let total = |plan: &Plan| plan.steps.last().map_or(plan.network_total_before, |s| s.network_total);
        worst = worst.max(1.0 - total(&lazy) / total(&exhaustive));
    }
    eprintln!("lazy = exhaustive in {same} of {cases} cases; worst shortfall of the lazy total {:.4} %", worst * 100.0);
    assert!(same * 100 >= cases * 95, "lazy = exhaustive in only {same} of {cases}");
    assert!(worst < 0.02, "the lazy total fell {:.2} % short", worst * 100.0);
}
