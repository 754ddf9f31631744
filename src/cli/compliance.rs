//! `territory compliance`: the network against its format standard; exit status 1 if any
//! breach.

use super::DbArgs;
use crate::domain::access::Caller;
use clap::Args;

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
    /// The day to check, ISO (today or later; default today).
    #[arg(long)]
    pub on: Option<chrono::NaiveDate>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

fn shares(share: &std::collections::BTreeMap<String, f64>) -> String {
    share.iter().map(|(k, v)| format!("{k} {:.0}%", v * 100.0)).collect::<Vec<_>>().join(", ")
}

/// Prints every breach and a summary per partner.
pub async fn run(args: ComplianceArgs) -> anyhow::Result<i32> {
    let app = args.db.open().await?;
    let report = app.compliance.report(&Caller::cli(), &args.network, args.partner_id, args.on).await?;
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
        for g in &report.data_gaps {
            let outlet = format!("outlet {} `{}`", g.outlet_id.unwrap_or_default(), g.outlet_name.as_deref().unwrap_or(""));
            println!("GAP {:?} {outlet} ({}): {}", g.rule, g.partner_name.as_deref().unwrap_or(""), g.detail);
        }
        for p in &report.partners {
            println!(
                "partner {} {} ({}): {} open outlet(s), {} breach(es); {}",
                p.partner_id,
                p.partner_name,
                p.tier,
                p.mix.outlets,
                p.breaches,
                shares(&p.mix.site_type_share)
            );
        }
        for y in &report.mix.mix_by_year {
            println!("network mix at the end of {}: {} open outlet(s): {}", y.year, y.outlets, shares(&y.share));
        }
        let (breaches, gaps) = (report.breaches.len(), report.data_gaps.len());
        println!("network {} against standard {} on {}: {breaches} breach(es), {gaps} data gap(s)", report.network, report.standard, report.checked_on);
    }
    Ok(if report.compliant { 0 } else { 1 })
}
