//! `territory`: which partner of a car brand's dealer/agent network holds which city,
//! where its outlets stand, and where the next one should go.
//!
//! A guided tour, from the bottom layer up (ARCHITECTURE.md has the rules between them):
//! - [`input`]: located input errors and the small value formats every front end reads;
//!   [`budget`]: the deadline CPU work checks as it goes.
//! - [`geometry`]: GeoJSON in and out, validation that names the bad coordinate, geodesic
//!   areas, and the overlap decision (DE-9IM interiors, sliver tolerance).
//! - [`domain`]: the business rules, pure: networks, policies and standards, regions,
//!   grants and the exclusivity rule, outlets, compliance, demand, scoring, callers.
//! - [`error`]: the crate's error, one variant per HTTP status.
//! - [`store`]: SQLite through sqlx; all SQL lives there. [`gis`]: layer formats.
//! - [`app`]: the application services, composed in [`app::App`]; the only users of the store.
//! - [`http`]: the HTTP API (axum); [`cli`]: the command line.

pub mod app;
pub mod budget;
pub mod cli;
pub mod domain;
pub mod error;
pub mod geometry;
pub mod gis;
pub mod http;
pub mod input;
pub mod store;

pub use error::{Error, Result};
