//! Site scoring (docs/scoring.md): the Huff model of H3 demand cells captured by outlets.

pub mod calibrate;
pub mod kernel;
pub mod model;
pub mod money;
pub mod network;
pub mod params;
pub mod plan;
pub mod score;

pub use params::{ScoringParams, SiteTypeParams};

/// Where the parameters of a model version come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModelSource {
    /// The network's policy file (version 0).
    Policy,
    /// A fit to the network's observed sales.
    Fitted,
}

/// Which version of a network's scoring model an answer used.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct ModelRef {
    /// 0: the policy's parameters; 1, 2, ...: fits, in order.
    pub version: i64,
    /// Policy or fitted.
    pub source: ModelSource,
    /// When it was fitted (RFC 3339), for a fitted version.
    pub fitted_at: Option<String>,
}
