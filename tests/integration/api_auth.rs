//! Access control and limits through the router on real SQLite copies: tokens by role and
//! scope, partner tokens, revocation, the audit actor, and each request limit; plus the
//! real binary's open-mode rule and token commands.

use crate::common::{Reply, TestApp, app, rect, test_db};
use axum::body::Body;
use axum::http::{Method, Request, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::process::Command;
use std::sync::Arc;
use territory::domain::access::{Role, hash_token, new_token};
use territory::http::{HttpLimits, ServeOptions, auth::AuthConfig, router_with};
use tower::ServiceExt;

pub(crate) async fn send(app: &TestApp, token: Option<&str>, method: Method, uri: &str, body: Option<Value>) -> Reply {
    let mut req = Request::builder().method(method).uri(uri).header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = req.body(Body::from(body.map(|b| b.to_string()).unwrap_or_default())).expect("request");
    let res = app.router.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let content_type = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let retry_after = res.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_string);
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    let text = String::from_utf8_lossy(&bytes).to_string();
    let mut body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if let (Some(r), Value::Object(m)) = (retry_after, &mut body) {
        m.insert("retry_after_header".into(), json!(r));
    }
    Reply { status, content_type, body, text }
}

pub(crate) async fn token(app: &TestApp, name: &str, role: Role, network: Option<&str>, partner: Option<i64>) -> (String, i64) {
    let secret = new_token().expect("random");
    let info = app.service.store().create_token(name, role, network, partner, &hash_token(&secret)).await.expect("token");
    (secret, info.id)
}

/// The same database and registry behind a router with other limits or auth settings.
fn rebuild(app: &TestApp, limits: HttpLimits, auth: AuthConfig) -> TestApp {
    let router = router_with(Arc::clone(&app.service), limits, ServeOptions { auth, ..ServeOptions::default() });
    TestApp { service: Arc::clone(&app.service), router, db: crate::common::TestDb { dir: tempfile::tempdir().expect("dir"), path: app.db.path.clone() } }
}

fn check_body(partner: i64) -> Value {
    json!({"partner_id": partner, "adcodes": ["440305"]})
}

#[tokio::test]
async fn only_a_service_started_open_answers_without_a_token() {
    let app = app().await;
    app.get("/networks/smart/grants").await.expect(200);
    let exposed = rebuild(&app, HttpLimits::default(), AuthConfig { open: false });
    send(&exposed, None, Method::GET, "/networks/smart/grants", None).await.expect_problem(401);
    // The map page's own files and /health stay open.
    send(&exposed, None, Method::GET, "/", None).await.expect(200);
    send(&exposed, None, Method::GET, "/health", None).await.expect(200);
}

