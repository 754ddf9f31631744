//! Site scoring (docs/scoring.md): the Huff model of H3 demand cells captured by outlets.

pub mod kernel;
pub mod model;
pub mod money;
pub mod network;
pub mod params;
pub mod score;

pub use params::{ScoringParams, SiteTypeParams};
