//! `/networks/{net}/grants`: the exclusivity check, grants, revokes, conflicts, audit.

use super::AppState;
use super::extract::{CoordQuery, GrantJson, Json, Path, Query};
use super::geojson_response;
use crate::app::ledger::{AuditFilter, CheckAnswer, GrantFilter, GrantRequest, GrantRow, SeenGrant};
use crate::domain::access::Caller;
use crate::domain::grants::{SeenConflict, Status};
use crate::error::{Error, Result};
use crate::input::parse_bbox;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/networks/{net}/grants", get(list).post(create))
        .route("/networks/{net}/grants/check", post(check))
        .route("/networks/{net}/grants/{id}", get(one).patch(change_valid_to))
        .route("/networks/{net}/grants/{id}/revoke", post(revoke))
        .route("/networks/{net}/grants/{id}/confirm", post(confirm))
        .route("/networks/{net}/conflicts", get(conflicts))
        .route("/networks/{net}/audit", get(audit))
}

/// A stored grant as a GeoJSON Feature. It borrows the row: the stored GeoJSON text is
/// copied into the answer, not parsed and written again (a city is tens of KB).
#[derive(Debug, serde::Serialize)]
pub struct GrantFeature<'a> {
    r#type: &'static str,
    id: i64,
    geometry: &'a RawValue,
    properties: GrantProperties<'a>,
    /// Warnings of the decision that made the grant (only in the answer to a grant).
    #[serde(skip_serializing_if = "Option::is_none")]
    warnings: Option<&'a [SeenConflict]>,
}

/// Another partner's grant as a partner token sees it in a list: its area and status, no
/// id, holder or note.
#[derive(Debug, serde::Serialize)]
struct AnonymousFeature<'a> {
    r#type: &'static str,
    geometry: &'a RawValue,
    properties: AnonymousProperties<'a>,
}

/// The properties of an [`AnonymousFeature`].
#[derive(Debug, serde::Serialize)]
struct AnonymousProperties<'a> {
    anonymous: bool,
    status: &'a str,
}

/// A listed grant as its viewer sees it. (Borrowed and short-lived: the size difference
/// between the variants costs nothing worth a box.)
#[derive(Debug, serde::Serialize)]
#[allow(clippy::large_enum_variant)]
#[serde(untagged)]
enum ListedFeature<'a> {
    Whole(GrantFeature<'a>),
    Anonymous(AnonymousFeature<'a>),
}

fn listed_feature(g: &SeenGrant) -> ListedFeature<'_> {
    match g {
        SeenGrant::Whole(row) => ListedFeature::Whole(grant_feature(row)),
        SeenGrant::Anonymous(a) => ListedFeature::Anonymous(AnonymousFeature {
            r#type: "Feature",
            geometry: stored_json(Some(&a.geometry)),
            properties: AnonymousProperties { anonymous: true, status: &a.status },
        }),
    }
}

/// The properties of a [`GrantFeature`].
#[derive(Debug, serde::Serialize)]
struct GrantProperties<'a> {
    id: i64,
    network: &'a str,
    partner_id: i64,
    partner_name: &'a str,
    tier: &'a str,
    adcodes: &'a RawValue,
    exclusive: bool,
    valid_from: &'a str,
    valid_to: Option<&'a str>,
    status: &'a str,
    reserved_until: Option<&'a str>,
    note: &'a str,
    area_km2: f64,
    created_at: &'a str,
    revoked_at: Option<&'a str>,
    revoke_reason: Option<&'a str>,
}

/// Stored JSON text as it is, or `null` if it is not JSON (never written so).
fn stored_json(text: Option<&str>) -> &RawValue {
    text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or(RawValue::NULL)
}

/// The status a grant is shown with: as stored, but `expired` for a reservation past its
/// last day (it holds nothing; decided by the date, nothing is written when it expires).
pub fn shown_status(row: &GrantRow) -> &str {
    let today = chrono::Utc::now().date_naive().to_string();
    match row.reserved_until.as_deref() {
        Some(until) if row.status == Status::Reserved.as_str() && until < today.as_str() => "expired",
        _ => &row.status,
    }
}

