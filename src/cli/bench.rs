//! `territory bench scoring`: the figures of BENCHMARKS.md for the scoring issue, measured
//! on a real database: synthesis of the demand grid, loading it, building the scenario of
//! the network's outlets, scoring N random candidates, the greedy choice of k, and peak
//! memory. With `--dump DIR` it also writes the same inputs (and the results) for the
//! Python comparison (`bench/scoring_vs_python.sh`).

use crate::app::{App, blocking};
use crate::domain::random::SplitMix64;
use crate::domain::scoring::network::{existing_sites, format_models, outlet_site, scorer};
use crate::domain::scoring::plan::PlanSpec;
use crate::domain::scoring::score::Candidate;
use crate::error::{Error, Result};
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// `territory bench ...`.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Demand synthesis, grid load, scenario, scoring N random candidates, greedy k, peak memory.
    Scoring {
        /// Database (with the network's demand grid).
        #[command(flatten)]
        db: super::DbArgs,
        /// Network code.
        #[arg(long, default_value = "smart")]
        network: String,
        /// Random candidates to score.
        #[arg(long, default_value_t = 10_000)]
        candidates: usize,
        /// Sites the greedy plan chooses (0: skip the plan).
        #[arg(short, long, default_value_t = 50)]
        k: usize,
        /// Also time a synthesis of the grid from district population (not stored).
        #[arg(long)]
        synthesize: bool,
        /// Write cells.csv, scenario.json and rust_results.json here for the Python comparison.
        #[arg(long)]
        dump: Option<std::path::PathBuf>,
        /// Seed of the candidate generator.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Times each scoring pass runs; the fastest is reported (the VM is noisy).
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// Also time the exhaustive greedy (every candidate at every step) and compare.
        #[arg(long)]
        exhaustive: bool,
    },
    /// Calibration: sales of N own outlets over Y years made from known parameters (with
    /// Poisson noise) on the network's grid, each year fitted; time and recovery per year.
    Calibration {
        /// Database (with the network's demand grid).
        #[command(flatten)]
        db: super::DbArgs,
        /// Network code.
        #[arg(long, default_value = "smart")]
        network: String,
        /// Own outlets with sales.
        #[arg(long, default_value_t = 200)]
        outlets: usize,
        /// Years of sales, each fitted on its own.
        #[arg(long, default_value_t = 5)]
        years: usize,
        /// Seed of the sites and the noise.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// Runs `territory bench ...`.
pub async fn run(what: BenchCommand) -> anyhow::Result<i32> {
    match what {
        BenchCommand::Scoring { db, network, candidates, k, synthesize, dump, seed, repeat, exhaustive } => {
            let app = db.open().await?;
            scoring(&app, &ScoringBench { network, candidates, k, synthesize, dump, seed, repeat, exhaustive }).await?;
        }
        BenchCommand::Calibration { db, network, outlets, years, seed } => {
            let app = db.open().await?;
            calibration(&app, &network, outlets, years, seed).await?;
        }
    }
    Ok(0)
}

/// Peak resident memory of this process, MiB (Linux `VmHWM`).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct ScoringBench {
    /// Network code.
    pub network: String,
    /// Candidates to score.
    pub candidates: usize,
    /// Sites the greedy plan chooses (0: skip).
    pub k: usize,
    /// Also time a synthesis of the grid (not stored).
    pub synthesize: bool,
    /// Write the inputs and results here for the Python comparison.
    pub dump: Option<std::path::PathBuf>,
    /// Seed of the candidate generator.
    pub seed: u64,
    /// Runs of each scoring pass; the fastest is reported.
    pub repeat: usize,
    /// Also time the exhaustive greedy and compare its plan.
    pub exhaustive: bool,
}

fn line(key: &str, value: impl std::fmt::Display) {
    println!("{key}={value}");
}

