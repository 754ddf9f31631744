//! Integration tests: one binary, a module per area (see `tests/integration/`).
//! Every test runs on a real SQLite file, copied from a template seeded once.

#[path = "integration/common.rs"]
mod common;

#[path = "integration/api_access.rs"]
mod api_access;
#[path = "integration/api_auth.rs"]
mod api_auth;
#[path = "integration/api_compliance.rs"]
mod api_compliance;
#[path = "integration/api_gis.rs"]
mod api_gis;
#[path = "integration/api_grants.rs"]
mod api_grants;
#[path = "integration/api_input.rs"]
mod api_input;
#[path = "integration/api_model.rs"]
mod api_model;
#[path = "integration/api_outlets.rs"]
mod api_outlets;
#[path = "integration/api_registry.rs"]
mod api_registry;
#[path = "integration/api_scoring.rs"]
mod api_scoring;
#[path = "integration/architecture.rs"]
mod architecture;
#[path = "integration/binary.rs"]
mod binary;
#[path = "integration/calibration.rs"]
mod calibration;
#[path = "integration/crash.rs"]
mod crash;
#[path = "integration/differential.rs"]
mod differential;
#[path = "integration/gis_clients.rs"]
mod gis_clients;
#[path = "integration/grants_over_time.rs"]
mod grants_over_time;
#[path = "integration/hostile.rs"]
mod hostile;
#[path = "integration/map_page.rs"]
mod map_page;
#[path = "integration/migrations.rs"]
mod migrations;
#[path = "integration/partners.rs"]
mod partners;
#[path = "integration/pipeline.rs"]
mod pipeline;
#[path = "integration/plans.rs"]
mod plans;
#[path = "integration/properties.rs"]
mod properties;
#[path = "integration/scoring_model.rs"]
mod scoring_model;
#[path = "integration/shared_file.rs"]
mod shared_file;