/// A stored grant as a GeoJSON Feature.
pub fn grant_feature(row: &GrantRow) -> GrantFeature<'_> {
    GrantFeature {
        r#type: "Feature",
        id: row.id,
        geometry: stored_json(Some(&row.geometry)),
        properties: GrantProperties {
            id: row.id,
            network: &row.network,
            partner_id: row.partner_id,
            partner_name: &row.partner_name,
            tier: &row.tier,
            adcodes: stored_json(row.adcodes.as_deref()),
            exclusive: row.exclusive,
            valid_from: &row.valid_from,
            valid_to: row.valid_to.as_deref(),
            status: shown_status(row),
            reserved_until: row.reserved_until.as_deref(),
            note: &row.note,
            area_km2: row.area_km2,
            created_at: &row.created_at,
            revoked_at: row.revoked_at.as_deref(),
            revoke_reason: row.revoke_reason.as_deref(),
        },
        warnings: None,
    }
}

/// Grants as a GeoJSON FeatureCollection.
#[derive(Debug, serde::Serialize)]
struct GrantCollection<'a> {
    r#type: &'static str,
    features: Vec<ListedFeature<'a>>,
}

/// Grants a territory: 201 with the grant, or 409 listing every conflicting grant.
#[utoipa::path(post, path = "/networks/{net}/grants", tag = "grants", params(("net" = String, Path), CoordQuery), request_body = GrantRequest,
    responses((status = 201, description = "granted: the grant as a Feature (with `warnings`)", content_type = "application/geo+json"),
              (status = 409, description = "refused: problem+json with `conflicts`", content_type = "application/problem+json"),
              (status = 422, description = "invalid input, located", content_type = "application/problem+json")))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Path(net): Path<String>,
    Query(q): Query<CoordQuery>,
    GrantJson(req): GrantJson,
) -> Result<Response> {
    let granted = app.ledger.grant(&caller, &net, &req.body, q.coord_sys, &req.raw()?).await?;
    let mut body = grant_feature(&granted.row);
    body.warnings = Some(&granted.warnings);
    let mut response = geojson_response(body);
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

/// Dry run: would this grant be refused? Writes nothing.
#[utoipa::path(post, path = "/networks/{net}/grants/check", tag = "grants", params(("net" = String, Path), CoordQuery), request_body = GrantRequest,
    responses((status = 200, description = "`{ok, conflicts, warnings}`", body = CheckAnswer), (status = 422, description = "invalid input, located")))]
pub async fn check(
    State(app): State<AppState>,
    caller: Caller,
    Path(net): Path<String>,
    Query(q): Query<CoordQuery>,
    GrantJson(req): GrantJson,
) -> Result<Response> {
    let answer: CheckAnswer = app.ledger.check(&caller, &net, &req.body, q.coord_sys).await?;
    // Contract systems call this for every grant they prepare: the overlaps' coordinates
    // are written straight into the answer (the same text as serde_json writes, faster).
    let body = crate::geometry::geojson_io::to_json_bytes(&answer).map_err(Error::data("writing the answer"))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Filters of `GET /networks/{net}/grants`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct GrantQuery {
    /// Only this partner's grants.
    pub partner_id: Option<i64>,
    /// Only grants in force on this ISO date.
    pub active_on: Option<String>,
    /// The same as `active_on`, as every dated route names it.
    pub on: Option<String>,
    /// `minx,miny,maxx,maxy`: only grants meeting the box.
    pub bbox: Option<String>,
    /// `reserved` (expired ones too), `active` or `revoked`.
    pub status: Option<String>,
}

/// Lists grants (revoked ones too, unless filtered) as a FeatureCollection.
#[utoipa::path(get, path = "/networks/{net}/grants", tag = "grants", params(("net" = String, Path), GrantQuery),
    responses((status = 200, description = "FeatureCollection", content_type = "application/geo+json")))]
