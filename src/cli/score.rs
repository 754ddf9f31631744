//! `territory score` and `territory plan`: candidate sites from a file, scored on the
//! network, or chosen greedily.

use super::{CoordSysArg, DbArgs, is_csv, progress_bar, read_text, refused};
use crate::app::scoring::{CandidateSource, PlanOptions, PlanRequest, read_candidates};
use crate::domain::access::Caller;
use crate::domain::scoring::network::NetworkView;
use crate::domain::scoring::network::{CandidateInput, ScoreGeoJson};
use crate::domain::scoring::plan::Objective;
use crate::error::Result;
use clap::Args;
use std::path::{Path, PathBuf};

/// Candidates and where to score them.
#[derive(Debug, Args)]
pub struct CandidateArgs {
    /// Database.
    #[command(flatten)]
    pub db: DbArgs,
    /// Network code.
    #[arg(long)]
    pub network: String,
    /// The partner the candidates are for.
    #[arg(long)]
    pub partner_id: Option<i64>,
    /// Datum of the file's coordinates.
    #[arg(long, value_enum, default_value = "wgs84")]
    pub coord_sys: CoordSysArg,
    /// The outlets to compete with: the open ones, or those and the pipeline.
    #[arg(long, value_enum, default_value = "open")]
    pub against: AgainstArg,
    /// Candidates: `.json` (`{"candidates": [...]}`), `.geojson` or `.csv`.
    pub file: PathBuf,
}

/// `territory score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Candidates.
    #[command(flatten)]
    pub candidates: CandidateArgs,
    /// Print a GeoJSON FeatureCollection of the scored points (for QGIS).
    #[arg(long)]
    pub geojson: bool,
}

/// `territory plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Candidates.
    #[command(flatten)]
    pub candidates: CandidateArgs,
    /// How many sites to choose at most.
    #[arg(short, long)]
    pub k: usize,
    /// Take a step only if its objective reaches this (cars for net-gain, RMB for npv).
    #[arg(long, default_value_t = 0.0)]
    pub min_gain: f64,
    /// Only candidates inside the partner's territory (and outside others' exclusive ones).
    #[arg(long)]
    pub within_territory: bool,
    /// What each step maximises.
    #[arg(long, value_enum, default_value = "net-gain")]
    pub objective: ObjectiveArg,
    /// Most capex of the chosen sites in all, RMB.
    #[arg(long)]
    pub budget: Option<f64>,
    /// Least distance between chosen sites and from the network's own sales outlets, km.
    #[arg(long)]
    pub min_spacing_km: Option<f64>,
    /// Least share of a site type among the chosen sites, as `TYPE=SHARE` (repeatable),
    /// e.g. `--mix auto_city=0.5`.
    #[arg(long, value_parser = parse_share)]
    pub mix: Vec<(String, f64)>,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What a plan maximises.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ObjectiveArg {
    /// Expected sales gained by the network.
    NetGain,
    /// Net present value of each step, RMB.
    Npv,
}

impl From<ObjectiveArg> for Objective {
    fn from(o: ObjectiveArg) -> Objective {
        match o {
            ObjectiveArg::NetGain => Objective::NetGain,
            ObjectiveArg::Npv => Objective::Npv,
        }
    }
}

/// Which outlets candidates compete with.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum AgainstArg {
    /// The outlets open today.
    Open,
    /// The open outlets and those in the pipeline.
    Planned,
}

impl From<AgainstArg> for NetworkView {
    fn from(a: AgainstArg) -> NetworkView {
        match a {
            AgainstArg::Open => NetworkView::Open,
            AgainstArg::Planned => NetworkView::Planned,
        }
    }
}

/// `TYPE=SHARE`.
fn parse_share(s: &str) -> std::result::Result<(String, f64), String> {
    let (t, v) = s.split_once('=').ok_or_else(|| format!("`{s}`: write TYPE=SHARE, e.g. auto_city=0.5"))?;
    let share = v.trim().parse::<f64>().map_err(|_| format!("`{v}` is not a number"))?;
    Ok((t.trim().to_string(), share))
}

/// The candidates of a file and the partner it names, if any.
fn read_file(file: &Path) -> Result<(Option<i64>, Vec<CandidateInput>)> {
    let text = read_text(file)?;
    if is_csv(file) {
        return read_candidates(CandidateSource::Csv(&text));
    }
    read_candidates(CandidateSource::Json(text.as_bytes()))
}

/// Scores the candidates; prints JSON or GeoJSON.
pub async fn score(args: ScoreArgs) -> anyhow::Result<i32> {
    let c = &args.candidates;
    let app = c.db.open().await?;
    let (named, inputs) = match refused(read_file(&c.file), &c.file)? {
        Ok(i) => i,
        Err(code) => return Ok(code),
    };
    let answer = app.scoring.score(&Caller::cli(), &c.network, c.partner_id.or(named), &inputs, c.coord_sys.into(), c.against.into()).await;
    let answer = match refused(answer, &c.file)? {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let out = if args.geojson { serde_json::to_value(ScoreGeoJson(answer))? } else { serde_json::to_value(&answer)? };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(0)
}

/// Chooses up to k candidates; prints each step (or JSON).
pub async fn plan(args: PlanArgs) -> anyhow::Result<i32> {
    let c = &args.candidates;
    let app = c.db.open().await?;
    let (named, inputs) = match refused(read_file(&c.file), &c.file)? {
        Ok(i) => i,
        Err(code) => return Ok(code),
    };
    let request = PlanRequest {
        partner_id: c.partner_id.or(named),
        k: args.k,
        candidates: inputs,
        min_gain: Some(args.min_gain),
        within_territory: args.within_territory,
        objective: args.objective.into(),
        budget: args.budget,
        min_spacing_km: args.min_spacing_km,
        mix: args.mix.iter().cloned().collect(),
        network: c.against.into(),
    };
    let options = match refused(PlanOptions::new(&request), &c.file)? {
        Ok(o) => o,
        Err(code) => return Ok(code),
    };
    let bar = progress_bar(args.k as u64, "plan steps");
    let on_step = bar.clone();
    let options = options.with_progress(std::sync::Arc::new(move |done, _| on_step.set_position(done as u64)));
    let answer = app.scoring.plan(&Caller::cli(), &c.network, request.partner_id, &request.candidates, options, c.coord_sys.into()).await;
    bar.finish_and_clear();
    let answer = match refused(answer, &c.file)? {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(0);
    }
    println!("network total before: {:.1} units/year", answer.plan.network_total_before);
    for s in &answer.plan.steps {
        println!(
            "step {}: {} as {} gains {:.1} → network total {:.1} (capex {:.0}, npv {:.0})",
            s.step, s.candidate, s.site_type, s.gain, s.network_total, s.capex, s.npv
        );
    }
    for r in &answer.plan.rejected {
        println!("rejected ({:?}): {}: {}", r.constraint, r.candidate, r.detail);
    }
    for e in &answer.excluded {
        println!("left out (outside the territory): {}", e.id);
    }
    println!("stopped: {:?}", answer.plan.stopped);
    Ok(0)
}
