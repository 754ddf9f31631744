//! Networks (one brand's channel network, with its policy) and their partners.

use serde::Serialize;
use sqlx::FromRow;

/// A network.
#[derive(Debug, Clone, Serialize, FromRow, utoipa::ToSchema)]
pub struct Network {
    /// Code used in paths (`smart`).
    pub code: String,
    /// Human name.
    pub name: String,
    /// Bundled policy code.
    pub policy: String,
    /// When it was created.
    pub created_at: String,
}

/// A partner: a company in a network, with a tier of the network's policy.
#[derive(Debug, Clone, Serialize, FromRow, utoipa::ToSchema)]
pub struct Partner {
    /// Id, stable.
    pub id: i64,
    /// Network code.
    pub network: String,
    /// Company name.
    pub name: String,
    /// Tier code from the network's policy.
    pub tier: String,
    /// When it was created.
    pub created_at: String,
}
