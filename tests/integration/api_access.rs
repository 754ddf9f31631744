//! Issue 18's breaks, each as a regression test: authorization decided by the application
//! on the decoded, typed request, and answers built for what the caller may see.
//!
//! Seeded smart network: partners 1 深圳 (grant 1), 2 武汉, 3 成都, 4 九江, 5 西宁, each
//! holding its city exclusively; the scoring fixture grid lies around 九江.

use crate::api_auth::{send, token};
use crate::common::{TestApp, app, rect};
use axum::http::Method;
use serde_json::{Value, json};
use territory::domain::access::Role;

const JIUJIANG: [f64; 2] = [116.0, 29.70];
const WUHAN: [f64; 2] = [114.30, 30.60];

fn point(p: [f64; 2]) -> Value {
    json!({"type": "Point", "coordinates": p})
}

fn showroom(partner: i64, at: [f64; 2]) -> Value {
    json!({"partner_id": partner, "name": "测试展厅", "location": point(at), "format": "light_showroom", "site_type": "mall"})
}

async fn partner_name(app: &TestApp, id: i64) -> String {
    sqlx::query_scalar("select name from partners where id = ?").bind(id).fetch_one(&app.service.store().pool).await.expect("partner")
}

#[tokio::test]
async fn percent_encoded_ids_and_parameter_names_meet_the_same_checks() {
    let app = app().await;
    let (p1, _) = token(&app, "深圳 viewer", Role::Viewer, None, Some(1)).await;
    let (haima, _) = token(&app, "haima only", Role::Admin, Some("haima"), None).await;
    let other = partner_name(&app, 2).await;
    // `smart%2Egrants` is `smart.grants`: a partner reads its own grants only.
    let items = send(&app, Some(&p1), Method::GET, "/ogc/collections/smart%2Egrants/items?limit=1000", None).await;
    items.expect(200);
    let features = items.body["features"].as_array().expect("features");
    assert!(!features.is_empty() && features.iter().all(|f| f["properties"]["partner_id"] == json!(1)), "{}", items.text);
    assert!(!items.text.contains(&other), "another partner named: {}", items.text);
    // A token of another network is refused, however the id is spelled.
    for uri in
        ["/ogc/collections/smart%2Egrants/items", "/tiles/smart%2Egrants/8/208/111.mvt", "/tiles/smart%2Egrants.json", "/ogc/collections/smart%2Eoutlets"]
    {
        send(&app, Some(&haima), Method::GET, uri, None).await.expect_problem(403);
    }
    // `partner%5Fid` is `partner_id`: another partner's compliance stays closed.
    send(&app, Some(&p1), Method::GET, "/networks/smart/compliance?partner%5Fid=2", None).await.expect_problem(403);
    send(&app, Some(&p1), Method::GET, "/networks/smart/compliance?partner%5Fid=1", None).await.expect(200);
    let listed = send(&app, Some(&p1), Method::GET, "/networks/smart/grants?partner%5Fid=2", None).await;
    listed.expect(200);
    assert!(!listed.text.contains(&other), "{}", listed.text);
}

#[tokio::test]
async fn a_partner_token_never_acts_for_another_partner_whatever_the_body_says() {
    let app = app().await;
    crate::api_scoring::upload(&app, "smart").await;
    let (p1, _) = token(&app, "深圳 admin", Role::Admin, None, Some(1)).await;
    let candidate = json!([{"id": "a", "location": point(JIUJIANG)}]);
    let bodies = [
        ("/networks/smart/grants/check", json!({"partner_id": 2, "adcodes": ["420102"]})),
        ("/networks/smart/score", json!({"partner_id": 2, "candidates": candidate})),
        (
            "/networks/smart/score?partner_id=2",
            json!({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"id": "a"}, "geometry": point(JIUJIANG)}]}),
        ),
        ("/networks/smart/plan", json!({"partner_id": 2, "k": 1, "candidates": candidate})),
        ("/networks/smart/outlets", showroom(2, WUHAN)),
        ("/networks/smart/outlets", json!({"competitor": true, "brand": "BYD", "name": "比亚迪", "location": point(WUHAN), "site_type": "mall"})),
    ];
    for (uri, body) in bodies {
        let r = send(&app, Some(&p1), Method::POST, uri, Some(body)).await;
        assert_eq!(r.status.as_u16(), 403, "{uri}: {}", r.text);
    }
    // Its own outlet it may make, but not hand over by a patch.
    let own = send(&app, Some(&p1), Method::POST, "/networks/smart/outlets", Some(showroom(1, [114.05, 22.55]))).await;
    own.expect(201);
    let id = own.body["id"].as_i64().expect("id");
    send(&app, Some(&p1), Method::PATCH, &format!("/networks/smart/outlets/{id}"), Some(json!({"partner_id": 2, "location": point(WUHAN)})))
        .await
        .expect_problem(403);
    let after = send(&app, Some(&p1), Method::GET, &format!("/networks/smart/outlets/{id}"), None).await;
    assert_eq!(after.body["properties"]["partner_id"], json!(1), "the outlet stays its partner's");
    // Scoring with no partner named acts for its own.
    let scored = send(&app, Some(&p1), Method::POST, "/networks/smart/score", Some(json!({"candidates": candidate}))).await;
    scored.expect(200);
    assert_eq!(scored.body["partner_id"], json!(1));
}