#[tokio::test]
async fn each_role_reaches_its_route_class_and_is_refused_above_it() {
    let app = app().await;
    let (viewer, _) = token(&app, "viewer", Role::Viewer, None, None).await;
    let (planner, _) = token(&app, "planner", Role::Planner, None, None).await;
    let (admin, _) = token(&app, "admin", Role::Admin, None, None).await;
    // With a token in existence, no token or a wrong one is 401 even on loopback.
    let r = send(&app, None, Method::GET, "/networks/smart/grants", None).await;
    r.expect_problem(401);
    send(&app, Some("terr_wrong"), Method::GET, "/networks/smart/grants", None).await.expect_problem(401);
    let read = ["/networks/smart/grants", "/regions/440300", "/ogc/collections", "/tiles/smart.grants/8/208/111.mvt", "/networks/smart/export/grants.geojson"];
    for uri in read {
        for t in [&viewer, &planner, &admin] {
            let r = send(&app, Some(t), Method::GET, uri, None).await;
            assert_eq!(r.status.as_u16(), 200, "{uri}: {}", r.text);
        }
    }
    // Dry-run checks: planner and admin; viewer refused.
    send(&app, Some(&viewer), Method::POST, "/networks/smart/grants/check", Some(check_body(2))).await.expect_problem(403);
    send(&app, Some(&planner), Method::POST, "/networks/smart/grants/check", Some(check_body(2))).await.expect(200);
    send(&app, Some(&viewer), Method::POST, "/networks/smart/score", Some(json!({"candidates": []}))).await.expect_problem(403);
    // Writes: admin only.
    let grant = json!({"partner_id": 2, "geometry": rect(96.5, 36.5, 96.6, 36.6)});
    for t in [&viewer, &planner] {
        send(&app, Some(t), Method::POST, "/networks/smart/grants", Some(grant.clone())).await.expect_problem(403);
        send(&app, Some(t), Method::POST, "/networks/smart/partners", Some(json!({"name": "x", "tier": "city_partner"}))).await.expect_problem(403);
        send(&app, Some(t), Method::POST, "/networks/smart/grants/1/revoke", Some(json!({"reason": "x"}))).await.expect_problem(403);
    }
    let created = send(&app, Some(&admin), Method::POST, "/networks/smart/grants", Some(grant)).await;
    created.expect(201);
    // The audit log names the token that acted.
    let audit = send(&app, Some(&viewer), Method::GET, "/networks/smart/audit", None).await;
    let last = audit.body["entries"].as_array().or(audit.body.as_array()).and_then(|a| a.last().cloned()).expect("audit entries");
    assert!(last["actor"].as_str().is_some_and(|a| a.contains("(admin)")), "{last}");
    // GIS clients may pass the token as ?access_token= on GET.
    let r = send(&app, None, Method::GET, &format!("/ogc/collections/smart.grants/items?limit=2&access_token={viewer}"), None).await;
    r.expect(200);
    assert_eq!(r.body["numberReturned"], json!(2));
    // The links of the answer keep a token that came in the URL, so that a client that
    // follows `next` as given is let in; a token sent in a header is never written.
    let next = r.body["links"].as_array().and_then(|l| l.iter().find(|l| l["rel"] == "next")).expect("a next link")["href"].as_str().expect("href").to_string();
    assert!(next.contains(&format!("access_token={viewer}")), "{next}");
    let page2 = send(&app, None, Method::GET, next.strip_prefix("http://localhost:8080").expect("under the public URL"), None).await;
    page2.expect(200);
    assert_eq!(page2.body["numberReturned"], json!(2));
    let tiles = send(&app, None, Method::GET, &format!("/tiles/smart.grants.json?access_token={viewer}"), None).await;
    assert!(tiles.body["tiles"][0].as_str().is_some_and(|t| t.ends_with(&format!(".mvt?access_token={viewer}"))), "{}", tiles.text);
    let by_header = send(&app, Some(&viewer), Method::GET, "/ogc/collections/smart.grants/items?limit=2", None).await;
    assert!(!by_header.text.contains("access_token"), "{}", by_header.text);
}

#[tokio::test]
async fn a_network_scoped_token_reaches_only_its_network() {
    let app = app().await;
    let (haima, _) = token(&app, "haima admin", Role::Admin, Some("haima"), None).await;
    send(&app, Some(&haima), Method::GET, "/networks/haima/grants", None).await.expect(200);
    for uri in ["/networks/smart/grants", "/tiles/smart.grants/8/208/111.mvt", "/ogc/collections/smart.outlets/items", "/networks/smart/export/grants.gpkg"] {
        send(&app, Some(&haima), Method::GET, uri, None).await.expect_problem(403);
    }
    send(&app, Some(&haima), Method::POST, "/networks", Some(json!({"code": "x", "name": "x", "policy": "smart"}))).await.expect_problem(403);
    send(&app, Some(&haima), Method::POST, "/networks/smart/grants/check", Some(check_body(2))).await.expect_problem(403);
}