/// Runs the scoring benchmark and prints `key=value` lines.
pub async fn scoring(app: &App, b: &ScoringBench) -> Result<()> {
    let (_, policy) = app.catalog.network(&b.network).await?;
    line("machine", format!("{} cpus, {}", std::thread::available_parallelism().map_or(0, |n| n.get()), cpu_model()));
    if b.synthesize {
        let settings = crate::domain::demand::synthesize::bundled_settings()?;
        app.catalog.refresh_regions().await?;
        let regions = app.catalog.regions();
        let resolution = h3o::Resolution::try_from(policy.scoring.resolution).map_err(Error::data("the policy's H3 resolution"))?;
        let t = Instant::now();
        let (rows, report) = crate::domain::demand::synthesize::synthesize(
            &regions,
            crate::app::demand::POPULATION_2010,
            &settings,
            policy.scoring.purchase_rate,
            resolution,
            |_, _| {},
        )?;
        line("synthesis_seconds", format!("{:.3}", t.elapsed().as_secs_f64()));
        line("synthesis_cells", rows.len());
        line("synthesis_districts", report.districts);
        let t = Instant::now();
        let grid = crate::domain::demand::DemandGrid::new(rows, resolution);
        line("grid_build_seconds", format!("{:.3}", t.elapsed().as_secs_f64()));
        line("grid_heap_mib", format!("{:.1}", grid.heap_bytes() as f64 / 1048576.0));
    }
    let t = Instant::now();
    let (info, grid) = app.demand.grid(&b.network).await?;
    line("grid_load_seconds", format!("{:.3}", t.elapsed().as_secs_f64()));
    line("grid_cells", info.cell_count);
    line("grid_heap_mib", format!("{:.1}", grid.heap_bytes() as f64 / 1048576.0));
    line("grid_bytes_per_cell", grid.heap_bytes() / grid.len().max(1));
    let t = Instant::now();
    let network = app.scoring.scenario(&b.network).await?;
    let (scenario, outlets, model) = (network.scenario, network.outlets, network.model);
    line("scenario_seconds", format!("{:.3}", t.elapsed().as_secs_f64()));
    line("outlets", outlets.len());
    line("scenario_heap_mib", format!("{:.1}", scenario.heap_bytes() as f64 / 1048576.0));

    let mut rng = SplitMix64(b.seed);
    let site_types: Vec<String> = model.params.site_types.keys().cloned().collect();
    let standard = policy.standard();
    let formats: Vec<String> =
        standard.formats.iter().filter(|f| f.roles.iter().any(|r| standard.role(r).is_some_and(|r| r.sells))).map(|f| f.code.clone()).collect();
    let candidates: Vec<Candidate> = (0..b.candidates)
        .map(|i| {
            let (lon, lat) = crate::domain::demand::lon_lat(&grid.centres[rng.below(grid.len())]);
            let (lon, lat) = (lon + (rng.unit() - 0.5) * 0.01, lat + (rng.unit() - 0.5) * 0.01);
            let site_type = Some(site_types[rng.below(site_types.len())].clone());
            let format = Some(formats[rng.below(formats.len())].clone());
            Candidate { id: format!("c{i}"), lon, lat, site_type, format }
        })
        .collect();
    let (secs, scores) = timed_scoring(policy, &model, &scenario, candidates.clone(), b.repeat).await?;
    line("candidates", candidates.len());
    line("score_seconds", format!("{secs:.4}"));
    line("score_per_candidate_us", format!("{:.1}", secs * 1e6 / candidates.len().max(1) as f64));
    // Without a format: the default showroom plus the recommendation (format trials).
    let unformatted: Vec<Candidate> = candidates.iter().map(|c| Candidate { format: None, ..c.clone() }).collect();
    let (secs, _) = timed_scoring(policy, &model, &scenario, unformatted, b.repeat).await?;
    line("score_recommend_format_seconds", format!("{secs:.4}"));
    // Without a site type: scored as each compared site type (and without a format).
    let open: Vec<Candidate> = candidates.iter().map(|c| Candidate { site_type: None, format: None, ..c.clone() }).collect();
    let (secs, _) = timed_scoring(policy, &model, &scenario, open, b.repeat).await?;
    line("score_compare_site_types_seconds", format!("{secs:.4}"));
    if b.k > 0 {
        plans(policy, &model, &scenario, &outlets, &candidates, b).await?;
    }
    if let Some(mib) = peak_rss_mib() {
        line("peak_rss_mib", format!("{mib:.0}"));
    }
    if let Some(dir) = &b.dump {
        dump(dir, policy, &model.params, &grid, &outlets, &candidates, &scores)?;
        line("dumped", dir.display());
    }
    Ok(())
}

