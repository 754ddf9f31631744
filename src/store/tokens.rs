//! Tokens table (hashes only).

use super::{Store, now};
use crate::domain::access::{Role, TokenInfo};
use crate::error::{Error, Result};

const COLUMNS: &str = "id, name, role, network, partner_id, created_at, revoked_at";

impl Store {
    /// Stores a new token's hash; the partner, if any, must belong to the network.
    pub async fn create_token(&self, name: &str, role: Role, network: Option<&str>, partner_id: Option<i64>, hash: &str) -> Result<TokenInfo> {
        let network = match (network, partner_id) {
            (_, Some(p)) => {
                let owner: Option<String> = sqlx::query_scalar("SELECT network FROM partners WHERE id = ?").bind(p).fetch_optional(&self.pool).await?;
                let owner = owner.ok_or_else(|| Error::invalid("/partner_id", format!("no partner {p}")))?;
                if network.is_some_and(|n| n != owner) {
                    return Err(Error::invalid("/network", format!("partner {p} belongs to network `{owner}`")));
                }
                Some(owner)
            }
            (Some(n), None) => {
                self.network(n).await?;
                Some(n.to_string())
            }
            (None, None) => None,
        };
        let id: i64 = sqlx::query_scalar("INSERT INTO tokens (name, role, network, partner_id, hash, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id")
            .bind(name)
            .bind(role.as_str())
            .bind(&network)
            .bind(partner_id)
            .bind(hash)
            .bind(now())
            .fetch_one(&self.pool)
            .await?;
        self.changes.bump();
        self.token(id).await
    }

    /// One token by id.
    pub async fn token(&self, id: i64) -> Result<TokenInfo> {
        let sql = format!("SELECT {COLUMNS} FROM tokens WHERE id = ?");
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&self.pool).await?.ok_or_else(|| Error::NotFound(format!("no token {id}")))
    }

    /// Every token, revoked ones included.
    pub async fn tokens(&self) -> Result<Vec<TokenInfo>> {
        let sql = format!("SELECT {COLUMNS} FROM tokens ORDER BY id");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?)
    }

    /// The active token with this hash. Asked once per change seen in the database (see
    /// [`super::changes`]), then answered from memory: a revocation by this process counts
    /// at once, one by another process within [`super::changes::SEEN_WITHIN`].
    pub async fn active_token(&self, hash: &str) -> Result<Option<TokenInfo>> {
        let generation = self.changes.generation();
        if let Some(kept) = self.token_memo().by_hash.get(generation, hash) {
            return Ok(kept);
        }
        let sql = format!("SELECT {COLUMNS} FROM tokens WHERE hash = ? AND revoked_at IS NULL");
        let found: Option<TokenInfo> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(hash).fetch_optional(&self.pool).await?;
        self.token_memo().by_hash.put(generation, hash.to_string(), found.clone());
        Ok(found)
    }

    /// Whether any token was ever made, revoked ones included (then the service never runs
    /// open); kept like [`Store::active_token`].
    pub async fn any_token(&self) -> Result<bool> {
        let generation = self.changes.generation();
        if let Some(kept) = self.token_memo().any_token.get(generation, &()) {
            return Ok(kept);
        }
        let any = sqlx::query_scalar::<_, i64>("SELECT EXISTS (SELECT 1 FROM tokens)").fetch_one(&self.pool).await? == 1;
        self.token_memo().any_token.put(generation, (), any);
        Ok(any)
    }

    fn token_memo(&self) -> std::sync::MutexGuard<'_, super::TokenMemo> {
        self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Revokes a token at once.
    pub async fn revoke_token(&self, id: i64) -> Result<TokenInfo> {
        let done = sqlx::query("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").bind(now()).bind(id).execute(&self.pool).await?;
        self.changes.bump();
        if done.rows_affected() == 0 {
            self.token(id).await?;
            return Err(Error::Duplicate(format!("token {id} is revoked already")));
        }
        self.token(id).await
    }
}
