//! `territory import regions | demand | outlets`: all or nothing, every bad feature or
//! line named.

use super::{CoordSysArg, DbArgs, is_csv, print_refusal, progress_bar, read_text, refused};
use crate::app::demand::Upload;
use crate::app::sales::SalesUpload;
use crate::app::seed::read_json;
use crate::domain::access::Caller;
use crate::domain::grants::Seen;
use crate::domain::outlets::{rows_from_csv, rows_from_geojson};
use crate::error::Error;
use crate::input::InputError;
use clap::Subcommand;
use serde_json::Value;
use std::path::PathBuf;

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
    /// A network's demand grid from new-car registrations (上险数): CSV `adcode,year,units`
    /// for districts, cities or provinces, spread over each region's districts by
    /// population. Refused whole if any line is bad.
    Registrations {
        /// Database.
        #[command(flatten)]
        db: DbArgs,
        /// Network code.
        #[arg(long)]
        network: String,
        /// The year to use (default: the latest in the file).
        #[arg(long)]
        year: Option<i32>,
        /// The brand's share of the figures (default 1: they are the brand's own, or its
        /// segment's share is applied already).
        #[arg(long)]
        share: Option<f64>,
        /// The CSV file.
        file: PathBuf,
    },
    /// Observed sales of a network's own outlets: CSV `outlet_id,year,units[,district]`
    /// (`external_id` may stand for `outlet_id`) or JSON `{"rows": [...]}`. Replaces the
    /// sales of every year the file names; refused whole if any line is bad.
    Sales {
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

/// JSON text, or the located reason it is not.
fn json_text(text: &str) -> Result<Value, Vec<InputError>> {
    serde_json::from_str(text).map_err(|e| vec![InputError::at(format!("line {} column {}", e.line(), e.column()), format!("not JSON: {e}"))])
}

/// Runs an import.
pub async fn run(what: ImportCommand) -> anyhow::Result<i32> {
    let cli = Caller::cli();
    match what {
        ImportCommand::Regions { db, file } => {
            let app = db.open().await?;
            let collection = read_json(&file)?;
            let n = collection.get("features").and_then(Value::as_array).map_or(0, Vec::len);
            let bar = progress_bar(n as u64, &file.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default());
            let summary = app.catalog.import_regions(&cli, &collection, |i| bar.set_position(i as u64 + 1)).await;
            bar.finish();
            match refused(summary, &file)? {
                Ok(s) => {
                    println!("imported {} regions from {}; {} in the database", s.stored, file.display(), s.total);
                    Ok(0)
                }
                Err(code) => Ok(code),
            }
        }
        ImportCommand::Demand { db, network, file } => {
            let app = db.open().await?;
            let input = Box::new(std::fs::File::open(&file).map_err(Error::io(format!("reading {}", file.display())))?);
            let upload = if is_csv(&file) { Upload::Csv(input) } else { Upload::Json(input) };
            let info = app.demand.upload(&cli, &network, upload, usize::MAX, &format!("import of {}", file.display())).await;
            match refused(info, &file)? {
                Ok(info) => {
                    println!("stored {} cells (resolution {}, total {:.1} units/year) for network {network}", info.cell_count, info.resolution, info.total);
                    Ok(0)
                }
                Err(code) => Ok(code),
            }
        }
        ImportCommand::Registrations { db, network, year, share, file } => {
            let app = db.open().await?;
            let text = read_text(&file)?;
            match refused(app.demand.registrations(&cli, &network, &text, year, share).await, &file)? {
                Ok((info, year)) => {
                    println!("stored {} cells from the registrations of {year} (total {:.1} units/year) for network {network}", info.cell_count, info.total);
                    Ok(0)
                }
                Err(code) => Ok(code),
            }
        }
        ImportCommand::Sales { db, network, file } => {
            let app = db.open().await?;
            let text = read_text(&file)?;
            let upload = if is_csv(&file) { SalesUpload::Csv(&text) } else { SalesUpload::Json(text.as_bytes()) };
            match refused(app.sales.upload(&cli, &network, upload, &format!("import of {}", file.display())).await, &file)? {
                Ok(s) => {
                    println!("stored {} sales figure(s) of {} outlet(s) for {:?} in network {network}", s.rows, s.outlets, s.years);
                    Ok(0)
                }
                Err(code) => Ok(code),
            }
        }
        ImportCommand::Outlets { db, network, coord_sys, file } => {
            let app = db.open().await?;
            let text = read_text(&file)?;
            let rows = if is_csv(&file) { rows_from_csv(&text) } else { json_text(&text).and_then(|v| rows_from_geojson(&v)) };
            let rows = match rows {
                Ok(r) => r,
                Err(errors) => return Ok(print_refusal(&errors, &file)),
            };
            match app.outlets.import(&cli, &network, &rows, coord_sys.into()).await {
                Ok(stored) => {
                    let (all, updated) = (stored.outlets.len(), stored.updated);
                    println!("imported {all} outlets into network {network}: {} new, {updated} updated (by external_id)", all - updated);
                    Ok(0)
                }
                Err(Error::Invalid(errors)) => Ok(print_refusal(&errors, &file)),
                Err(Error::Placement { detail, grants }) => {
                    eprintln!("refused: {detail}; nothing was imported");
                    for g in grants {
                        match g {
                            Seen::Whole(g) => eprintln!("  grant {} of {} (partner {}), exclusive", g.grant_id, g.partner_name, g.partner_id),
                            Seen::Anonymous(_) => eprintln!("  an exclusive grant of another partner"),
                        }
                    }
                    Ok(2)
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}