#[tokio::test]
async fn a_partner_token_sees_and_acts_only_for_its_partner() {
    let app = app().await;
    // Seeded smart: partner 1 holds 深圳 (grant 1), partner 2 holds 武汉.
    let (p1, _) = token(&app, "深圳 partner", Role::Admin, None, Some(1)).await;
    let list = send(&app, Some(&p1), Method::GET, "/networks/smart/grants", None).await;
    list.expect(200);
    let features = list.body["features"].as_array().expect("features");
    assert!(features.iter().any(|f| f["properties"]["partner_id"] == json!(1)));
    for f in features.iter().filter(|f| f["properties"]["partner_id"] != json!(1)) {
        assert_eq!(f["properties"]["anonymous"], json!(true), "{f}");
        assert!(f.get("id").is_none() && f["properties"].get("partner_name").is_none(), "{f}");
        assert!(f["geometry"].is_object(), "other territories stay as geometry");
    }
    let other: i64 =
        sqlx::query_scalar("select id from grants where partner_id = 2 limit 1").fetch_one(&app.service.store().pool).await.expect("a grant of partner 2");
    send(&app, Some(&p1), Method::GET, &format!("/networks/smart/grants/{other}"), None).await.expect_problem(403);
    send(&app, Some(&p1), Method::POST, &format!("/networks/smart/grants/{other}/revoke"), Some(json!({"reason": "x"}))).await.expect_problem(403);
    send(&app, Some(&p1), Method::GET, "/networks/smart/grants/1", None).await.expect(200);
    send(&app, Some(&p1), Method::POST, "/networks/smart/grants/check", Some(check_body(2))).await.expect_problem(403);
    send(&app, Some(&p1), Method::POST, "/networks/smart/grants/check", Some(check_body(1))).await.expect(200);
    let outlets = send(&app, Some(&p1), Method::GET, "/networks/smart/outlets", None).await;
    for f in outlets.body["features"].as_array().expect("outlets") {
        assert!(f["properties"]["partner_id"] == json!(1) || f["properties"]["competitor"] == json!(true), "{f}");
    }
    for uri in ["/networks/smart/audit", "/networks/smart/conflicts", "/networks/smart/export/conflicts.geojson", "/networks/smart/compliance"] {
        send(&app, Some(&p1), Method::GET, uri, None).await.expect_problem(403);
    }
    // Its own layers it may load, filtered to its partner (issue 18): grants, outlets.
    let export = send(&app, Some(&p1), Method::GET, "/networks/smart/export/grants.geojson", None).await;
    export.expect(200);
    let exported = export.body["features"].as_array().expect("features");
    assert!(!exported.is_empty() && exported.iter().all(|f| f["properties"]["partner_id"] == json!(1)), "{}", export.text);
    send(&app, Some(&p1), Method::GET, "/tiles/smart.outlets/8/208/111.mvt", None).await.expect(200);
    send(&app, Some(&p1), Method::GET, "/networks/smart/compliance?partner_id=1", None).await.expect(200);
    send(&app, Some(&p1), Method::POST, "/networks/smart/partners", Some(json!({"name": "x", "tier": "city_partner"}))).await.expect_problem(403);
}

#[tokio::test]
async fn a_partner_token_sees_other_partners_only_as_anonymous_geometry_in_every_answer() {
    let app = app().await;
    crate::api_scoring::upload(&app, "smart").await; // before any token exists
    let holder: String = sqlx::query_scalar("select name from partners where id = 1").fetch_one(&app.service.store().pool).await.expect("partner 1");
    // The 武汉 partner (2) asks for 南山区, inside partner 1's exclusive 深圳.
    let (p2, _) = token(&app, "武汉 partner", Role::Admin, None, Some(2)).await;
    let ask = json!({"partner_id": 2, "adcodes": ["440305"]});
    let (planner, _) = token(&app, "planner", Role::Planner, None, None).await;
    let named = send(&app, Some(&planner), Method::POST, "/networks/smart/grants/check", Some(ask.clone())).await;
    assert_eq!(named.body["conflicts"][0]["partner_name"], json!(holder), "a planner sees the holder: {}", named.text);
    let check = send(&app, Some(&p2), Method::POST, "/networks/smart/grants/check", Some(ask.clone())).await;
    check.expect(200);
    let conflict = &check.body["conflicts"][0];
    assert_eq!(conflict["anonymous"], json!(true), "{}", check.text);
    for key in ["partner_id", "partner_name", "grant_id"] {
        assert!(conflict.get(key).is_none(), "{key} shown: {conflict}");
    }
    assert!(conflict["geometry"].is_object() && conflict["overlap_km2"].as_f64().is_some_and(|k| k > 100.0), "{conflict}");
    // A partner token never grants, whatever its role (issue 18): refused before any decision.
    let refused = send(&app, Some(&p2), Method::POST, "/networks/smart/grants", Some(ask)).await;
    refused.expect_problem(403);
    assert!(!refused.text.contains(&holder), "the refusal names the holder: {}", refused.text);
    // A site in 南山区 is blocked by partner 1's grant, which the score does not name.
    let site = json!({"partner_id": 2, "candidates": [{"id": "sz", "location": {"type": "Point", "coordinates": [113.93, 22.52]}}]});
    let named = send(&app, Some(&planner), Method::POST, "/networks/smart/score", Some(site.clone())).await;
    assert!(named.text.contains(&holder), "a planner sees the blocking grant's holder: {}", named.text);
    let score = send(&app, Some(&p2), Method::POST, "/networks/smart/score", Some(site)).await;
    score.expect(200);
    assert!(score.text.contains("\"anonymous\":true") && !score.text.contains(&holder), "the score names the holder: {}", score.text);
    // Partners: only its own.
    let partners = send(&app, Some(&p2), Method::GET, "/networks/smart/partners", None).await;
    partners.expect(200);
    let ids: Vec<i64> = partners.body["partners"].as_array().expect("partners").iter().filter_map(|p| p["id"].as_i64()).collect();
    assert_eq!(ids, [2], "{}", partners.text);
    send(&app, Some(&p2), Method::GET, "/networks/smart/partners/1", None).await.expect_problem(403);
    send(&app, Some(&p2), Method::GET, "/networks/smart/partners/2", None).await.expect(200);
}

