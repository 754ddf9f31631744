//! The command line: one file per command, each reading its input, calling the
//! application as the CLI caller (admin, actor `cli`), and printing the answer.

mod backup;
pub mod bench;
mod check;
mod compliance;
mod demand;
mod export;
mod import;
mod model;
mod score;
mod serve;
mod token;

use crate::app::App;
use crate::error::{Error, Result};
use crate::geometry::{CoordSys, GeometryLimits};
use crate::input::InputError;
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};

pub use serve::shutdown_signal;

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

impl DbArgs {
    /// The application on this database.
    async fn open(&self) -> Result<App> {
        App::open(&self.db, GeometryLimits::default()).await
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (loads the sample data into an empty database).
    Serve(serve::ServeArgs),
    /// Import data.
    Import {
        /// What to import.
        #[command(subcommand)]
        what: import::ImportCommand,
    },
    /// Check proposed grants (a GeoJSON FeatureCollection) against the stored grants and
    /// each other; prints every conflict; exit status 1 if any, 0 if none, 2 if invalid.
    Check(check::CheckArgs),
    /// Check a network against its format standard; prints every breach and a summary
    /// per partner; exit status 1 if any breach, 0 if none.
    Compliance(compliance::ComplianceArgs),
    /// Demand grids.
    Demand {
        /// What to do.
        #[command(subcommand)]
        what: demand::DemandCommand,
    },
    /// Score candidate sites (JSON `{candidates}`, GeoJSON Points or CSV `id,lon,lat,site_type,format`)
    /// against the network's outlets; prints JSON (or GeoJSON with `--geojson`).
    Score(score::ScoreArgs),
    /// Choose up to k of the candidates greedily; prints each step.
    Plan(score::PlanArgs),
    /// Fit the scoring model to the network's observed sales (`import sales`) and put the
    /// fit in force as a new version.
    Calibrate(model::CalibrateArgs),
    /// The scoring model in force, its versions (`--history`), or a rollback.
    Model(model::ModelArgs),
    /// Access tokens: create (shown once), list, revoke.
    Token {
        /// What to do.
        #[command(subcommand)]
        what: token::TokenCommand,
    },
    /// Export a layer (`regions` or `NET.LAYER`, e.g. `smart.grants`) as GeoJSON or
    /// GeoPackage, for QGIS.
    Export(export::ExportArgs),
    /// Write an online, consistent copy of the database to a new file (`VACUUM INTO`),
    /// safe while the service and other commands use it.
    Backup(backup::BackupArgs),
    /// Measure performance on a database; prints `key=value` figures (BENCHMARKS.md).
    Bench {
        /// What to measure.
        #[command(subcommand)]
        what: bench::BenchCommand,
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

/// Runs a parsed command line; returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await.map(|()| 0),
        Command::Import { what } => import::run(what).await,
        Command::Check(args) => check::run(args).await,
        Command::Compliance(args) => compliance::run(args).await,
        Command::Demand { what } => demand::run(what).await,
        Command::Score(args) => score::score(args).await,
        Command::Plan(args) => score::plan(args).await,
        Command::Calibrate(args) => model::calibrate(args).await,
        Command::Model(args) => model::model(args).await,
        Command::Token { what } => token::run(what).await,
        Command::Export(args) => export::run(args).await,
        Command::Backup(args) => backup::run(args).await,
        Command::Bench { what } => bench::run(what).await,
    }
}

/// A file's text.
fn read_text(file: &Path) -> Result<String> {
    std::fs::read_to_string(file).map_err(|e| Error::BadRequest(format!("cannot read {}: {e}", file.display())))
}

/// Whether a file is CSV by its extension.
fn is_csv(file: &Path) -> bool {
    file.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// Prints located input errors; the exit code of a refusal.
fn print_refusal(errors: &[InputError], file: &Path) -> i32 {
    eprintln!("refused: {} problem(s) in {}; nothing was imported", errors.len(), file.display());
    for e in errors {
        eprintln!("  {e}");
    }
    2
}

/// Prints a refusal for invalid input (exit code 2); other errors propagate.
fn refused<T>(result: Result<T>, file: &Path) -> anyhow::Result<Result<T, i32>> {
    match result {
        Ok(v) => Ok(Ok(v)),
        Err(Error::Invalid(errors)) => Ok(Err(print_refusal(&errors, file))),
        Err(e) => Err(e.into()),
    }
}

/// A progress bar over `len` items (hidden when stderr is not a terminal).
fn progress_bar(len: u64, message: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg:>24} [{bar:40}] {pos}/{len} {elapsed}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message.to_string());
    bar
}
