//! `territory check FILE`: proposed grants checked against the stored ones and each
//! other, for contract systems; exit status 1 on any conflict, 0 if none, 2 if invalid.

use super::{CoordSysArg, DbArgs};
use crate::app::ledger::{BatchItem, GrantRequest};
use crate::app::seed::read_json;
use crate::domain::access::Caller;
use crate::domain::grants::Seen;
use crate::error::Error;
use crate::input::InputError;
use clap::Args;
use serde_json::{Value, json};
use std::path::PathBuf;

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

/// The grant request of one feature: its properties, and its geometry unless it names
/// adcodes. A wrong shape is located under the feature's properties.
fn feature_request(feature: &Value, i: usize) -> Result<GrantRequest, InputError> {
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
    crate::input::deserialize_located(&body).map_err(|e| {
        let base = if e.pointer.starts_with("/geometry") { format!("/features/{i}") } else { format!("/features/{i}/properties") };
        e.under(&base)
    })
}

/// Checks the file's proposals; prints every conflict.
pub async fn run(args: CheckArgs) -> anyhow::Result<i32> {
    let app = args.db.open().await?;
    let collection = read_json(&args.file)?;
    let features = collection.get("features").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut items = Vec::new();
    let mut errors = Vec::new();
    for (i, feature) in features.iter().enumerate() {
        match feature_request(feature, i) {
            Ok(request) => {
                let label = feature.get("id").map(|v| format!("feature {i} (id {v})")).unwrap_or(format!("feature {i}"));
                items.push(BatchItem { label, base: format!("/features/{i}"), request });
            }
            Err(e) => errors.push(e),
        }
    }
    let answers = match errors.is_empty() {
        true => app.ledger.check_batch(&Caller::cli(), &args.network, &items, args.coord_sys.into()).await,
        false => Err(Error::Invalid(errors)),
    };
    let answers = match answers {
        Ok(a) => a,
        Err(Error::Invalid(errors)) => {
            eprintln!("invalid input in {}:", args.file.display());
            for e in errors {
                eprintln!("  {e}");
            }
            return Ok(2);
        }
        Err(e) => return Err(e.into()),
    };
    let total: usize = answers.iter().map(|a| a.conflicts.len()).sum();
    let duplicates: usize = answers.iter().map(|a| a.duplicates.len()).sum();
    if args.json {
        println!("{}", json!({"conflicts": total, "duplicates": duplicates, "features": answers}));
    } else {
        for a in &answers {
            for c in &a.conflicts {
                let Seen::Whole(c) = c else { continue };
                let with =
                    if c.grant_id < 0 { c.partner_name.clone() } else { format!("grant {} of {} (partner {})", c.grant_id, c.partner_name, c.partner_id) };
                println!("CONFLICT {}: overlaps {with}: {:.3} km², {:.1}% of the smaller ({:?})", a.label, c.overlap_km2, c.overlap_ratio * 100.0, c.basis);
            }
            for d in &a.duplicates {
                let Seen::Whole(d) = d else { continue };
                println!("DUPLICATE {}: partner {} already holds it by grant {}: {:.3} km²", a.label, d.partner_id, d.grant_id, d.overlap_km2);
            }
            for w in &a.warnings {
                let Seen::Whole(w) = w else { continue };
                println!("warning  {}: sliver of {:.4} km² with grant {} of {}", a.label, w.overlap_km2, w.grant_id, w.partner_name);
            }
        }
        println!("{} feature(s) checked against network {}: {total} conflict(s), {duplicates} duplicate(s)", answers.len(), args.network);
    }
    Ok(if total + duplicates > 0 { 1 } else { 0 })
}
