//! The scoring model pinned: hand-computable cases, invariants as properties, and the
//! independent Python reference (tests/oracle/huff_reference.py) on a real Jiujiang
//! scenario, matched to 1e-9 relative.

use h3o::{CellIndex, LatLng, Resolution};
use proptest::prelude::*;
use serde_json::Value;
use std::str::FromStr;
use std::sync::Arc;
use territory::domain::demand::DemandGrid;
use territory::domain::scoring::model::{Reach, Scenario, Site};
use territory::domain::scoring::score::{Candidate, FormatModel, Scorer};
use territory::domain::scoring::{ScoringParams, SiteTypeParams};

/// The parameters these by-hand figures were worked out with: docs/scoring.md's reference
/// table (the bundled policies have since set their own).
fn params() -> ScoringParams {
    let mut p = territory::domain::policy::find("haima").expect("haima").scoring.clone();
    let st = |visibility, beta, reach_km, conversion| SiteTypeParams { visibility, beta, reach_km, conversion };
    p.site_types = [("mall", st(1.3, 2.2, 25.0, 0.7)), ("auto_city", st(1.0, 1.6, 50.0, 1.0)), ("street", st(0.8, 2.0, 30.0, 0.85))]
        .into_iter()
        .map(|(code, s)| (code.to_string(), s))
        .collect();
    p
}

/// A point `km` north of `(lon, lat)` on the model's sphere.
fn north_of(lon: f64, lat: f64, km: f64, p: &ScoringParams) -> (f64, f64) {
    (lon, lat + (km / p.earth_radius_km).to_degrees())
}

/// A one-cell grid and its centre.
fn one_cell(demand: f64) -> (Arc<DemandGrid>, f64, f64) {
    let cell = LatLng::new(29.7, 116.0).expect("latlng").to_cell(Resolution::Eight);
    let c = LatLng::from(cell);
    (Arc::new(DemandGrid::new(vec![(cell, demand)], Resolution::Eight)), c.lng(), c.lat())
}

fn mall(p: &ScoringParams) -> SiteTypeParams {
    p.site_types["mall"]
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()) || (a - b).abs() < 1e-12
}

#[test]
fn one_cell_one_outlet_by_hand() {
    let p = params();
    let (grid, lon, lat) = one_cell(100.0);
    let (olon, olat) = north_of(lon, lat, 2.0, &p);
    let site = Site::new(&p, olon, olat, &mall(&p), 300.0);
    let mut s = Scenario::new(grid.clone(), &p);
    s.add(&site, true);
    let u = 300.0 * 1.3 * 2f64.powf(-2.2);
    let expected = 0.7 * 100.0 * u / (4.0 / 3.0 + u);
    assert!(close(s.sales_of(&site), expected, 1e-12), "{} vs {expected}", s.sales_of(&site));
    assert!(close(s.own_total(), expected, 1e-12));
}

#[test]
fn two_outlets_at_known_distances_share_the_cell() {
    let p = params();
    let (grid, lon, lat) = one_cell(100.0);
    let (alon, alat) = north_of(lon, lat, 3.0, &p);
    let (blon, blat) = north_of(lon, lat, -10.0, &p);
    let a = Site::new(&p, alon, alat, &mall(&p), 450.0);
    let b = Site::new(&p, blon, blat, &p.site_types["auto_city"], 375.0);
    let mut s = Scenario::new(grid.clone(), &p);
    s.add(&a, true);
    s.add(&b, false);
    let ua = 450.0 * 1.3 * 3f64.powf(-2.2);
    let ub = 375.0 * 1.0 * 10f64.powf(-1.6);
    let den = 4.0 / 3.0 + ua + ub;
    assert!(close(s.sales_of(&a), 0.7 * 100.0 * ua / den, 1e-12));
    assert!(close(s.sales_of(&b), 1.0 * 100.0 * ub / den, 1e-12));
    assert!(close(s.captured_share(0), (ua + ub) / den, 1e-12));
}

