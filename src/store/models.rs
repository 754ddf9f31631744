//! Versions of a network's scoring model: each fit kept with its report, and which
//! version is in force (0, or none: the policy's own parameters).

use super::{Store, WriteTx, now};
use crate::error::Result;
use sqlx::FromRow;

/// A stored version.
#[derive(Debug, Clone, FromRow)]
pub struct ModelRow {
    /// Rises by one with each fit of the network.
    pub version: i64,
    /// The scoring parameters (JSON).
    pub parameters: String,
    /// The fit's report (JSON).
    pub report: String,
    /// When it was fitted (RFC 3339).
    pub created_at: String,
}

/// Stores a fit as the network's next version and puts it in force; its version.
pub async fn insert(tx: &mut WriteTx, network: &str, parameters: &str, report: &str) -> Result<i64> {
    let version: i64 = sqlx::query_scalar("select coalesce(max(version), 0) + 1 from models where network = ?").bind(network).fetch_one(&mut **tx).await?;
    sqlx::query("insert into models (network, version, parameters, report, created_at) values (?, ?, ?, ?, ?)")
        .bind(network)
        .bind(version)
        .bind(parameters)
        .bind(report)
        .bind(now())
        .execute(&mut **tx)
        .await?;
    set_current(tx, network, version).await?;
    Ok(version)
}

/// Puts `version` (0: the policy's) in force.
pub async fn set_current(tx: &mut WriteTx, network: &str, version: i64) -> Result<()> {
    sqlx::query("insert into model_current (network, version) values (?, ?) on conflict (network) do update set version = excluded.version")
        .bind(network)
        .bind(version)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// The version in force (0: the policy's).
    pub async fn current_model(&self, network: &str) -> Result<i64> {
        Ok(sqlx::query_scalar("select version from model_current where network = ?").bind(network).fetch_optional(&self.pool).await?.unwrap_or(0))
    }

    /// One stored version.
    pub async fn model(&self, network: &str, version: i64) -> Result<Option<ModelRow>> {
        Ok(sqlx::query_as("select version, parameters, report, created_at from models where network = ? and version = ?")
            .bind(network)
            .bind(version)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Every stored version, oldest first.
    pub async fn models(&self, network: &str) -> Result<Vec<ModelRow>> {
        Ok(sqlx::query_as("select version, parameters, report, created_at from models where network = ? order by version")
            .bind(network)
            .fetch_all(&self.pool)
            .await?)
    }
}