pub async fn list(State(app): State<AppState>, caller: Caller, Path(net): Path<String>, Query(q): Query<GrantQuery>) -> Result<Response> {
    let filter = GrantFilter {
        partner_id: q.partner_id,
        active_on: match (super::extract::query_date(q.active_on.as_deref(), "active_on")?, super::extract::query_date(q.on.as_deref(), "on")?) {
            (Some(a), Some(b)) if a != b => return Err(Error::BadRequest(format!("active_on={a} and on={b}: give one day"))),
            (a, b) => a.or(b),
        },
        bbox: q.bbox.as_deref().map(parse_bbox).transpose()?,
        status: match q.status.as_deref() {
            None => None,
            Some(s) => Some(Status::parse(s).ok_or_else(|| Error::BadRequest(format!("status `{s}`: expected reserved, active or revoked")))?),
        },
    };
    let grants = app.ledger.grants(&caller, &net, &filter).await?;
    Ok(geojson_response(GrantCollection { r#type: "FeatureCollection", features: grants.iter().map(listed_feature).collect() }))
}

/// One grant.
#[utoipa::path(get, path = "/networks/{net}/grants/{id}", tag = "grants", params(("net" = String, Path), ("id" = i64, Path)),
    responses((status = 200, description = "Feature", content_type = "application/geo+json"), (status = 404, description = "unknown")))]
pub async fn one(State(app): State<AppState>, caller: Caller, Path((net, id)): Path<(String, i64)>) -> Result<Response> {
    Ok(geojson_response(grant_feature(&app.ledger.one(&caller, &net, id).await?)))
}

/// Body of a revoke.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// Why.
    #[serde(default)]
    pub reason: String,
    /// Revoke even if it breaks the standard (outlets left outside their partner's grants).
    #[serde(default)]
    pub force: bool,
}

/// Revokes a grant; it stays, with status `revoked`. What it would break (outlets left
/// outside every grant of their partner) is answered first: `?dry_run=true` only shows it,
/// and a revoke that breaks something needs `"force": true` (the audit keeps what broke).
#[utoipa::path(post, path = "/networks/{net}/grants/{id}/revoke", tag = "grants", params(("net" = String, Path), ("id" = i64, Path), super::extract::DryRunQuery), request_body = RevokeRequest,
    responses((status = 200, description = "the revoked grant, or with `dry_run` `{dry_run, grant_id, would_break}`"), (status = 404, description = "unknown"),
        (status = 409, description = "revoked already, or `would-break` with `breaks` (send `force`)")))]
pub async fn revoke(
    State(app): State<AppState>,
    caller: Caller,
    Path((net, id)): Path<(String, i64)>,
    Query(q): Query<super::extract::DryRunQuery>,
    req: Json<RevokeRequest>,
) -> Result<Response> {
    crate::app::check_reason(&req.body.reason)?;
    let breaks = app.compliance.consequences(&caller, &net, crate::app::compliance::Change::Revoke(id)).await?;
    if let Some(answer) = super::extract::consequences_first(&breaks, q.dry_run, req.body.force, &format!("revoking grant {id}"), ("grant_id", id))? {
        return Ok(answer);
    }
    let row = app.ledger.revoke(&caller, &net, id, &req.body.reason, &breaks).await?;
    Ok(geojson_response(grant_feature(&row)))
}

/// Confirms a reservation: it becomes an active grant. 409 if it expired (its territory
/// is free again) or is not a reservation.
#[utoipa::path(post, path = "/networks/{net}/grants/{id}/confirm", tag = "grants", params(("net" = String, Path), ("id" = i64, Path)),
    responses((status = 200, description = "the active grant", content_type = "application/geo+json"), (status = 404, description = "unknown"),
        (status = 409, description = "expired, or not a reservation", content_type = "application/problem+json")))]
pub async fn confirm(State(app): State<AppState>, caller: Caller, Path((net, id)): Path<(String, i64)>) -> Result<Response> {
    Ok(geojson_response(grant_feature(&app.ledger.confirm(&caller, &net, id).await?)))
}

