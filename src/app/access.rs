//! Tokens, and who a request is: a bearer token becomes a [`Caller`] once per request.
//!
//! Token answers are kept in memory until the store sees a commit by any process
//! (`store::changes`): a token made or revoked through this process counts from the next
//! request, one made or revoked by another process within `store::changes::SEEN_WITHIN`.

use crate::domain::access::{Caller, Role, TokenInfo, hash_token, new_token};
use crate::error::{Error, Result};
use crate::store::Store;

/// Tokens and callers.
#[derive(Debug)]
pub struct Access {
    store: Store,
}

/// A token just made: its record and its secret, shown once.
#[derive(Debug)]
pub struct NewToken {
    /// The stored record (no secret).
    pub info: TokenInfo,
    /// The secret (`terr_...`); only its hash is stored.
    pub secret: String,
}

impl Access {
    pub(super) fn new(store: Store) -> Access {
        Access { store }
    }

    /// The caller a request's token makes, or who asks without one: anyone, as admin, when
    /// the service runs `open` (`serve --open`, loopback only) and no token was ever made
    /// (a database that had tokens never runs open, even with all of them revoked);
    /// otherwise 401.
    pub async fn caller(&self, token: Option<&str>, open: bool) -> Result<Caller> {
        match token {
            Some(token) => match self.store.active_token(&hash_token(token)).await? {
                Some(info) => Ok(Caller::token(&info)),
                None => Err(Error::Unauthorized("the token is unknown or revoked".into())),
            },
            None if open && !self.store.any_token().await? => Ok(Caller::open()),
            None => Err(Error::Unauthorized(
                "this service needs a bearer token: `Authorization: Bearer terr_...` (create one with `territory token create`)".into(),
            )),
        }
    }

    /// Whether any token was ever made (then the service never runs open).
    pub async fn any_ever(&self) -> Result<bool> {
        self.store.any_token().await
    }

    /// Makes a token. A partner token (`partner_id`) acts only for its partner and never
    /// governs (grants, revokes, creates partners or networks, replaces demand), whatever
    /// its role: the role caps what it may do for its own partner.
    pub async fn create(&self, name: &str, role: Role, network: Option<&str>, partner_id: Option<i64>) -> Result<NewToken> {
        if name.trim().is_empty() {
            return Err(Error::invalid("/name", "must not be empty"));
        }
        if let Some(e) = crate::input::too_long("/name", name, crate::input::MAX_NAME_CHARS) {
            return Err(Error::Invalid(vec![e]));
        }
        let secret = new_token().map_err(Error::io("drawing a random token"))?;
        let info = self.store.create_token(name, role, network, partner_id, &hash_token(&secret)).await?;
        Ok(NewToken { info, secret })
    }

    /// Every token, revoked ones included (never their secrets).
    pub async fn list(&self) -> Result<Vec<TokenInfo>> {
        self.store.tokens().await
    }

    /// Revokes a token.
    pub async fn revoke(&self, id: i64) -> Result<TokenInfo> {
        self.store.revoke_token(id).await
    }
}
