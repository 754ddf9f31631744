//! The command line: `territory serve | import | check`.

use crate::error::{Error, Result};
use crate::input::InputError;
use crate::domain::exclusivity::compare;
use crate::geometry::{CoordSys, GeometryLimits};
use crate::domain::grants::{Decision, Grant};
use crate::http::{self, HttpLimits};
use crate::registry::{GrantRequest, Registry};
use crate::store::Store;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Exclusive territories, outlets and site scoring for car dealer/agent networks.
#[derive(Debug, Parser)]
#[command(name = "territory", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Where the database is.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// SQLite database file; created and migrated if missing.
    #[arg(long, env = "TERRITORY_DB", default_value = "territory.db")]
    pub db: PathBuf,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (loads the sample data into an empty database).
    Serve(ServeArgs),
    /// Import data.
    Import {
        /// What to import.
        #[command(subcommand)]
        what: ImportCommand,
    },
    /// Check proposed grants (a GeoJSON FeatureCollection) against the stored grants and
    /// each other; prints every conflict; exit status 1 if any, 0 if none, 2 if invalid.
    Check(CheckArgs),
    /// Check a network against its format standard; prints every breach and a summary
    /// per partner; exit status 1 if any breach, 0 if none.
    Compliance(ComplianceArgs),
    /// Demand grids.
    Demand {
        /// What to do.
        #[command(subcommand)]
        what: DemandCommand,
    },
    /// Score candidate sites (JSON `{candidates}`, GeoJSON Points or CSV `id,lon,lat,site_type,format`)
    /// against the network's outlets; prints JSON (or GeoJSON with `--geojson`).
    Score(ScoreArgs),
    /// Choose up to k of the candidates greedily; prints each step.
    Plan(PlanArgs),
    /// Access tokens: create (shown once), list, revoke.
    Token {
        /// What to do.
        #[command(subcommand)]
        what: TokenCommand,
    },
    /// Export a layer (`regions` or `NET.LAYER`, e.g. `smart.grants`) as GeoJSON or
    /// GeoPackage, for QGIS.
    Export(ExportArgs),
    /// Write an online, consistent copy of the database to a new file (`VACUUM INTO`),
    /// safe while the service and other commands use it.
    Backup(BackupArgs),
    /// Measure performance on a database; prints `key=value` figures (BENCHMARKS.md).
    Bench {
        /// What to measure.
        #[command(subcommand)]
        what: BenchCommand,
    },
}

/// `territory bench ...`.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Demand synthesis, grid load, scenario, scoring N random candidates, greedy k, peak memory.
    Scoring {
        /// Database (with the network's demand grid).
        #[command(flatten)]
        db: DbArgs,
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
        dump: Option<PathBuf>,
        /// Seed of the candidate generator.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Times each scoring pass runs; the fastest is reported (the VM is noisy).
        #[arg(long, default_value_t = 3)]
        repeat: usize,
    },
}

/// `territory demand ...`.
#[derive(Debug, Subcommand)]
pub enum DemandCommand {
    /// Build a network's grid from district population (2010 census scaled to 2020 totals
    /// × the policy's purchase rate), replacing its grid.
    Synthesize {
        /// Database.
        #[command(flatten)]
        db: DbArgs,
        /// Network code.
        #[arg(long)]
        network: String,
        /// District population CSV (`adcode,...,level,...,pop_2010`); default: the bundled one.
        #[arg(long)]
        population: Option<PathBuf>,
    },
}

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
    /// Stop when no candidate gains at least this.
    #[arg(long, default_value_t = 0.0)]
    pub min_gain: f64,
    /// Only candidates inside the partner's territory (and outside others' exclusive ones).
    #[arg(long)]
    pub within_territory: bool,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `territory token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (only its hash is stored: it cannot be shown again).
    Create {
        /// Database.
        #[command(flatten)]
        db: DbArgs,
        /// A label (who or what uses it).
        #[arg(long)]
        name: String,
        /// `viewer` (read), `planner` (read, checks, scoring, plans, exports) or `admin` (everything).
        #[arg(long)]
        role: String,
        /// Limit it to one network.
        #[arg(long)]
        network: Option<String>,
        /// Make it a partner token: it sees and acts only for this partner.
        #[arg(long)]
        partner_id: Option<i64>,
    },
    /// List tokens (never their secrets).
    List {
        /// Database.
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a token; it stops working at once.
    Revoke {
        /// Database.
        #[command(flatten)]
        db: DbArgs,
        /// Token id (from `token list`).
        id: i64,
    },
}

/// `territory export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Database.
    #[command(flatten)]
    pub db: DbArgs,
    /// `regions`, or `NET.LAYER` with LAYER one of grants, outlets, demand, conflicts, candidates.
    pub layer: String,
    /// `geojson` or `gpkg` (default: from the output file's extension).
    #[arg(long)]
    pub format: Option<String>,
    /// Output file (must not exist).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Only features meeting `minx,miny,maxx,maxy` (WGS84).
    #[arg(long)]
    pub bbox: Option<String>,
}

