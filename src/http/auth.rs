//! Who may do what: every request but the map page's files and `/health` needs a bearer
//! token (`Authorization: Bearer terr_...`, or `?access_token=` on GET for GIS clients)
//! once any token exists, or when the service listens beyond loopback. Route classes:
//! reads need `viewer`; dry-run checks, scoring and plans need `planner`; every other
//! write needs `admin`. A network-scoped token reaches only its network; a partner token
//! acts only for its partner and sees other partners' grants as anonymous geometry.
//! Also here: the concurrency limit and the request timeout (503 with Retry-After).

use super::AppState;
use crate::domain::access::{ACTOR, Caller, Role, hash_token};
use crate::error::Error;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How the service was started, for the open-mode rule.
#[derive(Debug, Clone, Copy)]
pub struct AuthConfig {
    /// Bound to a loopback address: without any token, requests are allowed (open mode).
    pub loopback: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig { loopback: true }
    }
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Nothing: the map page's files, `/health`, the API descriptions.
    Nothing,
    /// A role.
    Role(Role),
}

fn segments(path: &str) -> Vec<&str> {
    path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect()
}

fn need(method: &Method, path: &str) -> Need {
    let s = segments(path);
    let open = matches!(s.as_slice(), [] | ["health"] | ["openapi.json"] | ["map", "config"] | ["assets", ..]);
    if open && (method == Method::GET || method == Method::HEAD) {
        return Need::Nothing;
    }
    if method == Method::GET || method == Method::HEAD {
        return Need::Role(Role::Viewer);
    }
    match s.as_slice() {
        ["networks", _, "grants", "check"] | ["networks", _, "score"] | ["networks", _, "plan"] => Need::Role(Role::Planner),
        _ => Need::Role(Role::Admin),
    }
}

/// The network a path is about, if any (`/networks/{net}/...`, `/ogc/collections/{net}.{layer}`,
/// `/tiles/{net}.{layer}/...`, `/tiles/{net}.{layer}.json`).
fn path_network(path: &str) -> Option<(String, Option<String>)> {
    let s = segments(path);
    let collection = match s.as_slice() {
        ["networks", net, ..] => return Some((net.to_string(), s.get(3).map(|l| l.split('.').next().unwrap_or("").to_string()))),
        ["ogc", "collections", id, ..] | ["tiles", id, ..] => id.trim_end_matches(".json"),
        _ => return None,
    };
    let (net, layer) = collection.split_once('.')?;
    Some((net.to_string(), Some(layer.to_string())))
}

fn refuse(status: StatusCode, kind: &str, detail: String) -> Response {
    let mut r = super::problem::problem(status, kind, &detail, json!({}));
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"territory\""));
    }
    r
}

fn forbidden(detail: String) -> Response {
    refuse(StatusCode::FORBIDDEN, "forbidden", detail)
}

fn bearer(req: &Request) -> Option<String> {
    if let Some(v) = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return Some(v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")).unwrap_or(v).trim().to_string());
    }
    if req.method() == Method::GET {
        let query = req.uri().query().unwrap_or("");
        return query.split('&').find_map(|kv| kv.strip_prefix("access_token=")).map(str::to_string);
    }
    None
}

async fn caller(app: &AppState, config: &AuthConfig, token: Option<String>) -> Result<Caller, Response> {
    let store = &app.store;
    match token {
        Some(token) => match store.active_token(&hash_token(&token)).await {
            Ok(Some(info)) => Ok(Caller::Token(info)),
            Ok(None) => Err(refuse(StatusCode::UNAUTHORIZED, "unauthorized", "the token is unknown or revoked".into())),
            Err(e) => Err(e.into_response()),
        },
        None => match store.any_active_token().await {
            Ok(false) if config.loopback => Ok(Caller::Open),
            Ok(_) => Err(refuse(StatusCode::UNAUTHORIZED, "unauthorized", "this service needs a bearer token: `Authorization: Bearer terr_...` (create one with `territory token create`)".into())),
            Err(e) => Err(e.into_response()),
        },
    }
}