/// Body of `PATCH /networks/{net}/grants/{id}`: a new last day.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidToRequest {
    /// The new last day in force (ISO date, today or later), or `null` for open-ended.
    /// Required: a grant's territory, partner and first day never change (grant anew).
    #[schema(value_type = Option<String>)]
    pub valid_to: Value,
    /// Why.
    #[serde(default)]
    pub reason: String,
    /// Shorten even if it breaks the standard (outlets left outside their partner's grants).
    #[serde(default)]
    pub force: bool,
}

/// Ends, shortens or extends a grant: moves its last day. A shorter window answers first
/// with what it would break on the first day it no longer covers (`?dry_run=true` only
/// shows it; going ahead needs `"force": true`); a longer one is checked like a new grant.
#[utoipa::path(patch, path = "/networks/{net}/grants/{id}", tag = "grants", params(("net" = String, Path), ("id" = i64, Path), super::extract::DryRunQuery),
    request_body = ValidToRequest,
    responses((status = 200, description = "the changed grant, or with `dry_run` `{dry_run, grant_id, would_break}`", content_type = "application/geo+json"),
        (status = 409, description = "`conflict` or `duplicate` (a longer window), `would-break` (a shorter one), or revoked"),
        (status = 422, description = "a day in the past or before the first day", content_type = "application/problem+json")))]
pub async fn change_valid_to(
    State(app): State<AppState>,
    caller: Caller,
    Path((net, id)): Path<(String, i64)>,
    Query(q): Query<super::extract::DryRunQuery>,
    req: Json<ValidToRequest>,
) -> Result<Response> {
    let valid_to = match &req.body.valid_to {
        Value::Null => None,
        Value::String(s) => Some(crate::input::parse_date(s, "/valid_to")?),
        other => return Err(Error::invalid("/valid_to", format!("an ISO date or null, not {other}"))),
    };
    crate::app::check_reason(&req.body.reason)?;
    caller.governs(&net)?;
    app.ledger.check_valid_to(&net, id, valid_to).await?;
    let breaks = app.compliance.consequences(&caller, &net, crate::app::compliance::Change::ValidTo(id, valid_to)).await?;
    let action = format!("moving the last day of grant {id} to {}", valid_to.map_or("open-ended".to_string(), |d| d.to_string()));
    if let Some(answer) = super::extract::consequences_first(&breaks, q.dry_run, req.body.force, &action, ("grant_id", id))? {
        return Ok(answer);
    }
    let row = app.ledger.set_valid_to(&caller, &net, id, valid_to, &req.body.reason, &breaks).await?;
    Ok(geojson_response(grant_feature(&row)))
}

/// `?on=` of the conflicts.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ConflictsQuery {
    /// The grants in force on this ISO day, past or future (default: the grants that hold now).
    pub on: Option<String>,
}

/// Every conflicting pair among the stored grants that hold now, or that were (or will be)
/// in force on a day.
#[utoipa::path(get, path = "/networks/{net}/conflicts", tag = "grants", params(("net" = String, Path), ConflictsQuery),
    responses((status = 200, description = "`{count, conflicts: [{grant_id, conflicts_with}]}`")))]
pub async fn conflicts(State(app): State<AppState>, caller: Caller, Path(net): Path<String>, Query(q): Query<ConflictsQuery>) -> Result<axum::Json<Value>> {
    let pairs = match super::extract::query_date(q.on.as_deref(), "on")? {
        Some(day) => app.ledger.conflicts_on(&caller, &net, day).await?,
        None => app.ledger.conflicts(&caller, &net).await?,
    };
    let list: Vec<Value> = pairs.iter().map(|(a, c)| json!({"grant_id": a, "conflicts_with": c})).collect();
    Ok(axum::Json(json!({"count": list.len(), "conflicts": list})))
}