#[tokio::test]
async fn a_partner_token_never_governs_whatever_its_role() {
    let app = app().await;
    let (p1, _) = token(&app, "深圳 admin", Role::Admin, None, Some(1)).await;
    let (hq, _) = token(&app, "hq", Role::Admin, None, None).await;
    let writes = [
        (Method::POST, "/networks/smart/grants", json!({"partner_id": 1, "adcodes": ["441300"]})),
        (Method::POST, "/networks/smart/grants/1/revoke", json!({"reason": "x"})),
        (Method::POST, "/networks/smart/partners", json!({"name": "新伙伴", "tier": "city_partner"})),
        (Method::POST, "/networks", json!({"code": "mine", "name": "mine", "policy": "smart"})),
        (Method::PUT, "/networks/smart/demand", json!({"cells": []})),
    ];
    for (method, uri, body) in &writes {
        let r = send(&app, Some(&p1), method.clone(), uri, Some(body.clone())).await;
        assert_eq!(r.status.as_u16(), 403, "{method} {uri}: {}", r.text);
        assert!(r.text.contains("partner token"), "{}", r.text);
    }
    let (grants, audit) = app.counts().await;
    // The same writes by HQ's admin are decided on their merits.
    send(&app, Some(&hq), Method::POST, "/networks/smart/grants", Some(writes[0].2.clone())).await.expect(201);
    assert_eq!(app.counts().await, (grants + 1, audit + 1), "only HQ's grant was written");
}

#[tokio::test]
async fn a_scored_geojson_names_no_blocking_grant_of_another_partner() {
    let app = app().await;
    crate::api_scoring::upload(&app, "smart").await;
    let holder = partner_name(&app, 4).await;
    let (p2, _) = token(&app, "武汉 planner", Role::Planner, None, Some(2)).await;
    let body = json!({"partner_id": 2, "candidates": [{"id": "jj", "location": point(JIUJIANG)}]});
    let r = send(&app, Some(&p2), Method::POST, "/networks/smart/score?output=geojson", Some(body)).await;
    r.expect(200);
    let blocking = r.body["features"][0]["properties"]["blocking_grants"].as_str().expect("blocking grants as text");
    assert!(blocking.contains("\"anonymous\":true") && !blocking.contains("grant_id"), "{blocking}");
    assert!(!r.text.contains(&holder), "the holder is named: {}", r.text);
}