/// `territory backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Database.
    #[command(flatten)]
    pub db: DbArgs,
    /// The copy to write (must not exist).
    pub file: PathBuf,
}

/// `territory compliance`.
#[derive(Debug, Args)]
pub struct ComplianceArgs {
    /// Database.
    #[command(flatten)]
    pub db: DbArgs,
    /// Network code.
    #[arg(long)]
    pub network: String,
    /// Only this partner.
    #[arg(long)]
    pub partner_id: Option<i64>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `territory serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Database.
    #[command(flatten)]
    pub db: DbArgs,
    /// Address to listen on.
    #[arg(long, env = "TERRITORY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Folder with the bundled sample data (region layers).
    #[arg(long, env = "TERRITORY_DATA", default_value = default_data_dir())]
    pub data: PathBuf,
    /// Do not load sample data into an empty database.
    #[arg(long)]
    pub no_seed: bool,
    /// Seed the sample networks without synthesising their demand grid (faster).
    #[arg(long)]
    pub no_seed_demand: bool,
    /// Largest request body, bytes.
    #[arg(long, default_value_t = HttpLimits::default().max_body_bytes)]
    pub max_body_bytes: usize,
    /// Most vertices in one input geometry.
    #[arg(long, default_value_t = GeometryLimits::default().max_vertices)]
    pub max_vertices: usize,
    /// Longest a request may run, seconds (then 503 with Retry-After).
    #[arg(long, default_value_t = HttpLimits::default().request_timeout.as_secs_f64())]
    pub request_timeout_secs: f64,
    /// Requests in flight at most (more get 503 with Retry-After).
    #[arg(long, default_value_t = HttpLimits::default().max_concurrent)]
    pub max_concurrent: usize,
    /// Most features one request or import may bring (demand cells, candidates, outlets).
    #[arg(long, default_value_t = HttpLimits::default().max_import_features)]
    pub max_import_features: usize,
    /// XYZ raster basemap URL template for the map page (`https://host/{z}/{x}/{y}.png`);
    /// without it the page draws only the service's own layers.
    #[arg(long, env = "TERRITORY_BASEMAP")]
    pub basemap: Option<String>,
}

/// `territory import ...`.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// A region layer: GeoJSON FeatureCollection with `adcode`, `name`, `level`,
    /// `parent_adcode`. Refused whole if any feature is invalid.
    Regions {
        /// Database.
        #[command(flatten)]
        db: DbArgs,
        /// The layer file.
        file: PathBuf,
    },
    /// A network's demand grid: CSV `h3,demand` or JSON `{"cells": [{"h3", "demand"}]}`.
    /// Refused whole if any line is bad (invalid cell, mixed resolution, duplicate,
    /// negative or non-finite demand).
    Demand {
        /// Database.
        #[command(flatten)]
        db: DbArgs,
        /// Network code.
        #[arg(long)]
        network: String,
        /// `.csv` or `.json` file.
        file: PathBuf,
    },
    /// Outlets of a network: a GeoJSON FeatureCollection of Points (properties as in
    /// `POST /networks/{net}/outlets`) or CSV (`name,lon,lat,site_type,partner_id,format,...`).
    /// Refused whole if any row is invalid or misplaced.
    Outlets {
        /// Database.
        #[command(flatten)]
        db: DbArgs,
        /// Network code.
        #[arg(long)]
        network: String,
        /// Datum of the file's coordinates.
        #[arg(long, value_enum, default_value = "wgs84")]
        coord_sys: CoordSysArg,
        /// `.geojson`/`.json` or `.csv` file.
        file: PathBuf,
    },
}

