//! Who asks, and what each may do and see. A [`Caller`] has a role (`viewer` < `planner` <
//! `admin`) and an optional scope (one network, or one partner of a network); the
//! application layer asks it at every entry ([`Caller::enter`], [`Caller::governs`]) and
//! builds every answer for the [`Viewer`] it returns: a partner sees its own records, and
//! others' grants only as anonymous geometry ([`Seen`]). Tokens are random, shown once,
//! and stored as SHA-256 hashes.

use crate::domain::grants::{AnonymousConflict, AnonymousGrantRef, ConflictEntry, GrantRef, Seen};
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

/// Who asks: a role and a scope, and how the audit log names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// What it may do.
    pub role: Role,
    /// The one network it may reach, if scoped.
    pub network: Option<String>,
    /// The one partner it acts for, if a partner token.
    pub partner: Option<i64>,
    /// How the audit log names it: `token 3 (name)`, `open` or `cli`.
    pub actor: String,
}

/// Why a caller may not do what it asked (403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

/// What a caller may see of a network's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    /// Everything (HQ, planners, the CLI).
    All,
    /// Its own partner's records; others' grants only as anonymous geometry.
    Partner(i64),
}

impl Caller {
    /// Anyone, when the service runs open (`serve --open` on loopback): admin of everything.
    pub fn open() -> Caller {
        Caller { role: Role::Admin, network: None, partner: None, actor: "open".to_string() }
    }

    /// The command line on the machine that holds the database: admin of everything.
    pub fn cli() -> Caller {
        Caller { role: Role::Admin, network: None, partner: None, actor: "cli".to_string() }
    }

    /// The holder of a valid token.
    pub fn token(t: &TokenInfo) -> Caller {
        Caller { role: t.role.0, network: t.network.clone(), partner: t.partner_id, actor: format!("token {} ({})", t.id, t.name) }
    }

    /// Enters `network` to do what needs `role`: refused if the caller's role is lower or
    /// it is limited to another network. Returns what it may see there.
    pub fn enter(&self, network: &str, role: Role) -> Result<Viewer, Denied> {
        self.has(role)?;
        if let Some(scope) = &self.network
            && scope != network
        {
            return Err(Denied(format!("the token is limited to network `{scope}`, not `{network}`")));
        }
        Ok(self.partner.map_or(Viewer::All, Viewer::Partner))
    }

    /// Enters `network` to govern it (grant, revoke, create partners, replace demand):
    /// admins only, and never a partner token, whatever its role.
    pub fn governs(&self, network: &str) -> Result<(), Denied> {
        self.enter(network, Role::Admin)?;
        match self.partner {
            Some(p) => Err(Denied(format!("a partner token (partner {p}) never grants, revokes, creates partners or replaces demand"))),
            None => Ok(()),
        }
    }

    /// Acts beyond any one network (create a network, import regions): admins with no scope.
    pub fn governs_all(&self) -> Result<(), Denied> {
        self.has(Role::Admin)?;
        match (&self.network, self.partner) {
            (_, Some(p)) => Err(Denied(format!("a partner token (partner {p}) never creates networks or imports regions"))),
            (Some(n), None) => Err(Denied(format!("the token is limited to network `{n}`"))),
            (None, None) => Ok(()),
        }
    }

    /// Whether it may reach `network` at all (for lists of networks and collections).
    pub fn reaches(&self, network: &str) -> bool {
        self.network.as_deref().is_none_or(|n| n == network)
    }

    fn has(&self, role: Role) -> Result<(), Denied> {
        if self.role < role {
            return Err(Denied(format!("this needs the `{role}` role; the token is `{}`", self.role)));
        }
        Ok(())
    }
}

impl Viewer {
    /// Whether the records of `partner` are its own to see whole.
    pub fn sees(self, partner: i64) -> bool {
        match self {
            Viewer::All => true,
            Viewer::Partner(p) => p == partner,
        }
    }

    /// Whose scoring runs it keeps and sees: 0 for the network's own planners, the
    /// partner's id for a partner token.
    pub fn owner(self) -> i64 {
        match self {
            Viewer::All => 0,
            Viewer::Partner(p) => p,
        }
    }

    /// Refuses a partner token asking for another partner (or for none, where the route
    /// acts for one). `what` names the request (`a check`, `this outlet`).
    pub fn acts_for(self, partner: Option<i64>, what: &str) -> Result<(), Denied> {
        match (self, partner) {
            (Viewer::All, _) => Ok(()),
            (Viewer::Partner(p), Some(q)) if p == q => Ok(()),
            (Viewer::Partner(p), Some(q)) => Err(Denied(format!("a partner token acts only for partner {p}; {what} is for partner {q}"))),
            (Viewer::Partner(p), None) => Err(Denied(format!("a partner token acts only for partner {p}; {what} names no partner"))),
        }
    }

    /// The partner to act for: the one asked for, or the viewer's own when none is named.
    pub fn partner_or_own(self, asked: Option<i64>) -> Option<i64> {
        match self {
            Viewer::Partner(p) => asked.or(Some(p)),
            Viewer::All => asked,
        }
    }

    /// A conflict as this viewer may see it.
    pub fn conflict(self, e: ConflictEntry) -> Seen<ConflictEntry, AnonymousConflict> {
        if self.sees(e.partner_id) { Seen::Whole(e) } else { Seen::Anonymous(AnonymousConflict::from(e)) }
    }

    /// A grant reference as this viewer may see it.
    pub fn grant_ref(self, g: GrantRef) -> Seen<GrantRef, AnonymousGrantRef> {
        if self.sees(g.partner_id) { Seen::Whole(g) } else { Seen::Anonymous(AnonymousGrantRef::from(g)) }
    }

    /// How a sentence names a grant: `grant 3 of 深圳合伙人`, or, for another partner's
    /// grant seen by a partner, `a grant of another partner`.
    pub fn name_grant(self, id: i64, partner: i64, partner_name: &str) -> String {
        if self.sees(partner) { format!("grant {id} of {partner_name}") } else { "a grant of another partner".to_string() }
    }
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