#[tokio::test]
async fn each_caller_keeps_its_own_scoring_run() {
    let app = app().await;
    crate::api_scoring::upload(&app, "smart").await;
    let (hq, _) = token(&app, "hq planner", Role::Planner, None, None).await;
    let (p4, _) = token(&app, "九江 planner", Role::Planner, None, Some(4)).await;
    let sites: Vec<Value> = (0..12).map(|i| json!({"id": format!("hq{i}"), "location": point([115.95 + 0.01 * i as f64, 29.70])})).collect();
    send(&app, Some(&hq), Method::POST, "/networks/smart/score", Some(json!({"candidates": sites}))).await.expect(200);
    send(&app, Some(&p4), Method::POST, "/networks/smart/score", Some(json!({"candidates": [{"id": "mine", "location": point(JIUJIANG)}]}))).await.expect(200);
    let layer = |token: String| {
        let app = &app;
        async move { send(app, Some(&token), Method::GET, "/networks/smart/export/candidates.geojson", None).await.body["features"].as_array().map_or(0, Vec::len) }
    };
    assert_eq!(layer(hq.clone()).await, 12, "HQ's candidates stay HQ's");
    assert_eq!(layer(p4.clone()).await, 1, "the partner sees its own run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_update_racing_a_close_never_reopens_the_outlet() {
    let app = app().await;
    for round in 0..12 {
        let at = [114.25 + 0.005 * round as f64, 30.60];
        let made = app.post("/networks/smart/outlets", showroom(2, at)).await;
        made.expect(201);
        let id = made.body["id"].as_i64().expect("id");
        let uri = format!("/networks/smart/outlets/{id}");
        let close = format!("{uri}/close");
        let (patched, closed) =
            tokio::join!(app.call(Method::PATCH, &uri, Some(json!({"note": format!("round {round}")}))), app.post(&close, json!({"reason": "race"})),);
        closed.expect(200);
        assert!(matches!(patched.status.as_u16(), 200 | 409), "{}", patched.text);
        let now = app.get(&uri).await;
        assert_eq!(now.body["properties"]["status"], json!("closed"), "round {round}: the update reopened the outlet ({})", patched.status);
    }
}

/// Every route of `/openapi.json` (and the OGC ones), called by partner A's token, with
/// B's ids where a route takes ids: no answer names B, B's grant ids or B's notes.
#[tokio::test]
async fn no_route_shows_partner_a_anything_of_partner_b() {
    let app = app().await;
    crate::api_scoring::upload(&app, "smart").await;
    // B is 武汉 (partner 2): a grant and an outlet with notes no other record has.
    let b = 2;
    let b_name = partner_name(&app, b).await;
    let note = "note-of-B-7c1f";
    // (Away from 武汉, which B holds already: the same territory twice is a duplicate.)
    let b_grant = app.post("/networks/smart/grants", json!({"partner_id": b, "geometry": rect(96.5, 36.5, 96.6, 36.6), "note": note})).await;
    b_grant.expect(201);
    let b_grant = b_grant.body["id"].as_i64().expect("grant id");
    let mut outlet = showroom(b, WUHAN);
    outlet["note"] = json!(note);
    let b_outlet = app.post("/networks/smart/outlets", outlet).await;
    b_outlet.expect(201);
    let b_outlet = b_outlet.body["id"].as_i64().expect("outlet id");
    let b_grant_ids: Vec<i64> =
        sqlx::query_scalar("select id from grants where partner_id = ?").bind(b).fetch_all(&app.service.store().pool).await.expect("ids");
    let (a, _) = token(&app, "深圳 admin", Role::Admin, None, Some(1)).await;

    let spec = app.get("/openapi.json").await.body;
    let mut calls: Vec<(Method, String, Option<Value>)> = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("methods").keys() {
            let uri = path.replace("{net}", "smart").replace("{adcode}", "420100").replace("{layer}", "smart.grants").replace("{z}", "8").replace("{x}", "208");
            let uri = match path.as_str() {
                p if p.contains("/grants/{id}") => uri.replace("{id}", &b_grant.to_string()),
                p if p.contains("/outlets/{id}") => uri.replace("{id}", &b_outlet.to_string()),
                p if p.contains("/partners/{id}") => uri.replace("{id}", &b.to_string()),
                p if p.starts_with("/export/") => uri.replace("{file}", "regions.geojson"),
                p if p.contains("/export/") => uri.replace("{file}", "grants.geojson"),
                p if p.starts_with("/tiles/{file}") => uri.replace("{file}", "smart.grants.json"),
                _ => uri.replace("{file}", "111.mvt"),
            };
            let site = json!([{"id": "s", "location": point(WUHAN)}]);
            let body = match (method.as_str(), path.as_str()) {
                ("post", p) if p.ends_with("/grants/check") => Some(json!({"partner_id": 1, "geometry": rect(114.75, 30.95, 114.85, 31.05)})),
                ("post", p) if p.ends_with("/score") => Some(json!({"candidates": site})),
                ("post", p) if p.ends_with("/plan") => Some(json!({"k": 1, "candidates": site})),
                ("post", p) if p.ends_with("/outlets") => Some(showroom(1, WUHAN)),
                ("post", p) if p.ends_with("/revoke") || p.ends_with("/close") => Some(json!({"reason": "x"})),
                ("patch", _) => Some(json!({"note": "x"})),
                ("post" | "put", _) => Some(json!({})),
                _ => None,
            };
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            calls.push((method, uri, body));
        }
    }
    for uri in [
        "/ogc/collections",
        "/ogc/collections/smart.grants/items?limit=1000",
        "/ogc/collections/smart.outlets/items",
        "/ogc/collections/smart.candidates/items",
    ] {
        calls.push((Method::GET, uri.to_string(), None));
    }
    assert!(calls.len() > 30, "the walk covers the API ({} calls)", calls.len());
    let mut leaks = Vec::new();
    for (method, uri, body) in calls {
        let r = send(&app, Some(&a), method.clone(), &uri, body).await;
        let text = &r.text;
        let mut found = Vec::new();
        if text.contains(&b_name) {
            found.push(format!("B's name `{b_name}`"));
        }
        if text.contains(note) {
            found.push("B's note".to_string());
        }
        for id in &b_grant_ids {
            for pattern in [format!("\"grant_id\":{id},"), format!("\"grant_id\":{id}}}"), format!("\"id\":{id},\"network\":\"smart\",\"partner_id\":{b}")] {
                if text.contains(&pattern) {
                    found.push(format!("B's grant {id}"));
                }
            }
        }
        if !found.is_empty() {
            leaks.push(format!("{method} {uri} ({}): {}", r.status, found.join(", ")));
        }
    }
    assert!(leaks.is_empty(), "answers to partner A that show partner B:\n{}", leaks.join("\n"));
}