/// Layers a partner token may read through the GIS routes (others hold other partners' data).
const PARTNER_GIS_LAYERS: [&str; 1] = ["demand"];

/// The value of a query parameter, if given.
fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?.split('&').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

/// Checks what a partner token asks for; may buffer and return the body it read.
async fn partner_check(app: &AppState, partner: i64, net: &str, req: Request) -> Result<Request, Response> {
    let path = req.uri().path().to_string();
    let s = segments(&path);
    let method = req.method().clone();
    let not_own = |what: &str| forbidden(format!("a partner token acts only for partner {partner}; this {what} is not theirs"));
    match s.as_slice() {
        ["networks", _, "audit" | "conflicts" | "export", ..] | ["ogc", "collections", _, ..] | ["tiles", ..] => {
            let layer = path_network(&path).and_then(|(_, l)| l).unwrap_or_default();
            let layer = layer.trim_end_matches(".geojson").trim_end_matches(".gpkg").trim_end_matches(".json");
            if !PARTNER_GIS_LAYERS.contains(&layer) {
                return Err(forbidden(format!("a partner token cannot read `{layer}` of the whole network")));
            }
        }
        ["networks", _, "partners"] if method != Method::GET => return Err(forbidden("a partner token cannot create partners".into())),
        ["networks", _, "demand"] if method != Method::GET => return Err(forbidden("a partner token cannot replace the demand grid".into())),
        ["networks", _, "grants", id, ..] if *id != "check" => {
            let id: i64 = id.parse().map_err(|_| Error::NotFound(format!("no grant `{id}`")).into_response())?;
            let grant = app.store.grant(net, id).await.map_err(IntoResponse::into_response)?;
            if grant.partner_id != partner {
                return Err(not_own("grant"));
            }
        }
        ["networks", _, "outlets", id, ..] => {
            let id: i64 = id.parse().map_err(|_| Error::NotFound(format!("no outlet `{id}`")).into_response())?;
            let outlet = app.store.outlet(net, id).await.map_err(IntoResponse::into_response)?;
            if outlet.partner_id != Some(partner) {
                return Err(not_own("outlet"));
            }
        }
        ["networks", _, "compliance"] if query_param(req.uri().query(), "partner_id") != Some(partner.to_string().as_str()) => {
            return Err(forbidden(format!("a partner token sees its own compliance: add ?partner_id={partner}")));
        }
        _ => {}
    }
    if let Some(p) = query_param(req.uri().query(), "partner_id")
        && p != partner.to_string()
    {
        return Err(forbidden(format!("a partner token acts only for partner {partner}, not {p}")));
    }
    if method == Method::GET || method == Method::HEAD {
        return Ok(req);
    }
    // Writes and dry runs: the body's partner must be the token's.
    let (parts, body) = req.into_parts();
    let limit = parts.extensions.get::<super::HttpLimits>().map_or(usize::MAX, |l| l.max_body_bytes);
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| refuse(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", format!("the body is larger than {limit} bytes")))?;
    let asked = serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| v.get("partner_id").and_then(Value::as_i64));
    let scoped_route = matches!(s.as_slice(), ["networks", _, "score" | "plan"] | ["networks", _, "grants" | "outlets"] | ["networks", _, "grants", "check"]);
    if scoped_route && asked != Some(partner) && query_param(parts.uri.query(), "partner_id") != Some(partner.to_string().as_str()) {
        return Err(forbidden(format!("a partner token acts only for partner {partner}: set \"partner_id\": {partner}")));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// A JSON answer rewritten by `edit`; an answer that is not JSON is passed on as it is.
async fn rewrite_json(res: Response, edit: impl FnOnce(&mut Value)) -> Response {
    let is_json = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.contains("json"));
    if !is_json {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else { return Error::Internal("response body".into()).into_response() };
    let Ok(mut v) = serde_json::from_slice::<Value>(&bytes) else { return Response::from_parts(parts, Body::from(bytes)) };
    edit(&mut v);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(v.to_string()))
}

/// Other partners' grants, for a partner token: geometry and status only.
async fn anonymise_grants(partner: i64, res: Response) -> Response {
    rewrite_json(res, |v| {
        for f in v.get_mut("features").and_then(Value::as_array_mut).into_iter().flatten() {
            if f["properties"]["partner_id"].as_i64() != Some(partner) {
                let status = f["properties"]["status"].clone();
                f["properties"] = json!({"anonymous": true, "status": status});
                if let Some(o) = f.as_object_mut() {
                    o.remove("id");
                }
            }
        }
    })
    .await
}

/// For a partner token, every other answer of a network's routes: other partners' grants
/// appear only as anonymous geometry, so an object naming another partner (a conflict of a
/// check or of a refused grant, a blocking grant of a score, a grant of a refused outlet or
/// of a compliance breach) loses its partner, name and grant id; a refusal's summary that
/// named them is replaced. The partner list keeps only the token's own partner.
async fn anonymise_others(partner: i64, partner_list: bool, res: Response) -> Response {
    rewrite_json(res, |v| {
        if partner_list && let Some(list) = v["partners"].as_array_mut() {
            list.retain(|p| p["id"].as_i64() == Some(partner));
        }
        let mut hidden = 0;
        hide_other_partners(v, partner, &mut hidden);
        let kind = v["type"].as_str().unwrap_or_default();
        if hidden > 0 && (kind.ends_with(":exclusivity-conflict") || kind.ends_with(":outlet-placement")) {
            v["detail"] = json!(format!("refused: {hidden} grant(s) of other partners are in the way (listed without their holders)"));
        }
    })
    .await
}

/// Takes the partner, its name and the grant id out of every object that names a partner
/// other than `partner` and a grant; counts them in `hidden`.
fn hide_other_partners(v: &mut Value, partner: i64, hidden: &mut usize) {
    match v {
        Value::Object(o) => {
            let other = o.get("partner_id").and_then(Value::as_i64).is_some_and(|p| p != partner);
            if other && (o.contains_key("grant_id") || o.contains_key("partner_name")) {
                for key in ["partner_id", "partner_name", "grant_id", "tier"] {
                    o.remove(key);
                }
                o.insert("anonymous".into(), Value::Bool(true));
                *hidden += 1;
            }
            o.values_mut().for_each(|x| hide_other_partners(x, partner, hidden));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| hide_other_partners(x, partner, hidden)),
        _ => {}
    }
}

/// Other partners' outlets are left out for a partner token (competitors stay).
async fn own_outlets(partner: i64, res: Response) -> Response {
    rewrite_json(res, |v| {
        if let Some(features) = v.get_mut("features").and_then(Value::as_array_mut) {
            features.retain(|f| f["properties"]["competitor"] == json!(true) || f["properties"]["partner_id"].as_i64() == Some(partner));
        }
    })
    .await
}

/// Removes `access_token` from the query once used, so routes see only their own parameters.
fn strip_access_token(req: &mut Request) {
    let Some(query) = req.uri().query() else { return };
    if !query.split('&').any(|kv| kv.starts_with("access_token=")) {
        return;
    }
    let rest: Vec<&str> = query.split('&').filter(|kv| !kv.starts_with("access_token=")).collect();
    let path = req.uri().path();
    let uri = if rest.is_empty() { path.to_string() } else { format!("{path}?{}", rest.join("&")) };
    if let Ok(uri) = uri.parse() {
        *req.uri_mut() = uri;
    }
}

/// The access-control middleware.
pub async fn authorize(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let config = req.extensions().get::<AuthConfig>().copied().unwrap_or_default();
    let path = req.uri().path().to_string();
    let Need::Role(required) = need(req.method(), &path) else {
        return next.run(req).await;
    };
    let token = bearer(&req);
    let caller = match caller(&app, &config, token).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if caller.role() < required {
        return forbidden(format!("this needs the `{required}` role; the token is `{}`", caller.role()));
    }
    let network = path_network(&path).map(|(n, _)| n);
    if let Some(scope) = caller.network() {
        match &network {
            Some(n) if n == scope => {}
            Some(n) => return forbidden(format!("the token is limited to network `{scope}`, not `{n}`")),
            None if req.method() != Method::GET && req.method() != Method::HEAD => {
                return forbidden(format!("the token is limited to network `{scope}`"));
            }
            None => {}
        }
    }
    let mut req = req;
    strip_access_token(&mut req);
    let partner = caller.partner();
    if let (Some(p), Some(net)) = (partner, network.as_deref()) {
        req = match partner_check(&app, p, net, req).await {
            Ok(r) => r,
            Err(r) => return r,
        };
    }
    let list = segments(&path);
    let is_list = |what: &str| matches!(list.as_slice(), ["networks", _, w] if *w == what);
    let method = req.method().clone();
    let res = ACTOR.scope(caller.actor(), next.run(req)).await;
    match partner {
        Some(p) if method == Method::GET && is_list("grants") => anonymise_grants(p, res).await,
        Some(p) if method == Method::GET && is_list("outlets") => own_outlets(p, res).await,
        Some(p) if matches!(list.as_slice(), ["networks", _, "partners", id] if id.parse::<i64>().ok() != Some(p)) => {
            forbidden(format!("a partner token sees only partner {p}"))
        }
        Some(p) if network.is_some() => anonymise_others(p, is_list("partners"), res).await,
        _ => res,
    }
}

/// Concurrency and time limits.
#[derive(Debug, Clone)]
pub struct Throttle {
    /// Requests in flight at most; more are answered 503 at once.
    pub permits: Arc<Semaphore>,
    /// Longest a request may run before it is answered 503.
    pub timeout: Duration,
}

fn busy(detail: String, retry_after: u64) -> Response {
    let mut r = super::problem::problem(StatusCode::SERVICE_UNAVAILABLE, "service-unavailable", &detail, json!({}));
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    r
}

/// The throttling middleware: a concurrency limit, then a timeout.
pub async fn throttle(req: Request, next: Next) -> Response {
    let Some(t) = req.extensions().get::<Throttle>().cloned() else { return next.run(req).await };
    let Ok(_permit) = t.permits.clone().try_acquire_owned() else {
        return busy("too many requests in flight; try again shortly".into(), 1);
    };
    match tokio::time::timeout(t.timeout, next.run(req)).await {
        Ok(res) => res,
        Err(_) => busy(format!("the request took longer than {} s and was stopped; nothing it started was kept", t.timeout.as_secs_f64()), 5),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_classed_by_what_they_do() {
        assert_eq!(need(&Method::GET, "/"), Need::Nothing);
        assert_eq!(need(&Method::GET, "/assets/app.js"), Need::Nothing);
        assert_eq!(need(&Method::GET, "/networks/smart/grants"), Need::Role(Role::Viewer));
        assert_eq!(need(&Method::GET, "/ogc/collections"), Need::Role(Role::Viewer));
        assert_eq!(need(&Method::POST, "/networks/smart/grants/check"), Need::Role(Role::Planner));
        assert_eq!(need(&Method::POST, "/networks/smart/score"), Need::Role(Role::Planner));
        assert_eq!(need(&Method::POST, "/networks/smart/grants"), Need::Role(Role::Admin));
        assert_eq!(need(&Method::POST, "/networks/smart/grants/3/revoke"), Need::Role(Role::Admin));
        assert_eq!(need(&Method::PUT, "/networks/smart/demand"), Need::Role(Role::Admin));
        assert_eq!(path_network("/tiles/smart.grants/1/2/3.mvt"), Some(("smart".into(), Some("grants".into()))));
        assert_eq!(path_network("/ogc/collections/haima.demand/items"), Some(("haima".into(), Some("demand".into()))));
        assert_eq!(path_network("/tiles/regions/1/2/3.mvt"), None);
        assert_eq!(path_network("/networks/smart/export/grants.gpkg").map(|n| n.0), Some("smart".into()));
    }
}
