//! `territory bench scoring`: the figures of BENCHMARKS.md for the scoring issue, measured
//! on a real database: synthesis of the demand grid, loading it, building the scenario of
//! the network's outlets, scoring N random candidates, the greedy choice of k, and peak
//! memory. With `--dump DIR` it also writes the same inputs (and the results) for the
//! Python comparison (`bench/scoring_vs_python.sh`).

use crate::app::{App, blocking};
use crate::domain::random::SplitMix64;
use crate::domain::scoring::network::{format_models, outlet_site, scorer};
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
    },
}

/// Runs `territory bench ...`.
pub async fn run(what: BenchCommand) -> anyhow::Result<i32> {
    let BenchCommand::Scoring { db, network, candidates, k, synthesize, dump, seed, repeat } = what;
    let app = db.open().await?;
    scoring(&app, &ScoringBench { network, candidates, k, synthesize, dump, seed, repeat }).await?;
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
        let sc = (*scenario).clone();
        let cands = candidates.clone();
        let k = b.k;
        let in_force = model.clone();
        let (secs, steps) = blocking(move || {
            let t = Instant::now();
            let plan = scorer(policy, &in_force.params, None).plan(sc, &cands, k, 0.0);
            (t.elapsed().as_secs_f64(), plan.steps.len())
        })
        .await?;
        line("plan_k", b.k);
        line("plan_steps", steps);
        line("plan_seconds", format!("{secs:.3}"));
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
