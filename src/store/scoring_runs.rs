//! The last scoring run of each network and owner (the `candidates` layer): owner 0 is the
//! network's own planners, a partner id a partner token's runs.

use super::{Store, WriteTx, now};
use crate::domain::scoring::network::ScoreAnswer;
use crate::error::Result;
use sqlx::FromRow;

/// A run's header.
#[derive(Debug, Clone, FromRow)]
pub struct RunInfo {
    /// Rises by one with each run of the network.
    pub run: i64,
    /// The partner the candidates were scored for.
    pub partner_id: Option<i64>,
    /// Sales of the network's own outlets before any candidate.
    pub network_total: f64,
    /// When it ran (RFC 3339).
    pub created_at: String,
}

/// One stored candidate of the last run.
#[derive(Debug, Clone, FromRow)]
pub struct StoredCandidate {
    /// 1-based position in the request.
    pub position: i64,
    /// The id the caller gave.
    pub candidate_id: String,
    /// Longitude, WGS84.
    pub lon: f64,
    /// Latitude, WGS84.
    pub lat: f64,
    /// Best (or given) site type.
    pub site_type: String,
    /// Format asked for.
    pub format: Option<String>,
    /// Format recommended for the partner's tier.
    pub recommended_format: Option<String>,
    /// `S_c`.
    pub expected_sales: f64,
    /// Own outlets' loss.
    pub cannibalised: f64,
    /// `expected_sales − cannibalised`.
    pub net_gain: f64,
    /// Competitors' loss.
    pub competitor_loss: f64,
    /// Demand of the cells reached.
    pub catchment_demand: f64,
    /// Inside the partner's territory (`None` without a partner).
    pub in_territory: Option<bool>,
    /// Whether the partner may open there.
    pub allowed: bool,
    /// Each site type compared, JSON.
    pub by_site_type: Option<String>,
    /// Grants that forbid the site, JSON.
    pub blocking_grants: Option<String>,
}

/// Replaces the last run of the network and `owner` with `answer`, in the caller's transaction.
pub async fn replace(tx: &mut WriteTx, answer: &ScoreAnswer, owner: i64) -> Result<i64> {
    let network = answer.network.as_str();
    let previous: Option<i64> =
        sqlx::query_scalar("SELECT run FROM scoring_runs WHERE network = ? AND owner = ?").bind(network).bind(owner).fetch_optional(&mut **tx).await?;
    let run = previous.unwrap_or(0) + 1;
    sqlx::query("DELETE FROM scored_candidates WHERE network = ? AND owner = ?").bind(network).bind(owner).execute(&mut **tx).await?;
    sqlx::query("INSERT OR REPLACE INTO scoring_runs (network, owner, run, partner_id, network_total, created_at) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(network)
        .bind(owner)
        .bind(run)
        .bind(answer.partner_id)
        .bind(answer.network_total)
        .bind(now())
        .execute(&mut **tx)
        .await?;
    for (n, c) in answer.candidates.iter().enumerate() {
        let s = &c.score;
        let by_site_type = s.by_site_type.as_ref().map(|b| serde_json::to_string(b).unwrap_or_default());
        let blocking = (!c.territory.blocking_grants.is_empty()).then(|| serde_json::to_string(&c.territory.blocking_grants).unwrap_or_default());
        sqlx::query(
            "INSERT INTO scored_candidates (network, owner, position, candidate_id, lon, lat, site_type, format, recommended_format, expected_sales, cannibalised, net_gain, competitor_loss, catchment_demand, in_territory, allowed, by_site_type, blocking_grants)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(network)
        .bind(owner)
        .bind(n as i64 + 1)
        .bind(&s.id)
        .bind(s.location[0])
        .bind(s.location[1])
        .bind(&s.best_site_type)
        .bind(&s.format)
        .bind(&s.best.recommended_format)
        .bind(s.best.evaluation.expected_sales)
        .bind(s.best.evaluation.cannibalised)
        .bind(s.best.evaluation.net_gain)
        .bind(s.best.evaluation.competitor_loss)
        .bind(s.best.evaluation.catchment_demand)
        .bind(c.territory.in_territory)
        .bind(c.territory.allowed)
        .bind(by_site_type)
        .bind(blocking)
        .execute(&mut **tx)
        .await?;
    }
    Ok(run)
}

impl Store {
    /// The header of the last scoring run of the network and `owner`, if any.
    pub async fn last_run(&self, network: &str, owner: i64) -> Result<Option<RunInfo>> {
        Ok(sqlx::query_as("SELECT run, partner_id, network_total, created_at FROM scoring_runs WHERE network = ? AND owner = ?")
            .bind(network)
            .bind(owner)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// The candidates of the last scoring run of the network and `owner`, in request order.
    pub async fn last_candidates(&self, network: &str, owner: i64) -> Result<Vec<StoredCandidate>> {
        Ok(sqlx::query_as(
            "SELECT position, candidate_id, lon, lat, site_type, format, recommended_format, expected_sales, cannibalised, net_gain, competitor_loss, catchment_demand, in_territory, allowed, by_site_type, blocking_grants
             FROM scored_candidates WHERE network = ? AND owner = ? ORDER BY position",
        )
        .bind(network)
        .bind(owner)
        .fetch_all(&self.pool)
        .await?)
    }
}
