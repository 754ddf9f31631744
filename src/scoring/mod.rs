//! Site scoring (SCORING.md): the Huff model of H3 demand cells captured by outlets.

pub mod params;

pub use params::{ScoringParams, SiteTypeParams};