#[tokio::test]
async fn a_revoked_token_stops_working_at_once() {
    let app = app().await;
    let (t, id) = token(&app, "soon gone", Role::Viewer, None, None).await;
    send(&app, Some(&t), Method::GET, "/networks/smart/grants", None).await.expect(200);
    app.service.store().revoke_token(id).await.expect("revoke");
    send(&app, Some(&t), Method::GET, "/networks/smart/grants", None).await.expect_problem(401);
}

/// Runs `territory token ARGS --db PATH` as its own process; its stdout.
fn token_cli(db: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_territory")).arg("token").args(args).arg("--db").arg(db).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Sends `GET uri` with `token` until it answers `status`; how long that took after `since`.
async fn answered_within(app: &TestApp, token: Option<&str>, uri: &str, status: u16, since: std::time::Instant) -> std::time::Duration {
    let limit = territory::store::changes::SEEN_WITHIN;
    loop {
        let r = send(app, token, Method::GET, uri, None).await;
        if r.status.as_u16() == status {
            return since.elapsed();
        }
        assert!(since.elapsed() <= limit, "still {} after {:?} (bound {limit:?}): {}", r.status, since.elapsed(), r.text);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn tokens_made_and_revoked_by_another_process_count_within_the_stated_bound() {
    // Token answers are kept in memory until a commit to the file is seen: this pins that a
    // commit by another process (the CLI) counts within `SEEN_WITHIN`, both ways, however
    // often the answer was asked before, and one by this process at once.
    let app = app().await;
    for _ in 0..3 {
        send(&app, None, Method::GET, "/networks/smart/grants", None).await.expect(200);
    }
    let secret = token_cli(&app.db.path, &["create", "--name", "ops", "--role", "viewer"]);
    let made = std::time::Instant::now();
    let took = answered_within(&app, None, "/networks/smart/grants", 401, made).await;
    println!("a token made by another process counted after {took:?}");
    for _ in 0..3 {
        send(&app, Some(&secret), Method::GET, "/networks/smart/grants", None).await.expect(200);
    }
    send(&app, Some(&secret), Method::POST, "/networks/smart/grants/check", Some(check_body(1))).await.expect_problem(403);
    let id = app.service.store().tokens().await.expect("tokens")[0].id.to_string();
    token_cli(&app.db.path, &["revoke", &id]);
    let revoked = std::time::Instant::now();
    let took = answered_within(&app, Some(&secret), "/networks/smart/grants", 401, revoked).await;
    println!("a token revoked by another process was refused after {took:?}");
    // With no active token left it stays closed: a service that had tokens never runs open.
    send(&app, None, Method::GET, "/networks/smart/grants", None).await.expect_problem(401);
    // Made and revoked by this process: counts from the next request.
    let (mine, mine_id) = token(&app, "own", Role::Viewer, None, None).await;
    send(&app, Some(&mine), Method::GET, "/networks/smart/grants", None).await.expect(200);
    send(&app, None, Method::GET, "/networks/smart/grants", None).await.expect_problem(401);
    app.service.store().revoke_token(mine_id).await.expect("revoke");
    send(&app, Some(&mine), Method::GET, "/networks/smart/grants", None).await.expect_problem(401);
}

#[tokio::test]
async fn each_limit_answers_with_a_clear_problem() {
    let app = app().await;
    // Features per request.
    let few = rebuild(&app, HttpLimits { max_import_features: 2, ..HttpLimits::default() }, AuthConfig { open: true });
    let cells = crate::api_scoring::fixture_cells();
    let csv: String = std::iter::once("h3,demand\n".to_string()).chain(cells.iter().take(3).map(|(h, d)| format!("{h},{d}\n"))).collect();
    let req =
        Request::builder().method(Method::PUT).uri("/networks/smart/demand").header(header::CONTENT_TYPE, "text/csv").body(Body::from(csv)).expect("request");
    let res = few.router.clone().oneshot(req).await.expect("infallible");
    assert_eq!(res.status().as_u16(), 422);
    let text = String::from_utf8_lossy(&res.into_body().collect().await.expect("body").to_bytes()).to_string();
    assert!(text.contains("at most 2"), "{text}");
    // The same as JSON: reading stops at the third cell.
    let body = json!({"cells": cells.iter().take(3).map(|(h, d)| json!({"h3": h, "demand": d})).collect::<Vec<_>>()}).to_string();
    let req = Request::builder()
        .method(Method::PUT)
        .uri("/networks/smart/demand")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("request");
    let res = few.router.clone().oneshot(req).await.expect("infallible");
    assert_eq!(res.status().as_u16(), 422);
    let text = String::from_utf8_lossy(&res.into_body().collect().await.expect("body").to_bytes()).to_string();
    assert!(text.contains("at most 2"), "{text}");
    // Concurrency: with no request allowed in flight, every request is 503 with Retry-After.
    let none = rebuild(&app, HttpLimits { max_concurrent: 0, ..HttpLimits::default() }, AuthConfig { open: true });
    let r = send(&none, None, Method::GET, "/networks/smart/grants", None).await;
    r.expect_problem(503);
    assert_eq!(r.body["retry_after_header"], json!("1"));
    // Time: a request that runs longer than the timeout is stopped with 503 and Retry-After.
    let hasty = rebuild(&app, HttpLimits { request_timeout: std::time::Duration::from_nanos(1), ..HttpLimits::default() }, AuthConfig { open: true });
    let r = send(&hasty, None, Method::GET, "/export/regions.gpkg", None).await;
    r.expect_problem(503);
    assert!(r.body["retry_after_header"].is_string());
    // Body size (413) and vertices per geometry (422) are pinned in api_input.rs.
}

#[test]
fn the_binary_runs_open_only_when_told_on_loopback_and_never_after_a_token() {
    let db = test_db();
    let bin = env!("CARGO_BIN_EXE_territory");
    let serve = |args: &[&str]| Command::new(bin).arg("serve").args(args).arg("--db").arg(&db.path).output().expect("run");
    // --open beyond loopback: refused.
    let out = serve(&["--open", "--listen", "0.0.0.0:0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"), "{}", String::from_utf8_lossy(&out.stderr));
    // Without --open it starts anywhere (every request then needs a token), and says so.
    let (child, addr) = crate::binary::serve_with(&db.path, &[]);
    let server = crate::binary::Server(child);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let status = |path: &str, token: Option<&str>| {
        rt.block_on(async {
            let mut req = reqwest::Client::new().get(format!("{addr}{path}"));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req.send().await.expect("send").status().as_u16()
        })
    };
    assert_eq!(status("/networks/smart/grants", None), 401);
    assert_eq!(status("/health", None), 200);
    crate::binary::sigterm(&server.0);
    drop(server);
    let created = Command::new(bin).args(["token", "create", "--name", "ops", "--role", "admin", "--db"]).arg(&db.path).output().expect("run");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let secret = String::from_utf8_lossy(&created.stdout).trim().to_string();
    assert!(secret.starts_with("terr_"));
    let listed = Command::new(bin).args(["token", "list", "--db"]).arg(&db.path).output().expect("run");
    let listing = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(listing.contains("ops") && listing.contains("admin") && !listing.contains(&secret), "the secret is never shown again: {listing}");
    let revoked = Command::new(bin).args(["token", "revoke", "1", "--db"]).arg(&db.path).output().expect("run");
    assert!(revoked.status.success());
    // Its only token revoked, the database still never runs open.
    let out = serve(&["--open", "--listen", "127.0.0.1:0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("never runs open"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// At every log level, a request's `?access_token=` never reaches the log: spans name the
/// method and the path only.
#[test]
fn a_token_in_the_query_is_never_logged() {
    let db = test_db();
    let bin = env!("CARGO_BIN_EXE_territory");
    let created = Command::new(bin).args(["token", "create", "--name", "gis", "--role", "viewer", "--db"]).arg(&db.path).output().expect("run");
    let secret = String::from_utf8_lossy(&created.stdout).trim().to_string();
    let log = db.dir.path().join("serve.log");
    let mut child = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--no-seed-demand", "--db"])
        .arg(&db.path)
        .env("RUST_LOG", "trace")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().expect("stdout")), &mut line).expect("line");
    let server = crate::binary::Server(child);
    let base = line.trim().strip_prefix("listening on ").expect("address").to_string();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let status = rt.block_on(async { reqwest::get(format!("{base}/networks/smart/grants?access_token={secret}")).await.expect("get").status().as_u16() });
    assert_eq!(status, 200);
    crate::binary::sigterm(&server.0);
    drop(server);
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(text.contains("/networks/smart/grants"), "the request is logged: {} bytes", text.len());
    assert!(!text.contains(&secret) && !text.contains("access_token="), "the token reached the log");
}
