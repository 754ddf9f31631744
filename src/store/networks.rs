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

    /// Creates a partner; 409 if the name or the external id is taken in the network.
    pub async fn create_partner(&self, network: &str, r: &crate::domain::network::PartnerRecord, tier: &str) -> Result<Partner> {
        sqlx::query_as(
            "insert into partners (network, name, tier, created_at, contact_name, contact_email, contact_phone, external_id)
             values (?, ?, ?, ?, ?, ?, ?, ?) returning *",
        )
        .bind(network)
        .bind(&r.name)
        .bind(tier)
        .bind(now())
        .bind(&r.contact_name)
        .bind(&r.contact_email)
        .bind(&r.contact_phone)
        .bind(&r.external_id)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| unique_violation(e, format!("partner `{}` (or its external_id) exists already in network `{network}`", r.name)))
        .inspect(|_| self.partners_changed())
    }

    /// Partners of a network.
    pub async fn partners(&self, network: &str) -> Result<Vec<Partner>> {
        Ok(sqlx::query_as("select * from partners where network = ? order by id").bind(network).fetch_all(&self.pool).await?)
    }

    /// One partner of a network, or `None`. Asked once per change seen in the database
    /// (see [`super::changes`]), then answered from memory: a change by this process counts
    /// at once ([`Store::partners_changed`]), one by another process within
    /// [`super::changes::SEEN_WITHIN`].
    pub async fn partner(&self, network: &str, id: i64) -> Result<Option<Partner>> {
        let generation = self.changes.generation();
        let key = (network.to_string(), id);
        if let Some(kept) = self.partner_memo().get(generation, &key) {
            return Ok(kept);
        }
        let found: Option<Partner> =
            sqlx::query_as("select * from partners where network = ? and id = ?").bind(network).bind(id).fetch_optional(&self.pool).await?;
        self.partner_memo().put(generation, key, found.clone());
        Ok(found)
    }

    /// Forgets the partners kept in memory: this process has just committed a change to one.
    pub fn partners_changed(&self) {
        self.changes.bump();
    }

    fn partner_memo(&self) -> std::sync::MutexGuard<'_, super::PartnerMemo> {
        self.partners.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One partner of a network read on this connection (inside a write transaction: as it
/// stands under the write lock), or 404.
pub async fn partner_in(conn: &mut sqlx::SqliteConnection, network: &str, id: i64) -> Result<Partner> {
    sqlx::query_as("select * from partners where network = ? and id = ?")
        .bind(network)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no partner {id} in network `{network}`")))
}

/// Writes a partner's record (name, contacts, key, status); 409 if the name or the key is
/// another partner's. A new name is read by every instance's grant index: the partner's
/// grants move to a new `grants_seq`.
pub async fn update_partner(tx: &mut super::WriteTx, p: &Partner, renamed: bool) -> Result<Partner> {
    let updated: Partner = sqlx::query_as(
        "update partners set name = ?, contact_name = ?, contact_email = ?, contact_phone = ?, external_id = ?, status = ?,
           terminated_on = ?, updated_at = ? where id = ? returning *",
    )
    .bind(&p.name)
    .bind(&p.contact_name)
    .bind(&p.contact_email)
    .bind(&p.contact_phone)
    .bind(&p.external_id)
    .bind(p.status)
    .bind(&p.terminated_on)
    .bind(now())
    .bind(p.id)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, format!("another partner of network `{}` has this name or external_id", p.network)))?;
    if renamed {
        let seq: i64 = sqlx::query_scalar("update state set value = value + 1 where key = 'grants_seq' returning value").fetch_one(&mut **tx).await?;
        sqlx::query("update grants set seq = ? where partner_id = ?").bind(seq).bind(p.id).execute(&mut **tx).await?;
    }
    Ok(updated)
}
