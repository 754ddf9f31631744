//! Networks and partners tables.

use super::{Store, now};
use crate::domain::network::{Network, Partner};
use crate::error::{Error, Result};

fn unique_violation(e: sqlx::Error, what: String) -> Error {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => Error::Duplicate(what),
        _ => Error::Database(e),
    }
}

impl Store {
    /// Creates a network; 409 if the code is taken.
    pub async fn create_network(&self, code: &str, name: &str, policy: &str) -> Result<Network> {
        sqlx::query_as("insert into networks (code, name, policy, created_at) values (?, ?, ?, ?) returning *")
            .bind(code)
            .bind(name)
            .bind(policy)
            .bind(now())
            .fetch_one(&self.pool)
            .await
            .map_err(|e| unique_violation(e, format!("network `{code}` exists already")))
    }

    /// Every network.
    pub async fn networks(&self) -> Result<Vec<Network>> {
        Ok(sqlx::query_as("select * from networks order by code").fetch_all(&self.pool).await?)
    }

    /// One network, or 404.
    pub async fn network(&self, code: &str) -> Result<Network> {
        sqlx::query_as("select * from networks where code = ?")
            .bind(code)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no network `{code}`")))
    }

    /// Creates a partner; 409 if the name is taken in the network.
    pub async fn create_partner(&self, network: &str, name: &str, tier: &str) -> Result<Partner> {
        sqlx::query_as("insert into partners (network, name, tier, created_at) values (?, ?, ?, ?) returning *")
            .bind(network)
            .bind(name)
            .bind(tier)
            .bind(now())
            .fetch_one(&self.pool)
            .await
            .map_err(|e| unique_violation(e, format!("partner `{name}` exists already in network `{network}`")))
    }

    /// Partners of a network.
    pub async fn partners(&self, network: &str) -> Result<Vec<Partner>> {
        Ok(sqlx::query_as("select * from partners where network = ? order by id").bind(network).fetch_all(&self.pool).await?)
    }

    /// One partner of a network, or `None`.
    pub async fn partner(&self, network: &str, id: i64) -> Result<Option<Partner>> {
        Ok(sqlx::query_as("select * from partners where network = ? and id = ?").bind(network).bind(id).fetch_optional(&self.pool).await?)
    }
}