/// Times the greedy choice of `k`: unconstrained, then with a budget, a spacing and a mix
/// that bind (and the exhaustive greedy, if asked, with whether it chose the same).
async fn plans(
    policy: &'static crate::domain::policy::Policy,
    model: &std::sync::Arc<crate::app::model::InForce>,
    scenario: &std::sync::Arc<crate::domain::scoring::model::Scenario>,
    outlets: &[crate::domain::outlets::Outlet],
    candidates: &[Candidate],
    b: &ScoringBench,
) -> Result<()> {
    let existing = existing_sites(policy, &model.params, outlets);
    let unconstrained = PlanSpec::greedy(b.k, 0.0);
    // Half the capex the unconstrained plan would spend, 10 km apart, 40 % auto-cities.
    let mut constrained = PlanSpec { min_spacing_km: Some(10.0), mix: [("auto_city".to_string(), 0.4)].into(), ..unconstrained.clone() };
    let (model, sc, cands, existing) = (model.clone(), scenario.clone(), candidates.to_vec(), existing);
    let exhaustive = b.exhaustive;
    let lines = blocking(move || {
        let s = scorer(policy, &model.params, None);
        let mut lines = Vec::new();
        let t = Instant::now();
        let plan = s.plan_with((*sc).clone(), &cands, &unconstrained, &existing, &|_| {});
        lines.push(("plan_seconds", format!("{:.3}", t.elapsed().as_secs_f64())));
        lines.push(("plan_steps", plan.steps.len().to_string()));
        lines.push(("plan_network_total", format!("{:.1}", plan.steps.last().map_or(plan.network_total_before, |s| s.network_total))));
        constrained.budget = plan.steps.last().map(|s| s.capex_total / 2.0);
        let t = Instant::now();
        let bound = s.plan_with((*sc).clone(), &cands, &constrained, &existing, &|_| {});
        lines.push(("plan_constrained_seconds", format!("{:.3}", t.elapsed().as_secs_f64())));
        lines.push(("plan_constrained_steps", bound.steps.len().to_string()));
        lines.push(("plan_constrained_rejected", bound.rejected.len().to_string()));
        lines.push(("plan_constrained_stopped", format!("{:?}", bound.stopped)));
        if exhaustive {
            let runs = [
                ("plan_exhaustive", "plan_exhaustive_same", &unconstrained, &plan),
                ("plan_constrained_exhaustive", "plan_constrained_exhaustive_same", &constrained, &bound),
            ];
            for (name, same_name, spec, lazy) in runs {
                let t = Instant::now();
                let full = s.plan_exhaustive((*sc).clone(), &cands, spec, &existing);
                lines.push((name, format!("{:.3}", t.elapsed().as_secs_f64())));
                let same = full.steps.iter().map(|s| &s.candidate).eq(lazy.steps.iter().map(|s| &s.candidate));
                lines.push((same_name, same.to_string()));
            }
        }
        lines
    })
    .await?;
    line("plan_k", b.k);
    for (key, value) in lines {
        line(key, value);
    }
    Ok(())
}