/// Datum of input coordinates, for the CLI.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CoordSysArg {
    /// WGS84 (GPS).
    Wgs84,
    /// GCJ-02 (Amap).
    Gcj02,
    /// BD-09 (Baidu).
    Bd09,
}

impl From<CoordSysArg> for CoordSys {
    fn from(c: CoordSysArg) -> CoordSys {
        match c {
            CoordSysArg::Wgs84 => CoordSys::Wgs84,
            CoordSysArg::Gcj02 => CoordSys::Gcj02,
            CoordSysArg::Bd09 => CoordSys::Bd09,
        }
    }
}

/// `territory check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Database.
    #[command(flatten)]
    pub db: DbArgs,
    /// Network code.
    #[arg(long)]
    pub network: String,
    /// Datum of the file's coordinates.
    #[arg(long, value_enum, default_value = "wgs84")]
    pub coord_sys: CoordSysArg,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// GeoJSON FeatureCollection: one proposed grant per feature, properties `partner_id`
    /// and optionally `adcodes` (instead of the geometry), `exclusive`, `valid_from`, `valid_to`.
    pub file: PathBuf,
}

fn default_data_dir() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/data")
}

/// Runs a parsed command line; returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Serve(args) => serve(args).await.map(|()| 0),
        Command::Import { what: ImportCommand::Regions { db, file } } => {
            let registry = Registry::open(Store::open(&db.db).await?, GeometryLimits::default()).await?;
            match crate::seed::import_layer(&registry, &file).await {
                Ok(s) => {
                    println!("imported {} regions from {}; {} in the database", s.stored, file.display(), s.total);
                    Ok(0)
                }
                Err(Error::Invalid(errors)) => {
                    eprintln!("refused: {} problem(s) in {}; nothing was imported", errors.len(), file.display());
                    for e in errors {
                        eprintln!("  {e}");
                    }
                    Ok(2)
                }
                Err(e) => Err(e.into()),
            }
        }
        Command::Import { what: ImportCommand::Outlets { db, network, coord_sys, file } } => import_outlets(&db, &network, coord_sys.into(), &file).await,
        Command::Check(args) => check(args).await,
        Command::Compliance(args) => compliance(args).await,
        Command::Export(args) => export(args).await,
        Command::Backup(args) => {
            let store = Store::open(&args.db.db).await?;
            let bytes = store.backup(&args.file).await?;
            println!("backed up {} to {} ({bytes} bytes)", args.db.db.display(), args.file.display());
            Ok(0)
        }
        Command::Token { what } => token(what).await,
        Command::Import { what: ImportCommand::Demand { db, network, file } } => import_demand(&db, &network, &file).await,
        Command::Demand { what: DemandCommand::Synthesize { db, network, population } } => synthesize(&db, &network, population.as_deref()).await,
        Command::Score(args) => score(args).await,
        Command::Plan(args) => plan(args).await,
        Command::Bench { what: BenchCommand::Scoring { db, network, candidates, k, synthesize, dump, seed, repeat } } => {
            let registry = open_registry(&db).await?;
            let b = crate::bench::ScoringBench { network, candidates, k, synthesize, dump, seed, repeat };
            crate::bench::scoring(&registry, &b).await?;
            Ok(0)
        }
    }
}

async fn open_registry(db: &DbArgs) -> anyhow::Result<Registry> {
    Ok(Registry::open(Store::open(&db.db).await?, GeometryLimits::default()).await?)
}

fn read_text(file: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))
}