/// A process's memory figure (`VmHWM`, `VmRSS`) in MiB, from `/proc`.
fn memory_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let kb: f64 = status.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).expect("figure");
    kb / 1024.0
}

/// A partner's export of a large layer is streamed: the service's peak memory grows by a
/// small, bounded amount, not by the size of the answer (it used to buffer and re-parse
/// whole answers for partner tokens: 1.1 → 7.1 GB for part of the grid).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partners_large_export_is_streamed_in_bounded_memory() {
    use h3o::{CellIndex, LatLng, Resolution};
    let db = crate::common::test_db();
    let created = std::process::Command::new(env!("CARGO_BIN_EXE_territory"))
        .args(["token", "create", "--name", "hq", "--role", "admin", "--db"])
        .arg(&db.path)
        .output()
        .expect("token");
    let hq = String::from_utf8_lossy(&created.stdout).trim().to_string();
    let (child, base) = crate::binary::serve_with(&db.path, &[]);
    let server = crate::binary::Server(child);
    let pid = server.0.id();
    let client = reqwest::Client::new();
    // About 200,000 res-8 cells around 九江, as CSV.
    let centre = LatLng::new(JIUJIANG[1], JIUJIANG[0]).expect("point").to_cell(Resolution::Eight);
    let cells: Vec<CellIndex> = centre.grid_disk::<Vec<_>>(258);
    let csv: String = std::iter::once("h3,demand\n".to_string()).chain(cells.iter().map(|c| format!("{c},1.5\n"))).collect();
    let put = client.put(format!("{base}/networks/smart/demand")).bearer_auth(&hq).header("content-type", "text/csv").body(csv).send().await.expect("upload");
    assert_eq!(put.status().as_u16(), 200, "{}", put.text().await.unwrap_or_default());
    let partner = String::from_utf8_lossy(
        &std::process::Command::new(env!("CARGO_BIN_EXE_territory"))
            .args(["token", "create", "--name", "九江", "--role", "viewer", "--partner-id", "4", "--db"])
            .arg(&db.path)
            .output()
            .expect("token")
            .stdout,
    )
    .trim()
    .to_string();
    // Warm the layer (built once, shared by every viewer), then measure the export alone.
    let warm = client.get(format!("{base}/tiles/smart.demand/8/208/111.mvt")).bearer_auth(&partner).send().await.expect("tile");
    assert_eq!(warm.status().as_u16(), 200);
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset the peak");
    let before = memory_mib(pid, "VmRSS:");
    let mut res = client.get(format!("{base}/networks/smart/export/demand.geojson")).bearer_auth(&partner).send().await.expect("export");
    assert_eq!(res.status().as_u16(), 200);
    let mut bytes = 0usize;
    while let Some(chunk) = res.chunk().await.expect("chunk") {
        bytes += chunk.len();
    }
    let peak = memory_mib(pid, "VmHWM:");
    let grown = peak - before;
    let answer_mib = bytes as f64 / 1048576.0;
    println!("partner export: {answer_mib:.0} MiB of GeoJSON streamed; the service's peak grew by {grown:.1} MiB (from {before:.0} MiB)");
    assert!(answer_mib > 50.0, "a large answer ({answer_mib:.0} MiB)");
    assert!(grown < 64.0, "the peak grew by {grown:.1} MiB for a {answer_mib:.0} MiB answer");
}
