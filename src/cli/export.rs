//! `territory export LAYER -o FILE`: a layer as GeoJSON or GeoPackage, for QGIS.

use super::DbArgs;
use crate::domain::access::Caller;
use crate::gis::{Collection, ExportFormat};
use crate::input::parse_bbox;
use clap::Args;
use std::path::PathBuf;

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
    /// The network on this day (YYYY-MM-DD, past or future): grants in force, outlets open.
    #[arg(long)]
    pub on: Option<chrono::NaiveDate>,
}

/// Writes the layer's features (those meeting the box, or all) to the file.
pub async fn run(args: ExportArgs) -> anyhow::Result<i32> {
    let Some(collection) = Collection::parse(&args.layer) else {
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
    let bbox = match args.bbox.as_deref().map(parse_bbox).transpose() {
        Ok(b) => b.map(|[a, b, c, d]| geo::Rect::new((a, b), (c, d))),
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(2);
        }
    };
    let app = args.db.open().await?;
    let layer = app.gis.layer_during(&Caller::cli(), &collection, args.on.map(crate::domain::period::Period::day)).await?.layer.clone();
    let positions = layer.matching(bbox.as_ref());
    let bar = indicatif::ProgressBar::new(positions.len() as u64);
    let count = positions.len();
    match format {
        ExportFormat::GeoJson => {
            use std::io::Write;
            let mut out = std::io::BufWriter::new(std::fs::File::create_new(&args.output)?);
            for chunk in crate::gis::geojson::chunks(layer.clone(), positions) {
                out.write_all(chunk.as_bytes())?;
                bar.inc(crate::gis::geojson::CHUNK as u64);
            }
            out.flush()?;
            bar.finish_and_clear();
            eprintln!("wrote {count} feature(s) of {} to {}", layer.id, args.output.display());
        }
        ExportFormat::GeoPackage => {
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