/// Times calibration: `outlets` own sites (half malls, half auto-cities) at random among the
/// grid's 20,000 busiest cells, beside the network's competitors; each of `years` years of
/// sales is made by the model from parameters other than those in force, with Poisson
/// noise, and fitted from the parameters in force. Prints each fit's time and how far the
/// fitted values lie from the truth.
async fn calibration(app: &App, network: &str, outlets: usize, years: usize, seed: u64) -> Result<()> {
    use crate::domain::scoring::calibrate::{FitInput, FitSite, Observation, calibrate};
    use crate::domain::scoring::model::{Scenario, Site};
    let (_, policy) = app.catalog.network(network).await?;
    let (_, grid) = app.demand.grid(network).await?;
    let on_network = app.scoring.scenario(network).await?;
    let (start, competitors) = (on_network.model.params.clone(), on_network.outlets.clone());
    line("machine", format!("{} cpus, {}", std::thread::available_parallelism().map_or(0, |n| n.get()), cpu_model()));
    line("grid_cells", grid.len());
    let lines = blocking(move || {
        let mut truth = start.clone();
        for (code, (visibility, beta, conversion)) in [("mall", (1.8, 2.4, 0.6)), ("auto_city", (1.0, 2.1, 0.9))] {
            if let Some(st) = truth.site_types.get_mut(code) {
                (st.visibility, st.beta, st.conversion) = (visibility, beta, conversion);
            }
        }
        truth.u0 = 2.5;
        let mut rng = SplitMix64(seed);
        let mut busiest: Vec<usize> = (0..grid.len()).collect();
        busiest.sort_by(|a, b| grid.demand[*b].total_cmp(&grid.demand[*a]));
        busiest.truncate(20_000);
        let mut sites: Vec<FitSite> = (0..outlets)
            .map(|i| {
                let (lon, lat) = crate::domain::demand::lon_lat(&grid.centres[busiest[rng.below(busiest.len())]]);
                let site_type = if i % 2 == 0 { "mall" } else { "auto_city" };
                FitSite { site_type: site_type.into(), showroom_m2: truth.default_showroom_m2, lon: lon + (rng.unit() - 0.5) * 0.01, lat: lat + (rng.unit() - 0.5) * 0.01 }
            })
            .collect();
        for o in competitors.iter().filter(|o| o.competitor && outlet_site(policy, &truth, o).is_some()) {
            let showroom_m2 = crate::domain::scoring::network::showroom(policy, &truth, o.format.as_deref());
            sites.push(FitSite { site_type: o.site_type.clone(), showroom_m2, lon: o.location.x(), lat: o.location.y() });
        }
        let site = |p: &crate::domain::scoring::ScoringParams, s: &FitSite| Site::new(p, s.lon, s.lat, &p.site_types[&s.site_type], s.showroom_m2);
        let mut scenario = Scenario::new(grid.clone(), &truth);
        for (j, s) in sites.iter().enumerate() {
            scenario.add(&site(&truth, s), j < outlets);
        }
        let expected: Vec<f64> = sites[..outlets].iter().map(|s| scenario.sales_of(&site(&truth, s))).collect();
        let mut lines = vec![("outlets", outlets.to_string()), ("competitors", (sites.len() - outlets).to_string())];
        let mut total = 0.0;
        for year in 0..years {
            let observations: Vec<Observation> = expected.iter().enumerate().map(|(j, e)| Observation { site: j, district: None, units: rng.poisson(*e) }).collect();
            let t = Instant::now();
            let fitted = calibrate(&FitInput { grid: &grid, start: &start, sites: sites.clone(), observations, cell_district: None });
            let secs = t.elapsed().as_secs_f64();
            total += secs;
            let report = match fitted {
                Ok(c) => {
                    let p = &c.parameters;
                    let off = |f: f64, t: f64| format!("{:+.1}%", (f / t - 1.0) * 100.0);
                    let (m, a) = (&p.site_types["mall"], &p.site_types["auto_city"]);
                    let (tm, ta) = (&truth.site_types["mall"], &truth.site_types["auto_city"]);
                    format!(
                        "{secs:.3}s evaluations={} r2={:.3} holdout_mape={:.3} u0 {} mall.beta {} mall.conversion {} mall.visibility {} auto_city.beta {} auto_city.conversion {}",
                        c.fit.evaluations,
                        c.fit.r2,
                        c.fit.holdout_mape.unwrap_or(f64::NAN),
                        off(p.u0, truth.u0),
                        off(m.beta, tm.beta),
                        off(m.conversion, tm.conversion),
                        off(m.visibility, tm.visibility),
                        off(a.beta, ta.beta),
                        off(a.conversion, ta.conversion)
                    )
                }
                Err(e) => format!("{secs:.3}s failed: {e}"),
            };
            lines.push(("calibration_year", format!("{} {report}", year + 1)));
        }
        lines.push(("calibration_seconds_total", format!("{total:.3}")));
        lines.push(("calibration_seconds_per_year", format!("{:.3}", total / years.max(1) as f64)));
        lines
    })
    .await?;
    for (key, value) in lines {
        line(key, value);
    }
    if let Some(mib) = peak_rss_mib() {
        line("peak_rss_mib", format!("{mib:.0}"));
    }
    Ok(())
}