#[test]
fn a_cell_beyond_reach_is_not_drawn_and_below_d_min_counts_as_d_min() {
    let p = params();
    let (grid, lon, lat) = one_cell(100.0);
    let (flon, flat) = north_of(lon, lat, 25.5, &p);
    let far = Site::new(&p, flon, flat, &mall(&p), 300.0);
    let s = Scenario::new(grid.clone(), &p);
    let e = s.evaluate(&far, &mut Reach::default());
    assert_eq!((e.expected_sales, e.catchment_demand), (0.0, 0.0), "25.5 km is beyond a mall's 25 km");
    let (nlon, nlat) = north_of(lon, lat, 24.5, &p);
    let near = s.evaluate(&Site::new(&p, nlon, nlat, &mall(&p), 300.0), &mut Reach::default());
    assert_eq!(near.catchment_demand, 100.0);
    let (clon, clat) = north_of(lon, lat, 0.3, &p);
    let close_by = s.evaluate(&Site::new(&p, clon, clat, &mall(&p), 300.0), &mut Reach::default());
    let u = 390.0; // 1 km^-2.2 = 1
    assert!(close(close_by.expected_sales, 0.7 * 100.0 * u / (4.0 / 3.0 + u), 1e-12), "{close_by:?}");
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn matches_the_python_reference_on_the_jiujiang_scenario() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scoring");
    let scenario: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("jiujiang_scenario.json")).expect("read")).expect("json");
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("jiujiang_expected.json")).expect("read")).expect("json");
    let mut p = params();
    p.site_types = serde_json::from_value(scenario["params"]["site_types"].clone()).expect("site types");
    p.d_min_km = num(&scenario["params"]["d_min_km"]);
    p.u0 = num(&scenario["params"]["u0"]);
    p.earth_radius_km = num(&scenario["params"]["earth_radius_km"]);
    p.default_showroom_m2 = num(&scenario["params"]["default_showroom_m2"]);
    let rows: Vec<(CellIndex, f64)> =
        scenario["cells"].as_array().expect("cells").iter().map(|c| (CellIndex::from_str(c[0].as_str().expect("h3")).expect("cell"), num(&c[1]))).collect();
    let grid = Arc::new(DemandGrid::new(rows, Resolution::Eight));
    let formats: Vec<FormatModel> = scenario["formats"]
        .as_object()
        .expect("formats")
        .iter()
        .map(|(code, f)| FormatModel {
            code: code.clone(),
            showroom_m2: f["showroom_m2"].as_f64(),
            min_sales: f["min_sales"].as_f64(),
            sells: f["min_sales"].is_number(),
        })
        .collect();
    let tier_formats: Vec<String> = serde_json::from_value(scenario["tier_formats"].clone()).expect("tier formats");
    let money = &territory::domain::policy::find("haima").expect("haima").money;
    let scorer = Scorer { params: &p, money, formats, tier_formats };
    let site_of = |o: &Value| {
        let st = &p.site_types[o["site_type"].as_str().expect("site type")];
        let showroom = o["format"].as_str().and_then(|f| scenario["formats"][f]["showroom_m2"].as_f64()).unwrap_or(p.default_showroom_m2);
        Site::new(&p, num(&o["lon"]), num(&o["lat"]), st, showroom)
    };
    let mut base = Scenario::new(grid.clone(), &p);
    let outlets = scenario["outlets"].as_array().expect("outlets");
    for o in outlets {
        base.add(&site_of(o), o["own"].as_bool().expect("own"));
    }
    let rel = 1e-9;
    for (o, e) in outlets.iter().zip(expected["outlets"].as_array().expect("outlets")) {
        let got = base.sales_of(&site_of(o));
        assert!(close(got, num(&e["expected_sales"]), rel), "outlet {}: {got} vs {}", o["id"], e["expected_sales"]);
    }
    assert!(close(base.own_total(), num(&expected["network_total"]), rel));
    let candidates: Vec<Candidate> = scenario["candidates"]
        .as_array()
        .expect("candidates")
        .iter()
        .map(|c| Candidate {
            id: c["id"].as_str().expect("id").into(),
            lon: num(&c["lon"]),
            lat: num(&c["lat"]),
            site_type: c["site_type"].as_str().map(Into::into),
            format: c["format"].as_str().map(Into::into),
        })
        .collect();
    let scores = scorer.score_all(&base, &candidates);
    for (got, want) in scores.iter().zip(expected["candidates"].as_array().expect("candidates")) {
        let got = serde_json::to_value(got.as_ref().expect("scored")).expect("json");
        compare(&got, want, &want["id"].to_string(), rel);
    }
    let plan = scorer.plan(base.clone(), &candidates, 3, 0.0);
    let plan = serde_json::to_value(&plan).expect("json");
    assert_eq!(plan["stopped"], expected["plan"]["stopped"]);
    let (got_steps, want_steps) = (plan["steps"].as_array().expect("steps"), expected["plan"]["steps"].as_array().expect("steps"));
    assert_eq!(got_steps.len(), want_steps.len());
    for (g, w) in got_steps.iter().zip(want_steps) {
        for key in ["step", "candidate", "site_type"] {
            assert_eq!(g[key], w[key], "plan step {key}");
        }
        for key in ["gain", "network_total"] {
            assert!(close(num(&g[key]), num(&w[key]), rel), "plan step {} {key}: {} vs {}", w["step"], g[key], w[key]);
        }
    }
}

/// Compares every field the reference gives, numbers to `rel`.
fn compare(got: &Value, want: &Value, path: &str, rel: f64) {
    match want {
        Value::Number(n) => {
            let (g, w) = (got.as_f64().unwrap_or(f64::NAN), n.as_f64().unwrap_or(f64::NAN));
            assert!(close(g, w, rel), "{path}: {g} vs {w}");
        }
        Value::Object(m) => {
            for (k, v) in m {
                compare(&got[k], v, &format!("{path}.{k}"), rel);
            }
        }
        Value::Array(a) => {
            let g = got.as_array().unwrap_or_else(|| panic!("{path}: expected an array, got {got}"));
            assert_eq!(g.len(), a.len(), "{path}: length");
            for (i, (x, y)) in g.iter().zip(a).enumerate() {
                compare(x, y, &format!("{path}[{i}]"), rel);
            }
        }
        other => assert_eq!(got, other, "{path}"),
    }
}

