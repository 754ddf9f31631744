//! The rules of the business, pure: no database, no HTTP, no files but the bundled data
//! compiled in. Each module is one concept; the application layer (`crate::app`) feeds
//! them what the store holds and keeps what they decide.
//!
//! - [`network`]: networks and their partners.
//! - [`policy`], [`standard`]: a brand's tiers, exclusivity and scoring parameters; its
//!   format standard (formats, market sizes, facility minima).
//! - [`regions`]: GB/T 2260 units (province → city → district) and region-layer imports.
//! - [`grants`], [`exclusivity`]: the vocabulary of a grant and the exclusivity rule on
//!   the in-memory grant index.
//! - [`outlets`], [`pipeline`], [`compliance`]: outlets and the rule that places them;
//!   the stages before opening and what falls due; the network checked against its standard.
//! - [`demand`], [`scoring`]: H3 demand grids; the Huff model, candidates and plans.
//! - [`access`]: who asks (roles, scopes) and what each may see.
//! - [`period`]: periods of days, as `?on=` and OGC API's `datetime` ask for them.
//! - [`random`]: deterministic numbers for synthetic inputs (benchmarks, tests).

pub mod access;
pub mod compliance;
pub mod demand;
pub mod exclusivity;
pub mod grants;
pub mod network;
pub mod outlets;
pub mod period;
pub mod pipeline;
pub mod policy;
pub mod random;
pub mod regions;
pub mod scoring;
pub mod standard;