/// Filters and page of `GET /networks/{net}/audit`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only entries about this grant.
    pub grant_id: Option<i64>,
    /// Only entries about this partner (its requests, its grants, its outlets).
    pub partner_id: Option<i64>,
    /// Only entries by this actor, as the log names it (`token 3 (name)`, `open`, `cli`).
    pub actor: Option<String>,
    /// Only entries of this kind: grant, revoke, confirm, valid_to, stage, close, partner.
    pub kind: Option<String>,
    /// Only entries from this day or RFC 3339 time on.
    pub from: Option<String>,
    /// Only entries before this day or RFC 3339 time.
    pub to: Option<String>,
    /// The cursor: only entries after this id (the `next` link carries it).
    pub after: Option<i64>,
    /// Entries per page (default 1,000, at most 10,000).
    pub limit: Option<usize>,
    /// `geometry`: keep the geometries of requests and conflicts (left out by default).
    pub include: Option<String>,
}

/// The kinds of entries the audit log holds.
const AUDIT_KINDS: [&str; 7] = ["grant", "revoke", "confirm", "valid_to", "stage", "close", "partner"];

/// A day or an RFC 3339 time as the log stores times (UTC, milliseconds), for comparing.
fn audit_time(text: &str, name: &str) -> Result<String> {
    if let Ok(day) = text.parse::<chrono::NaiveDate>() {
        return Ok(day.to_string());
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc).to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .map_err(|_| Error::BadRequest(format!("{name}=`{text}`: expected a day (2026-12-05) or an RFC 3339 time")))
}

/// The decisions of a network, oldest first, filtered, a page at a time (`links` holds
/// `next` while entries are left); geometries left out unless `include=geometry`.
#[utoipa::path(get, path = "/networks/{net}/audit", tag = "grants", params(("net" = String, Path), AuditQuery),
    responses((status = 200, description = "`{entries: [...], links}`"), (status = 400, description = "a bad filter")))]
pub async fn audit(State(app): State<AppState>, caller: Caller, links: super::Links, Path(net): Path<String>, Query(q): Query<AuditQuery>) -> Result<Response> {
    let limit = q.limit.unwrap_or(1_000);
    if !(1..=10_000).contains(&limit) {
        return Err(Error::BadRequest(format!("limit={limit}: from 1 to 10000")));
    }
    if let Some(kind) = q.kind.as_deref().filter(|k| !AUDIT_KINDS.contains(k)) {
        return Err(Error::BadRequest(format!("kind=`{kind}`: one of {}", AUDIT_KINDS.join(", "))));
    }
    let geometry = match q.include.as_deref() {
        None => false,
        Some("geometry") => true,
        Some(other) => return Err(Error::BadRequest(format!("include=`{other}`: only `geometry`"))),
    };
    let filter = AuditFilter {
        after: q.after.unwrap_or(0),
        limit,
        grant_id: q.grant_id,
        partner_id: q.partner_id,
        actor: q.actor.clone(),
        kind: q.kind.clone(),
        from: q.from.as_deref().map(|t| audit_time(t, "from")).transpose()?,
        to: q.to.as_deref().map(|t| audit_time(t, "to")).transpose()?,
        geometry,
    };
    let entries = app.ledger.audit(&caller, &net, &filter).await?;
    let mut page_links = Vec::new();
    if let Some(last) = entries.last().filter(|_| entries.len() == limit) {
        let mut query = vec![format!("after={}", last.id), format!("limit={limit}")];
        let named = [("grant_id", q.grant_id.map(|v| v.to_string())), ("partner_id", q.partner_id.map(|v| v.to_string()))];
        let texts = [("actor", q.actor), ("kind", q.kind), ("from", q.from), ("to", q.to), ("include", q.include)];
        for (name, value) in named.into_iter().chain(texts) {
            if let Some(v) = value {
                query.push(format!("{name}={}", super::percent_encode(&v)));
            }
        }
        page_links.push(json!({"rel": "next", "href": links.href(&format!("/networks/{net}/audit"), &query.join("&"))}));
    }
    Ok(axum::Json(json!({"entries": entries, "links": page_links})).into_response())
}