/// Scores candidates `repeat` times on a blocking thread; returns the fastest run's
/// seconds and the scores.
async fn timed_scoring(
    policy: &'static crate::domain::policy::Policy,
    model: &std::sync::Arc<crate::app::model::InForce>,
    scenario: &std::sync::Arc<crate::domain::scoring::model::Scenario>,
    candidates: Vec<Candidate>,
    repeat: usize,
) -> Result<(f64, Vec<Option<crate::domain::scoring::score::CandidateScore>>)> {
    let (model, sc) = (model.clone(), scenario.clone());
    blocking(move || {
        let s = scorer(policy, &model.params, None);
        let mut fastest = f64::INFINITY;
        let mut scores = Vec::new();
        for _ in 0..repeat.max(1) {
            let t = Instant::now();
            scores = s.score_all(&sc, &candidates);
            fastest = fastest.min(t.elapsed().as_secs_f64());
        }
        (fastest, scores)
    })
    .await
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|m| m.trim().to_string()))
        .unwrap_or_default()
}

fn without_nulls(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.retain(|_, x| !x.is_null());
    }
    v
}

fn io(e: std::io::Error) -> Error {
    Error::Io { context: "writing the bench dump".into(), source: e }
}

/// Writes `cells.csv`, `scenario.json` and `rust_results.json` (see tests/oracle/huff_reference.py).
fn dump(
    dir: &Path,
    policy: &crate::domain::policy::Policy,
    params: &crate::domain::scoring::ScoringParams,
    grid: &crate::domain::demand::DemandGrid,
    outlets: &[crate::domain::outlets::Outlet],
    candidates: &[Candidate],
    scores: &[Option<crate::domain::scoring::score::CandidateScore>],
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut cells = std::io::BufWriter::new(std::fs::File::create(dir.join("cells.csv")).map_err(io)?);
    writeln!(cells, "h3,demand").map_err(io)?;
    for (c, d) in grid.cells.iter().zip(&grid.demand) {
        writeln!(cells, "{c:x},{d}").map_err(io)?;
    }
    cells.flush().map_err(io)?;
    let standard = policy.standard();
    let p = params;
    let outlets: Vec<Value> = outlets
        .iter()
        .filter(|o| outlet_site(policy, params, o).is_some())
        .map(|o| without_nulls(json!({"id": o.id.to_string(), "lon": o.location.x(), "lat": o.location.y(), "site_type": o.site_type, "format": o.format, "own": !o.competitor})))
        .collect();
    let formats: serde_json::Map<String, Value> =
        format_models(policy).into_iter().map(|f| (f.code, json!({"showroom_m2": f.showroom_m2, "min_sales": f.min_sales}))).collect();
    let scenario = json!({
        "description": format!("territory bench scoring: network {}", policy.code),
        "params": {"d_min_km": p.d_min_km, "u0": p.u0, "earth_radius_km": p.earth_radius_km, "default_showroom_m2": p.default_showroom_m2, "site_types": p.site_types},
        "formats": formats,
        "tier_formats": standard.formats.iter().map(|f| f.code.clone()).collect::<Vec<_>>(),
        "outlets": outlets,
        "candidates": candidates.iter().map(|c| without_nulls(json!({"id": c.id, "lon": c.lon, "lat": c.lat, "site_type": c.site_type, "format": c.format}))).collect::<Vec<_>>(),
        "plan": {"k": 50, "min_gain": 0.0},
    });
    std::fs::write(dir.join("scenario.json"), scenario.to_string()).map_err(io)?;
    let results: Vec<Value> = scores
        .iter()
        .flatten()
        .map(|s| {
            let e = &s.best.evaluation;
            json!({"id": s.id, "expected_sales": e.expected_sales, "cannibalised": e.cannibalised, "net_gain": e.net_gain, "competitor_loss": e.competitor_loss, "catchment_demand": e.catchment_demand})
        })
        .collect();
    std::fs::write(dir.join("rust_results.json"), json!({"candidates": results}).to_string()).map_err(io)?;
    Ok(())
}