fn is_csv(file: &std::path::Path) -> bool {
    file.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// Prints located input errors and returns exit code 2; other errors propagate.
fn refused<T>(result: Result<T>, file: &std::path::Path) -> anyhow::Result<Result<T, i32>> {
    match result {
        Ok(v) => Ok(Ok(v)),
        Err(Error::Invalid(errors)) => {
            print_refusal(&errors, file);
            Ok(Err(2))
        }
        Err(e) => Err(e.into()),
    }
}

async fn import_demand(db: &DbArgs, network: &str, file: &std::path::Path) -> anyhow::Result<i32> {
    let registry = open_registry(db).await?;
    let text = read_text(file)?;
    let rows = if is_csv(file) {
        crate::domain::demand::input::from_csv(&text)
    } else {
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => crate::domain::demand::input::from_json(&v),
            Err(e) => Err(vec![InputError::at(format!("line {} column {}", e.line(), e.column()), format!("not JSON: {e}"))]),
        }
    };
    let rows = match refused(rows.map_err(Error::Invalid), file)? {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let info = registry.replace_demand(network, rows, &format!("import of {}", file.display())).await?;
    println!("stored {} cells (resolution {}, total {:.1} units/year) for network {network}", info.cell_count, info.resolution, info.total);
    Ok(0)
}

async fn synthesize(db: &DbArgs, network: &str, population: Option<&std::path::Path>) -> anyhow::Result<i32> {
    let registry = open_registry(db).await?;
    let csv = match population {
        Some(p) => read_text(p)?,
        None => crate::registry::POPULATION_2010.to_string(),
    };
    let bar = crate::seed::progress_bar(0, "districts");
    let progress = bar.clone();
    let (info, report) = registry
        .synthesize_demand(network, &csv, move |done, total| {
            progress.set_length(total as u64);
            progress.set_position(done as u64);
        })
        .await?;
    bar.finish_and_clear();
    for p in &report.provinces {
        println!("province {}: 2010 {:.0} → 2020 {:.0} (× {:.4})", p.adcode, p.population_2010, p.population_2020, p.factor);
    }
    for s in &report.shared {
        println!("district {} shares the 2010 figure of {} by area: {:.0}", s.adcode, s.from, s.population_2010);
    }
    println!(
        "network {network}: {} districts → {} cells at resolution {}, {:.0} units/year (purchase rate {})",
        report.districts, info.cell_count, info.resolution, info.total, report.purchase_rate
    );
    Ok(0)
}

fn candidate_inputs(file: &std::path::Path) -> Result<Vec<crate::domain::scoring::network::CandidateInput>> {
    let text = std::fs::read_to_string(file).map_err(|e| Error::BadRequest(format!("cannot read {}: {e}", file.display())))?;
    if is_csv(file) {
        return Ok(crate::domain::scoring::network::candidates_from_csv(&text)?);
    }
    let value: Value = serde_json::from_str(&text).map_err(|e| Error::invalid(format!("line {} column {}", e.line(), e.column()), format!("not JSON: {e}")))?;
    if value.get("type").and_then(Value::as_str) == Some("FeatureCollection") {
        Ok(crate::domain::scoring::network::candidates_from_geojson(&value)?)
    } else {
        let req: crate::http::scoring::ScoreRequest = crate::input::deserialize_located(&value)?;
        Ok(req.candidates)
    }
}

async fn score(args: ScoreArgs) -> anyhow::Result<i32> {
    let c = &args.candidates;
    let registry = open_registry(&c.db).await?;
    let inputs = match refused(candidate_inputs(&c.file), &c.file)? {
        Ok(i) => i,
        Err(code) => return Ok(code),
    };
    let answer = registry.score(&c.network, c.partner_id, &inputs, c.coord_sys.into()).await;
    let answer = match refused(answer, &c.file)? {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let out = if args.geojson { crate::domain::scoring::network::score_geojson(&answer) } else { serde_json::to_value(&answer)? };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(0)
}

async fn plan(args: PlanArgs) -> anyhow::Result<i32> {
    let c = &args.candidates;
    let registry = open_registry(&c.db).await?;
    let inputs = match refused(candidate_inputs(&c.file), &c.file)? {
        Ok(i) => i,
        Err(code) => return Ok(code),
    };
    let bar = crate::seed::progress_bar(args.k as u64, "plan steps");
    let on_step = bar.clone();
    let options = crate::registry::PlanOptions {
        k: args.k,
        min_gain: args.min_gain,
        within_territory: args.within_territory,
        progress: Some(std::sync::Arc::new(move |done, _| on_step.set_position(done as u64))),
    };
    let answer = registry.plan(&c.network, c.partner_id, &inputs, options, c.coord_sys.into()).await;
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
        println!("step {}: {} as {} gains {:.1} → network total {:.1}", s.step, s.candidate, s.site_type, s.gain, s.network_total);
    }
    for e in &answer.excluded {
        println!("left out (outside the territory): {}", e.id);
    }
    println!("stopped: {:?}", answer.plan.stopped);
    Ok(0)
}

fn print_refusal(errors: &[InputError], file: &std::path::Path) {
    eprintln!("refused: {} problem(s) in {}; nothing was imported", errors.len(), file.display());
    for e in errors {
        eprintln!("  {e}");
    }
}

async fn import_outlets(db: &DbArgs, network: &str, sys: CoordSys, file: &std::path::Path) -> anyhow::Result<i32> {
    let registry = Registry::open(Store::open(&db.db).await?, GeometryLimits::default()).await?;
    let text = std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let is_csv = file.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let rows = if is_csv {
        crate::domain::outlets::rows_from_csv(&text)
    } else {
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => crate::domain::outlets::rows_from_geojson(&v),
            Err(e) => Err(vec![InputError::at(format!("line {} column {}", e.line(), e.column()), format!("not JSON: {e}"))]),
        }
    };
    let rows = match rows {
        Ok(r) => r,
        Err(errors) => {
            print_refusal(&errors, file);
            return Ok(2);
        }
    };
    match registry.import_outlets(network, &rows, sys).await {
        Ok(stored) => {
            println!("imported {} outlets into network {network}", stored.len());
            Ok(0)
        }
        Err(Error::Invalid(errors)) => {
            print_refusal(&errors, file);
            Ok(2)
        }
        Err(Error::Placement { detail, grants }) => {
            eprintln!("refused: {detail}; nothing was imported");
            for g in grants {
                eprintln!("  grant {} of {} (partner {}), exclusive", g.grant_id, g.partner_name, g.partner_id);
            }
            Ok(2)
        }
        Err(e) => Err(e.into()),
    }
}

