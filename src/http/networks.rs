//! `/networks` and their partners.

use super::AppState;
use super::extract::{Json, Path, Query};
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
        .route("/networks/{net}/partners/{id}", get(get_partner).patch(update_partner))
        .route("/networks/{net}/partners/{id}/terminate", axum::routing::post(terminate_partner))
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

/// Changes a partner's record with a JSON Merge Patch: name, contacts, `external_id`,
/// status (`active` / `suspended`: a suspended partner takes no new grant). The tier never
/// changes; a terminated partner is kept as it was.
#[utoipa::path(patch, path = "/networks/{net}/partners/{id}", tag = "networks", params(("net" = String, Path), ("id" = i64, Path)),
    request_body(content = crate::domain::network::PartnerRecord, description = "merge patch of the record's fields"),
    responses((status = 200, description = "the partner", body = Partner), (status = 404, description = "unknown"),
        (status = 409, description = "terminated, or the name or external_id is another partner's"), (status = 422, description = "invalid, located")))]
pub async fn update_partner(
    State(app): State<AppState>,
    caller: Caller,
    Path((net, id)): Path<(String, i64)>,
    patch: Json<Value>,
) -> Result<axum::Json<Partner>> {
    Ok(axum::Json(app.partners.update(&caller, &net, id, &patch.body).await?))
}

/// Terminates a partner: every grant of its ends on `last_day` (one starting later is
/// revoked) and it takes nothing new. What that breaks (its outlets left outside every
/// grant) is answered first: `?dry_run=true` only shows it; going ahead needs `"force": true`.
#[utoipa::path(post, path = "/networks/{net}/partners/{id}/terminate", tag = "networks", params(("net" = String, Path), ("id" = i64, Path), super::extract::DryRunQuery),
    request_body = crate::app::partners::TerminateRequest,
    responses((status = 200, description = "the terminated partner, or with `dry_run` `{dry_run, partner_id, would_break}`", body = Partner),
        (status = 409, description = "terminated already, or `would-break` with `breaks` (send `force`)"), (status = 422, description = "a day in the past")))]
pub async fn terminate_partner(
    State(app): State<AppState>,
    caller: Caller,
    Path((net, id)): Path<(String, i64)>,
    Query(q): Query<super::extract::DryRunQuery>,
    req: Json<crate::app::partners::TerminateRequest>,
) -> Result<axum::response::Response> {
    use axum::response::IntoResponse;
    let r = &req.body;
    crate::app::check_reason(&r.reason)?;
    let today = chrono::Utc::now().date_naive();
    let last_day = r.last_day.as_deref().map(|s| crate::input::parse_date(s, "/last_day")).transpose()?.unwrap_or(today);
    if last_day < today {
        return Err(crate::error::Error::invalid("/last_day", format!("{last_day} is before today ({today}): grants end only in the future")));
    }
    app.catalog.partner_for(&caller, &net, id).await?;
    let breaks = app.compliance.consequences(&caller, &net, crate::app::compliance::Change::Terminate(id, last_day)).await?;
    if let Some(answer) = super::extract::consequences_first(&breaks, q.dry_run, r.force, &format!("terminating partner {id}"), ("partner_id", id))? {
        return Ok(answer);
    }
    Ok(axum::Json(app.partners.terminate(&caller, &net, id, last_day, &r.reason, &breaks).await?).into_response())
}
