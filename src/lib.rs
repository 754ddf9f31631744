//! `territory`: which partner of a car brand's dealer/agent network holds which city,
//! where its outlets stand, and where the next one should go.
//!
//! A guided tour, from the inside out:
//! - [`geometry`]: GeoJSON in and out, validation that names the bad coordinate, geodesic
//!   areas, and the overlap decision (DE-9IM interiors, sliver tolerance).
//! - [`regions`]: GB/T 2260 units (province → city → district) and region-layer imports.
//! - [`policy`]: a brand's tiers and which of them hold exclusive grants (`data/policies/`).
//! - [`grants`]: grants, proposals, conflict entries: the vocabulary of the rule.
//! - [`exclusivity`]: the rule itself and the in-memory index it runs on.
//! - [`store`]: SQLite through sqlx; all SQL lives there.
//! - [`registry`]: validates requests, decides and stores grants atomically.
//! - [`http`]: the HTTP API (axum); [`cli`]: the command line; [`seed`]: sample data.

pub mod app;
pub mod cli;
pub mod domain;
pub mod error;
pub mod geometry;
pub mod gis;
pub mod http;
pub mod input;
pub mod store;

pub use error::{Error, Result};