fn shares(share: &std::collections::BTreeMap<String, f64>) -> String {
    share.iter().map(|(k, v)| format!("{k} {:.0}%", v * 100.0)).collect::<Vec<_>>().join(", ")
}

async fn token(what: TokenCommand) -> anyhow::Result<i32> {
    use crate::domain::access::{Role, hash_token, new_token};
    match what {
        TokenCommand::Create { db, name, role, network, partner_id } => {
            let Some(role) = Role::parse(&role) else {
                eprintln!("error: role `{role}`: expected viewer, planner or admin");
                return Ok(2);
            };
            let store = Store::open(&db.db).await?;
            let secret = new_token()?;
            let info = store.create_token(&name, role, network.as_deref(), partner_id, &hash_token(&secret)).await?;
            eprintln!("token {} `{}`: role {}, network {}, partner {} — shown once, keep it:", info.id, info.name, role, info.network.as_deref().unwrap_or("all"), info.partner_id.map_or("none".to_string(), |p| p.to_string()));
            println!("{secret}");
        }
        TokenCommand::List { db } => {
            let store = Store::open(&db.db).await?;
            for t in store.tokens().await? {
                println!(
                    "{}\t{}\t{}\tnetwork={}\tpartner={}\tcreated={}\t{}",
                    t.id,
                    t.name,
                    t.role.0,
                    t.network.as_deref().unwrap_or("all"),
                    t.partner_id.map_or("-".to_string(), |p| p.to_string()),
                    t.created_at,
                    t.revoked_at.map_or("active".to_string(), |r| format!("revoked {r}"))
                );
            }
        }
        TokenCommand::Revoke { db, id } => {
            let store = Store::open(&db.db).await?;
            let t = store.revoke_token(id).await?;
            eprintln!("token {} `{}` revoked at {}", t.id, t.name, t.revoked_at.unwrap_or_default());
        }
    }
    Ok(0)
}