/// A random scenario around Jiujiang: a disk of cells, outlets and a candidate.
/// Cell demands, outlets `(dlon, dlat, site type, own)` and a candidate `(dlon, dlat, site type)`.
type Case = (Vec<f64>, Vec<(f64, f64, usize, bool)>, (f64, f64, usize));

fn arb_case() -> impl Strategy<Value = Case> {
    let demand = prop::collection::vec(0.0..50.0f64, 91);
    let site = (-0.3..0.3f64, -0.3..0.3f64, 0..3usize);
    let outlets = prop::collection::vec((-0.3..0.3f64, -0.3..0.3f64, 0..3usize, any::<bool>()), 0..6);
    (demand, outlets, site)
}

fn site_types(p: &ScoringParams) -> [SiteTypeParams; 3] {
    [p.site_types["mall"], p.site_types["auto_city"], p.site_types["street"]]
}

fn disk(demand: &[f64]) -> Arc<DemandGrid> {
    let centre = LatLng::new(29.7, 116.0).expect("latlng").to_cell(Resolution::Six);
    let cells: Vec<CellIndex> = centre.grid_disk::<Vec<_>>(5).into_iter().take(demand.len()).collect();
    Arc::new(DemandGrid::new(cells.into_iter().zip(demand.iter().copied()).collect(), Resolution::Six))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn invariants_hold_on_random_scenarios((demand, outlets, cand) in arb_case()) {
        let p = params();
        let grid = disk(&demand);
        let types = site_types(&p);
        let mut s = Scenario::new(grid.clone(), &p);
        let sites: Vec<(Site, bool)> = outlets.iter().map(|&(dx, dy, t, own)| (Site::new(&p, 116.0 + dx, 29.7 + dy, &types[t], 300.0), own)).collect();
        for (site, own) in &sites {
            s.add(site, *own);
        }
        for i in 0..grid.len() {
            prop_assert!(s.captured_share(i) < 1.0 && s.captured_share(i) >= 0.0);
        }
        let c = Site::new(&p, 116.0 + cand.0, 29.7 + cand.1, &types[cand.2], 375.0);
        let e = s.evaluate(&c, &mut Reach::default());
        prop_assert!(e.cannibalised >= 0.0 && e.competitor_loss >= 0.0);
        let before: Vec<f64> = sites.iter().map(|(site, _)| s.sales_of(site)).collect();
        let total_before = s.own_total();
        let mut with = s.clone();
        with.add(&c, true);
        for ((site, own), b) in sites.iter().zip(&before) {
            let after = with.sales_of(site);
            prop_assert!(after <= b + 1e-12 * b.abs(), "an outlet gained from a new candidate: {b} -> {after}");
            let _ = own;
        }
        let own_loss: f64 = sites.iter().zip(&before).filter(|((_, own), _)| *own).map(|((site, _), b)| b - with.sales_of(site)).sum();
        prop_assert!((own_loss - e.cannibalised).abs() <= 1e-9 * (1.0 + e.cannibalised));
        let gain = with.own_total() - total_before;
        prop_assert!((gain - e.net_gain).abs() <= 1e-9 * (1.0 + e.net_gain.abs()), "gain {gain} vs net_gain {}", e.net_gain);
    }

    #[test]
    fn each_greedy_step_raises_the_total_by_its_gain((demand, outlets, _c) in arb_case(), cands in prop::collection::vec((-0.3..0.3f64, -0.3..0.3f64), 1..6)) {
        let p = params();
        let grid = disk(&demand);
        let types = site_types(&p);
        let mut s = Scenario::new(grid.clone(), &p);
        for &(dx, dy, t, own) in &outlets {
            s.add(&Site::new(&p, 116.0 + dx, 29.7 + dy, &types[t], 300.0), own);
        }
        let scorer = Scorer { params: &p, money: &territory::domain::policy::find("haima").expect("haima").money, formats: vec![], tier_formats: vec![] };
        let candidates: Vec<Candidate> = cands.iter().enumerate().map(|(i, &(dx, dy))| Candidate { id: i.to_string(), lon: 116.0 + dx, lat: 29.7 + dy, site_type: None, format: None }).collect();
        let plan = scorer.plan(s.clone(), &candidates, 4, 0.0);
        let mut total = plan.network_total_before;
        prop_assert!((total - s.own_total()).abs() <= 1e-9 * (1.0 + total));
        // Each step's total against the network summed again with the steps so far.
        let mut with = s;
        for step in &plan.steps {
            prop_assert!((step.network_total - total - step.gain).abs() <= 1e-9 * (1.0 + step.network_total), "{step:?} after {total}");
            prop_assert!(step.gain >= 0.0);
            with.add(&Site::new(&p, step.location[0], step.location[1], &p.site_types[&step.site_type], p.default_showroom_m2), true);
            prop_assert!((with.own_total() - step.network_total).abs() <= 1e-9 * (1.0 + step.network_total), "{step:?}: summed again {}", with.own_total());
            total = step.network_total;
        }
    }
}
