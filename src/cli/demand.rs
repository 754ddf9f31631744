//! `territory demand synthesize`: a network's grid from district population.

use super::{DbArgs, progress_bar, read_text};
use crate::app::demand::POPULATION_2010;
use crate::domain::access::Caller;
use clap::Subcommand;
use std::path::PathBuf;

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

/// Synthesises and stores the grid; prints what it did.
pub async fn run(what: DemandCommand) -> anyhow::Result<i32> {
    let DemandCommand::Synthesize { db, network, population } = what;
    let app = db.open().await?;
    let csv = match &population {
        Some(p) => read_text(p)?,
        None => POPULATION_2010.to_string(),
    };
    let bar = progress_bar(0, "districts");
    let progress = bar.clone();
    let (info, report) = app
        .demand
        .synthesize(&Caller::cli(), &network, &csv, move |done, total| {
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