async fn export(args: ExportArgs) -> anyhow::Result<i32> {
    use crate::http::gis::ExportFormat;
    let Some(collection) = crate::gis::Collection::parse(&args.layer) else {
        eprintln!("error: no layer `{}`: layers are `regions` and `NET.LAYER` (grants, outlets, demand, conflicts, candidates)", args.layer);
        return Ok(2);
    };
    let ext = args.format.clone().or_else(|| args.output.extension().map(|e| e.to_string_lossy().to_lowercase()));
    let Some(format) = ext.as_deref().and_then(ExportFormat::parse) else {
        eprintln!("error: format {:?}: expected geojson or gpkg (--format, or the output's extension)", ext.unwrap_or_default());
        return Ok(2);
    };
    if args.output.exists() {
        eprintln!("error: {} exists already", args.output.display());
        return Ok(2);
    }
    let bbox = match args.bbox.as_deref().map(crate::input::parse_bbox).transpose() {
        Ok(b) => b.map(|[a, b, c, d]| geo::Rect::new((a, b), (c, d))),
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(2);
        }
    };
    let registry = open_registry(&args.db).await?;
    let layer = registry.layer(&collection).await?.layer.clone();
    let positions = layer.matching(bbox.as_ref());
    let bar = indicatif::ProgressBar::new(positions.len() as u64);
    match format {
        ExportFormat::GeoJson => {
            use std::io::Write;
            let mut out = std::io::BufWriter::new(std::fs::File::create_new(&args.output)?);
            let count = positions.len();
            for chunk in crate::gis::geojson::chunks(layer.clone(), positions) {
                out.write_all(chunk.as_bytes())?;
                bar.inc(crate::gis::geojson::CHUNK as u64);
            }
            out.flush()?;
            bar.finish_and_clear();
            eprintln!("wrote {count} feature(s) of {} to {}", layer.id, args.output.display());
        }
        ExportFormat::GeoPackage => {
            let count = positions.len();
            crate::gis::gpkg::write(&layer, &positions, &args.output, |n| {
                if n % 1000 == 0 {
                    bar.set_position(n as u64);
                }
            })
            .await?;
            bar.finish_and_clear();
            eprintln!("wrote {count} feature(s) of {} to {} (layer `{}`)", layer.id, args.output.display(), crate::gis::gpkg::table_name(&layer));
        }
    }
    Ok(0)
}

