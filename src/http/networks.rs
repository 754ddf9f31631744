//! `/networks` and their partners.

use super::AppState;
use super::extract::{Json, Path};
use crate::app::catalog::{NewNetwork, NewPartner};
use crate::domain::access::Caller;
use crate::domain::network::{Network, Partner};
use crate::error::Result;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/networks", get(list_networks).post(create_network))
        .route("/networks/{net}", get(get_network))
        .route("/networks/{net}/partners", get(list_partners).post(create_partner))
        .route("/networks/{net}/partners/{id}", get(get_partner))
}

fn network_json(app: &AppState, n: &Network) -> Value {
    let policy = crate::domain::policy::find(&n.policy);
    json!({
        "code": n.code, "name": n.name, "policy": n.policy, "created_at": n.created_at,
        "tiers": policy.map(|p| json!(p.tiers)), "sliver_tolerance": policy.map(|p| json!(p.sliver_tolerance)),
        "grants_cached": app.ledger.grant_count(&n.code),
    })
}

/// Creates a network.
#[utoipa::path(post, path = "/networks", tag = "networks", request_body = NewNetwork,
    responses((status = 201, description = "created"), (status = 409, description = "code taken"), (status = 422, description = "invalid")))]
pub async fn create_network(State(app): State<AppState>, caller: Caller, body: Json<NewNetwork>) -> Result<(StatusCode, axum::Json<Value>)> {
    let n = app.catalog.create_network(&caller, &body.body).await?;
    Ok((StatusCode::CREATED, axum::Json(network_json(&app, &n))))
}

/// Lists networks.
#[utoipa::path(get, path = "/networks", tag = "networks", responses((status = 200, description = "networks")))]
pub async fn list_networks(State(app): State<AppState>, caller: Caller) -> Result<axum::Json<Value>> {
    let list: Vec<Value> = app.catalog.networks(&caller).await?.iter().map(|n| network_json(&app, n)).collect();
    Ok(axum::Json(json!({ "networks": list })))
}

/// One network with its policy's tiers.
#[utoipa::path(get, path = "/networks/{net}", tag = "networks", params(("net" = String, Path)),
    responses((status = 200, description = "network"), (status = 404, description = "unknown")))]
pub async fn get_network(State(app): State<AppState>, caller: Caller, Path(net): Path<String>) -> Result<axum::Json<Value>> {
    let entered = app.catalog.enter(&caller, &net, crate::domain::access::Role::Viewer).await?;
    Ok(axum::Json(network_json(&app, &entered.network)))
}

/// Creates a partner.
#[utoipa::path(post, path = "/networks/{net}/partners", tag = "networks", params(("net" = String, Path)), request_body = NewPartner,
    responses((status = 201, description = "created", body = Partner), (status = 404, description = "unknown network"), (status = 422, description = "invalid")))]
pub async fn create_partner(
    State(app): State<AppState>,
    caller: Caller,
    Path(net): Path<String>,
    body: Json<NewPartner>,
) -> Result<(StatusCode, axum::Json<Partner>)> {
    let p = app.catalog.create_partner(&caller, &net, &body.body).await?;
    Ok((StatusCode::CREATED, axum::Json(p)))
}

/// Lists partners.
#[utoipa::path(get, path = "/networks/{net}/partners", tag = "networks", params(("net" = String, Path)),
    responses((status = 200, description = "partners")))]
pub async fn list_partners(State(app): State<AppState>, caller: Caller, Path(net): Path<String>) -> Result<axum::Json<Value>> {
    Ok(axum::Json(json!({ "partners": app.catalog.partners(&caller, &net).await? })))
}

/// One partner.
#[utoipa::path(get, path = "/networks/{net}/partners/{id}", tag = "networks", params(("net" = String, Path), ("id" = i64, Path)),
    responses((status = 200, description = "partner", body = Partner), (status = 404, description = "unknown")))]
pub async fn get_partner(State(app): State<AppState>, caller: Caller, Path((net, id)): Path<(String, i64)>) -> Result<axum::Json<Partner>> {
    Ok(axum::Json(app.catalog.partner_for(&caller, &net, id).await?))
}
