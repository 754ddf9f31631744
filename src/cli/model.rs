//! `territory calibrate` and `territory model`: the scoring model fitted to the network's
//! sales, and its versions.

use super::DbArgs;
use crate::domain::access::Caller;
use clap::Args;

/// `territory calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Database.
    #[command(flatten)]
    pub db: DbArgs,
    /// Network code.
    #[arg(long)]
    pub network: String,
    /// The year of sales to fit (default: the latest).
    #[arg(long)]
    pub year: Option<i64>,
    /// Print the whole answer as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `territory model`.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Database.
    #[command(flatten)]
    pub db: DbArgs,
    /// Network code.
    #[arg(long)]
    pub network: String,
    /// List every version instead of the one in force.
    #[arg(long)]
    pub history: bool,
    /// Put this version (0: the policy's) back in force.
    #[arg(long)]
    pub rollback: Option<i64>,
}

/// Fits the model and prints what came out.
pub async fn calibrate(args: CalibrateArgs) -> anyhow::Result<i32> {
    let app = args.db.open().await?;
    let c = app.models.calibrate(&Caller::cli(), &args.network, args.year).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&c)?);
        return Ok(0);
    }
    let fit = &c.calibration.fit;
    println!(
        "network {}: model version {} fitted to the sales of {} ({} outlets, {} figures)",
        args.network, c.version, c.year, fit.n_outlets, fit.n_observations
    );
    println!("  r2 {:.4}, mape {:.1}%, holdout mape {}", fit.r2, fit.mape * 100.0, fit.holdout_mape.map_or("-".into(), |m| format!("{:.1}%", m * 100.0)));
    let p = &c.calibration.parameters;
    println!("  u0 {:.4} {}", p.u0, interval(c.calibration.intervals.u0));
    for (code, st) in &p.site_types {
        let i = c.calibration.intervals.site_types.get(code);
        println!(
            "  {code}: beta {:.3} {}, conversion {:.3} {}, visibility {:.3} {}",
            st.beta,
            interval(i.and_then(|i| i.beta)),
            st.conversion,
            interval(i.and_then(|i| i.conversion)),
            st.visibility,
            interval(i.and_then(|i| i.visibility)),
        );
    }
    if !c.calibration.unidentified.is_empty() {
        println!("  unidentified (kept as they were): {}", c.calibration.unidentified.join(", "));
    }
    Ok(0)
}

fn interval(i: Option<[f64; 2]>) -> String {
    i.map_or("(fixed)".to_string(), |[a, b]| format!("[{a:.3}, {b:.3}]"))
}

/// Prints the version in force, every version, or rolls back.
pub async fn model(args: ModelArgs) -> anyhow::Result<i32> {
    let app = args.db.open().await?;
    let cli = Caller::cli();
    let out = match (args.rollback, args.history) {
        (Some(v), _) => serde_json::to_value(app.models.rollback(&cli, &args.network, v).await?)?,
        (None, true) => serde_json::to_value(app.models.history(&cli, &args.network).await?)?,
        (None, false) => serde_json::to_value(app.models.current(&cli, &args.network).await?)?,
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(0)
}