async fn compliance(args: ComplianceArgs) -> anyhow::Result<i32> {
    let registry = Registry::open(Store::open(&args.db.db).await?, GeometryLimits::default()).await?;
    let report = registry.compliance(&args.network, args.partner_id).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for b in &report.breaches {
            let what = match (b.outlet_id, b.grant_id) {
                (Some(id), _) => format!("outlet {id} `{}`", b.outlet_name.as_deref().unwrap_or("")),
                (None, Some(id)) => format!("grant {id}"),
                _ => String::new(),
            };
            println!("BREACH {:?} {what} ({}): {}; found {} required {}", b.rule, b.partner_name.as_deref().unwrap_or(""), b.detail, b.found, b.required);
        }
        for p in &report.partners {
            println!("partner {} {} ({}): {} open outlet(s), {} breach(es); {}", p.partner_id, p.partner_name, p.tier, p.mix.outlets, p.breaches, shares(&p.mix.site_type_share));
        }
        for y in &report.mix.mix_by_year {
            println!("network mix at the end of {}: {} open outlet(s): {}", y.year, y.outlets, shares(&y.share));
        }
        println!("network {} against standard {} on {}: {} breach(es)", report.network, report.standard, report.checked_on, report.breaches.len());
    }
    Ok(if report.compliant { 0 } else { 1 })
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let store = Store::open(&args.db.db).await?;
    if !store.any_active_token().await? {
        if args.listen.ip().is_loopback() {
            tracing::warn!("no access token exists: the service runs OPEN to anyone on this machine (create one with `territory token create --role admin --name NAME`)");
            eprintln!("warning: no access token exists; the service runs open on loopback");
        } else {
            anyhow::bail!(
                "refusing to listen on {} without an access token: create one first with `territory token create --role admin --name NAME --db {}`",
                args.listen,
                args.db.db.display()
            );
        }
    }
    let limits = GeometryLimits { max_vertices: args.max_vertices };
    let registry = Registry::open(store, limits).await?;
    if !args.no_seed {
        crate::seed::seed(&registry, &args.data, !args.no_seed_demand).await?;
    }
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, db = %args.db.db.display(), "territory listening");
    println!("listening on http://{addr}");
    let options = http::ServeOptions {
        map: http::web::MapConfig { basemap: args.basemap.clone() },
        auth: http::auth::AuthConfig { loopback: args.listen.ip().is_loopback() },
    };
    let limits = HttpLimits {
        max_body_bytes: args.max_body_bytes,
        request_timeout: std::time::Duration::from_secs_f64(args.request_timeout_secs),
        max_concurrent: args.max_concurrent,
        max_import_features: args.max_import_features,
    };
    let app = http::router_with(Arc::new(registry), limits, options);
    http::serve(listener, app, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

/// One proposed grant of a check file, validated.
struct Candidate {
    label: String,
    grant: Grant,
}

fn feature_request(feature: &Value, i: usize) -> Result<GrantRequest, Vec<InputError>> {
    let props = feature.get("properties").cloned().unwrap_or(json!({}));
    let mut body = json!({});
    for key in ["partner_id", "adcodes", "exclusive", "valid_from", "valid_to", "note"] {
        if let Some(v) = props.get(key).filter(|v| !v.is_null()) {
            body[key] = v.clone();
        }
    }
    if body.get("adcodes").is_none() {
        body["geometry"] = feature.get("geometry").cloned().unwrap_or(Value::Null);
    }
    serde_json::from_value(body).map_err(|e| vec![InputError::at(format!("/features/{i}/properties"), e.to_string())])
}

async fn check(args: CheckArgs) -> anyhow::Result<i32> {
    let registry = Registry::open(Store::open(&args.db.db).await?, GeometryLimits::default()).await?;
    let (_, policy) = registry.network(&args.network).await?;
    let collection = crate::seed::read_json(&args.file)?;
    let features = collection.get("features").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut candidates = Vec::new();
    let mut errors = Vec::new();
    for (i, feature) in features.iter().enumerate() {
        let req = match feature_request(feature, i) {
            Ok(r) => r,
            Err(e) => {
                errors.extend(e);
                continue;
            }
        };
        match registry.propose(&args.network, &req, args.coord_sys.into()).await {
            Ok((p, _)) => {
                let label = feature.get("id").map(|v| format!("feature {i} (id {v})")).unwrap_or(format!("feature {i}"));
                let mut grant = p.clone().into_grant(-(i as i64) - 1, String::new());
                grant.partner_name = format!("partner {} ({label})", p.partner_id);
                candidates.push((Candidate { label, grant }, p));
            }
            Err(Error::Invalid(e)) => {
                errors.extend(e.into_iter().map(|x| InputError::at(format!("/features/{i}{}", x.pointer), x.detail)))
            }
            Err(e) => return Err(e.into()),
        }
    }
    if features.is_empty() {
        errors.push(InputError::at("/features", "no features to check"));
    }
    if !errors.is_empty() {
        eprintln!("invalid input in {}:", args.file.display());
        for e in errors {
            eprintln!("  {e}");
        }
        return Ok(2);
    }
    let regions = registry.regions();
    let mut report = Vec::new();
    let mut total = 0;
    for (i, (cand, proposal)) in candidates.iter().enumerate() {
        let mut decision: Decision = registry.check(proposal, policy).await?;
        for (other, _) in candidates.iter().skip(i + 1) {
            let (a, b) = (&cand.grant, &other.grant);
            if crate::domain::exclusivity::rule_applies((a.partner_id, a.exclusive, &a.validity), (b.partner_id, b.exclusive, &b.validity)) {
                compare(&proposal.territory, b, &regions, policy.sliver_tolerance, &mut decision);
            }
        }
        total += decision.conflicts.len();
        if !args.json {
            for c in &decision.conflicts {
                let with = if c.grant_id < 0 { c.partner_name.clone() } else { format!("grant {} of {} (partner {})", c.grant_id, c.partner_name, c.partner_id) };
                println!("CONFLICT {}: overlaps {with}: {:.3} km², {:.1}% of the smaller ({:?})", cand.label, c.overlap_km2, c.overlap_ratio * 100.0, c.basis);
            }
            for w in &decision.warnings {
                println!("warning  {}: sliver of {:.4} km² with grant {} of {}", cand.label, w.overlap_km2, w.grant_id, w.partner_name);
            }
        }
        report.push(json!({"feature": i, "label": cand.label, "ok": decision.ok(), "conflicts": decision.conflicts, "warnings": decision.warnings}));
    }
    if args.json {
        println!("{}", json!({"conflicts": total, "features": report}));
    } else {
        println!("{} feature(s) checked against network {}: {total} conflict(s)", candidates.len(), args.network);
    }
    Ok(if total > 0 { 1 } else { 0 })
}
