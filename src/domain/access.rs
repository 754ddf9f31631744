//! Access control: bearer tokens with a role (`viewer` < `planner` < `admin`) and an
//! optional scope (one network, or one partner). Tokens are random, shown once, and
//! stored as SHA-256 hashes. See `http::auth` for how requests are checked.

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;

/// What a token may do; each role includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read everything in scope.
    Viewer,
    /// Read, dry-run checks, scoring, plans, exports.
    Planner,
    /// Everything: networks, partners, grants, revokes, imports, outlets.
    Admin,
}

impl Role {
    /// Parses `viewer`, `planner` or `admin`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "planner" => Some(Role::Planner),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Planner => "planner",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is asking: a token, or anyone (the service runs open on loopback without tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No tokens exist and the service is bound to loopback: everything is allowed.
    Open,
    /// A valid token.
    Token(TokenInfo),
}

/// A stored token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct TokenInfo {
    /// Id.
    pub id: i64,
    /// Label given when created.
    pub name: String,
    /// Role.
    #[sqlx(try_from = "String")]
    pub role: RoleText,
    /// Only this network, if set.
    pub network: Option<String>,
    /// Only this partner, if set.
    pub partner_id: Option<i64>,
    /// When it was created.
    pub created_at: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

/// A role as stored (converted when read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RoleText(pub Role);

impl TryFrom<String> for RoleText {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Role::parse(&s).map(RoleText).ok_or_else(|| format!("unknown role `{s}`"))
    }
}

impl Caller {
    /// The role (admin when open).
    pub fn role(&self) -> Role {
        match self {
            Caller::Open => Role::Admin,
            Caller::Token(t) => t.role.0,
        }
    }

    /// The network the caller is limited to.
    pub fn network(&self) -> Option<&str> {
        match self {
            Caller::Open => None,
            Caller::Token(t) => t.network.as_deref(),
        }
    }

    /// The partner the caller acts for, if it is a partner token.
    pub fn partner(&self) -> Option<i64> {
        match self {
            Caller::Open => None,
            Caller::Token(t) => t.partner_id,
        }
    }

    /// How the audit log names the caller: `token 3 (name)` or `open`.
    pub fn actor(&self) -> String {
        match self {
            Caller::Open => "open".to_string(),
            Caller::Token(t) => format!("token {} ({})", t.id, t.name),
        }
    }
}

/// Prefix of every token (easy to spot in logs and secret scanners).
pub const TOKEN_PREFIX: &str = "terr_";

/// A new random token: the prefix and 32 random bytes in hex.
pub fn new_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(format!("{TOKEN_PREFIX}{}", hex(&bytes)))
}

/// The stored form of a token: SHA-256, hex.
pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

tokio::task_local! {
    /// The caller of the request being handled (read by the audit log).
    pub static ACTOR: String;
}

/// The caller of the current request for the audit log (`cli` outside a request).
pub fn current_actor() -> String {
    ACTOR.try_with(Clone::clone).unwrap_or_else(|_| "cli".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, b) = (new_token().expect("random"), new_token().expect("random"));
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 64);
        assert_eq!(hash_token("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(Role::Viewer < Role::Planner && Role::Planner < Role::Admin);
    }
}
