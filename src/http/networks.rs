//! `/networks` and their partners.

use super::AppState;
use super::extract::{Json, Path};
use crate::error::Result;
use crate::domain::network::{Network, Partner};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{Value, json};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/networks", get(list_networks).post(create_network))
        .route("/networks/{net}", get(get_network))
        .route("/networks/{net}/partners", get(list_partners).post(create_partner))
        .route("/networks/{net}/partners/{id}", get(get_partner))
}

/// Body of `POST /networks`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNetwork {
    /// Code used in paths.
    pub code: String,
    /// Human name.
    pub name: String,
    /// Bundled policy: `smart` or `haima`.
    pub policy: String,
}

/// Body of `POST /networks/{net}/partners`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPartner {
    /// Company name.
    pub name: String,
    /// Tier from the network's policy.
    pub tier: String,
}

fn network_json(app: &AppState, n: &Network) -> Value {
    let policy = crate::domain::policy::find(&n.policy);
    json!({
        "code": n.code, "name": n.name, "policy": n.policy, "created_at": n.created_at,
        "tiers": policy.map(|p| json!(p.tiers)), "sliver_tolerance": policy.map(|p| json!(p.sliver_tolerance)),
        "grants_cached": app.grant_count(&n.code),
    })
}

/// Creates a network.
#[utoipa::path(post, path = "/networks", tag = "networks", request_body = NewNetwork,
    responses((status = 201, description = "created"), (status = 409, description = "code taken"), (status = 422, description = "invalid")))]
pub async fn create_network(State(app): State<AppState>, body: Json<NewNetwork>) -> Result<(StatusCode, axum::Json<Value>)> {
    let b = body.body;
    let n = app.create_network(&b.code, &b.name, &b.policy).await?;
    Ok((StatusCode::CREATED, axum::Json(network_json(&app, &n))))
}

/// Lists networks.
#[utoipa::path(get, path = "/networks", tag = "networks", responses((status = 200, description = "networks")))]
pub async fn list_networks(State(app): State<AppState>) -> Result<axum::Json<Value>> {
    let list: Vec<Value> = app.store.networks().await?.iter().map(|n| network_json(&app, n)).collect();
    Ok(axum::Json(json!({ "networks": list })))
}

/// One network with its policy's tiers.
#[utoipa::path(get, path = "/networks/{net}", tag = "networks", params(("net" = String, Path)),
    responses((status = 200, description = "network"), (status = 404, description = "unknown")))]
pub async fn get_network(State(app): State<AppState>, Path(net): Path<String>) -> Result<axum::Json<Value>> {
    let (n, _) = app.network(&net).await?;
    Ok(axum::Json(network_json(&app, &n)))
}

/// Creates a partner.
#[utoipa::path(post, path = "/networks/{net}/partners", tag = "networks", params(("net" = String, Path)), request_body = NewPartner,
    responses((status = 201, description = "created", body = Partner), (status = 404, description = "unknown network"), (status = 422, description = "invalid")))]
pub async fn create_partner(State(app): State<AppState>, Path(net): Path<String>, body: Json<NewPartner>) -> Result<(StatusCode, axum::Json<Partner>)> {
    let p = app.create_partner(&net, &body.body.name, &body.body.tier).await?;
    Ok((StatusCode::CREATED, axum::Json(p)))
}

/// Lists partners.
#[utoipa::path(get, path = "/networks/{net}/partners", tag = "networks", params(("net" = String, Path)),
    responses((status = 200, description = "partners")))]
pub async fn list_partners(State(app): State<AppState>, Path(net): Path<String>) -> Result<axum::Json<Value>> {
    app.network(&net).await?;
    Ok(axum::Json(json!({ "partners": app.store.partners(&net).await? })))
}

/// One partner.
#[utoipa::path(get, path = "/networks/{net}/partners/{id}", tag = "networks", params(("net" = String, Path), ("id" = i64, Path)),
    responses((status = 200, description = "partner", body = Partner), (status = 404, description = "unknown")))]
pub async fn get_partner(State(app): State<AppState>, Path((net, id)): Path<(String, i64)>) -> Result<axum::Json<Partner>> {
    app.network(&net).await?;
    let p = app.store.partner(&net, id).await?.ok_or_else(|| crate::Error::NotFound(format!("no partner {id} in network `{net}`")))?;
    Ok(axum::Json(p))
}
