//! Demand grids, scoring and plans through the router, on the seeded networks with a
//! small real grid (the Jiujiang cells of the scoring fixture) uploaded by each test.

use crate::common::{TestApp, app};
use axum::body::Body;
use axum::http::{Method, Request, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

// Seeded smart network: partner 4 holds 九江 360400 (grant 4) with three selling
// outlets there; partner 2 holds 武汉.
const JIUJIANG: [f64; 2] = [116.0, 29.70];

pub(crate) fn fixture_cells() -> Vec<(String, f64)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scoring/jiujiang_scenario.json");
    let scenario: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
    scenario["cells"].as_array().expect("cells").iter().map(|c| (c[0].as_str().expect("h3").to_string(), c[1].as_f64().expect("d"))).collect()
}

fn csv_of(cells: &[(String, f64)]) -> String {
    let mut s = String::from("h3,demand\n");
    for (h, d) in cells {
        s.push_str(&format!("{h},{d}\n"));
    }
    s
}

async fn send(app: &TestApp, method: Method, uri: &str, content_type: &str, body: String) -> crate::common::Reply {
    let req = Request::builder().method(method).uri(uri).header(header::CONTENT_TYPE, content_type).body(Body::from(body)).expect("request");
    let res = app.router.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let content_type = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    let text = String::from_utf8_lossy(&bytes).to_string();
    crate::common::Reply { status, content_type, body: serde_json::from_str(&text).unwrap_or(Value::Null), text }
}

pub(crate) async fn upload(app: &TestApp, net: &str) -> Value {
    let r = send(app, Method::PUT, &format!("/networks/{net}/demand"), "text/csv", csv_of(&fixture_cells())).await;
    r.expect(200);
    r.body.clone()
}

fn candidate(id: &str, at: [f64; 2]) -> Value {
    json!({"id": id, "location": {"type": "Point", "coordinates": at}})
}

#[tokio::test]
async fn a_csv_grid_replaces_the_old_one_and_is_served_as_hexagons() {
    let app = app().await;
    let info = upload(&app, "smart").await;
    let cells = fixture_cells();
    assert_eq!(info["cell_count"], json!(cells.len()));
    assert_eq!(info["resolution"], json!(8));
    let total: f64 = cells.iter().map(|c| c.1).sum();
    assert!((info["total"].as_f64().expect("total") - total).abs() < 1e-6 * total);
    let r = app.get("/networks/smart/demand?bbox=115.98,29.70,116.00,29.72").await;
    r.expect(200);
    assert_eq!(r.content_type, "application/geo+json");
    let features = r.body["features"].as_array().expect("features");
    assert!(!features.is_empty() && features.len() < 100, "{}", features.len());
    let f = &features[0];
    let ring = f["geometry"]["coordinates"][0].as_array().expect("ring");
    assert_eq!(ring.len(), 7, "a hexagon, closed");
    assert_eq!(ring[0], ring[6]);
    let h3 = f["properties"]["h3"].as_str().expect("h3");
    assert!(cells.iter().any(|(c, d)| c == h3 && Some(*d) == f["properties"]["demand"].as_f64()));
    assert_eq!(r.body["numberMatched"], json!(features.len()));
    // A larger box, a page of 7 at a time: following `next` as given returns every cell once.
    let first = app.get("/networks/smart/demand?bbox=115.9,29.6,116.1,29.8&limit=7").await;
    let matched = first.body["numberMatched"].as_u64().expect("numberMatched") as usize;
    assert!(matched > 20, "{matched} cells");
    let (mut seen, mut page, mut pages) = (std::collections::BTreeSet::new(), first, 0);
    loop {
        pages += 1;
        for f in page.body["features"].as_array().expect("features") {
            assert!(seen.insert(f["properties"]["h3"].as_str().expect("h3").to_string()), "a cell twice");
        }
        let links = page.body["links"].as_array().expect("links");
        let Some(next) = links.iter().find(|l| l["rel"] == "next") else { break };
        let href = next["href"].as_str().expect("href");
        page = app.get(href.strip_prefix("http://localhost:8080").expect("under the public URL")).await;
        page.expect(200);
    }
    assert_eq!((seen.len(), pages), (matched, matched.div_ceil(7)));
    // A second upload replaces the grid whole.
    let json_grid = json!({"cells": [{"h3": cells[0].0, "demand": 5.0}]});
    let r = app.call(Method::PUT, "/networks/smart/demand", Some(json_grid)).await;
    r.expect(200);
    assert_eq!(r.body["cell_count"], json!(1));
    assert_eq!(r.body["version"], json!(info["version"].as_i64().expect("version") + 1));
}

#[tokio::test]
async fn a_bad_grid_names_every_bad_line_and_replaces_nothing() {
    let app = app().await;
    let before = upload(&app, "smart").await;
    let cells = fixture_cells();
    let coarse = h3o::CellIndex::try_from(u64::from_str_radix(&cells[0].0, 16).expect("hex")).expect("cell").parent(h3o::Resolution::Seven).expect("parent");
    let body =
        format!("h3,demand\n{},1.5\nnot-a-cell,2\n{},-3\n{},NaN\n{},4\n{},1\n{},inf\n", cells[1].0, cells[2].0, cells[3].0, coarse, cells[1].0, cells[4].0);
    let r = send(&app, Method::PUT, "/networks/smart/demand", "text/csv", body).await;
    r.expect_problem(422);
    let pointers = r.pointers();
    assert_eq!(
        pointers,
        ["line 3, column h3", "line 4, column demand", "line 5, column demand", "line 6, column h3", "line 7, column h3", "line 8, column demand"],
        "{}",
        r.text
    );
    assert!(r.text.contains("resolution 7") && r.text.contains("listed twice"), "{}", r.text);
    let after = app.get("/networks/smart/demand?bbox=115.98,29.70,116.00,29.72").await;
    assert_eq!(after.body["grid"]["version"], before["version"], "nothing replaced");
    let r = app.call(Method::PUT, "/networks/smart/demand", Some(json!({"cells": [{"h3": cells[0].0, "demand": "lots"}]}))).await;
    r.expect_problem(422);
    assert_eq!(r.pointers(), ["/cells/0/demand"]);
}

#[tokio::test]
async fn scoring_needs_a_grid_and_reports_every_field_with_the_territory() {
    let app = app().await;
    let body = json!({"partner_id": 4, "candidates": [candidate("in", JIUJIANG)]});
    let r = app.post("/networks/smart/score", body.clone()).await;
    r.expect_problem(409);
    assert_eq!(r.body["type"], json!("urn:territory:problem:not-ready"), "{}", r.text);
    assert!(r.body["detail"].as_str().is_some_and(|d| d.contains("no demand grid")), "{}", r.text);
    upload(&app, "smart").await;
    let far = [115.89, 28.68]; // 南昌: beyond every cell's reach
    let mut wuhan_partner = body.clone();
    wuhan_partner["partner_id"] = json!(2);
    let r = app
        .post(
            "/networks/smart/score",
            json!({"partner_id": 4, "candidates": [
                candidate("open", JIUJIANG),
                {"id": 7, "location": {"type": "Point", "coordinates": [116.05, 29.65]}, "site_type": "auto_city", "format": "light_showroom"},
                candidate("far", far),
            ]}),
        )
        .await;
    r.expect(200);
    let c = &r.body["candidates"];
    let open = &c[0];
    for key in ["expected_sales", "cannibalised", "net_gain", "competitor_loss", "catchment_demand"] {
        assert!(open[key].as_f64().is_some_and(f64::is_finite), "{key}: {}", r.text);
    }
    assert!(open["cannibalised"].as_f64().expect("c") > 0.0, "the partner's own 九江 outlets lose sales: {}", r.text);
    let by = open["by_site_type"].as_object().expect("compared site types");
    assert_eq!(by.keys().collect::<Vec<_>>(), ["auto_city", "mall"]);
    let best = open["best_site_type"].as_str().expect("best");
    assert!(by[best]["net_gain"].as_f64() >= by[if best == "mall" { "auto_city" } else { "mall" }]["net_gain"].as_f64());
    assert_eq!(open["recommended_format"], json!("light_showroom"), "smart's one format has no sales minimum");
    assert_eq!((open["in_territory"].clone(), open["allowed"].clone()), (json!(true), json!(true)));
    assert_eq!(c[1]["id"], json!("7"));
    assert_eq!(c[1]["site_type"], json!("auto_city"));
    assert_eq!(c[1]["by_site_type"], Value::Null);
    assert_eq!(c[2]["catchment_demand"], json!(0.0));
    assert_eq!(c[2]["expected_sales"], json!(0.0));
    assert_eq!(c[2]["in_territory"], json!(false), "南昌 is outside 九江");
    // For the Wuhan partner the 九江 site is someone else's exclusive territory: not
    // allowed, and still scored.
    let r = app.post("/networks/smart/score", wuhan_partner).await;
    r.expect(200);
    let c = &r.body["candidates"][0];
    assert_eq!((c["in_territory"].clone(), c["allowed"].clone()), (json!(false), json!(false)));
    assert_eq!(c["blocking_grants"][0]["grant_id"], json!(4));
    assert!(c["expected_sales"].as_f64().expect("sales") > 0.0);
}

#[tokio::test]
async fn candidates_come_as_geojson_or_csv_and_results_go_out_as_geojson() {
    let app = app().await;
    upload(&app, "smart").await;
    let fc = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "a", "site_type": "mall"}, "geometry": {"type": "Point", "coordinates": JIUJIANG}},
    ]});
    let r = app.post("/networks/smart/score?partner_id=4&output=geojson", fc).await;
    r.expect(200);
    assert_eq!(r.content_type, "application/geo+json");
    assert_eq!(r.body["features"][0]["geometry"]["coordinates"], json!(JIUJIANG));
    assert!(r.body["features"][0]["properties"]["expected_sales"].as_f64().is_some());
    let csv = "id,lon,lat,site_type,format\nx,116.0,29.7,mall,\ny,116.05,29.65,,light_showroom\n".to_string();
    let r = send(&app, Method::POST, "/networks/smart/score?partner_id=4", "text/csv", csv).await;
    r.expect(200);
    assert_eq!(r.body["candidates"].as_array().map(Vec::len), Some(2), "{}", r.text);
    assert_eq!(r.body["candidates"][1]["format"], json!("light_showroom"));
}

#[tokio::test]
async fn bad_candidates_are_refused_with_located_errors() {
    let app = app().await;
    upload(&app, "smart").await;
    let r = app
        .post(
            "/networks/smart/score",
            json!({"candidates": [
                {"id": "a", "location": {"type": "Point", "coordinates": [116.0, 91.0]}},
                {"id": "b", "location": {"type": "Point", "coordinates": JIUJIANG}, "site_type": "airport"},
                {"id": "c", "location": {"type": "Point", "coordinates": JIUJIANG}, "format": "flagship"},
                {"id": "a", "location": {"type": "Point", "coordinates": JIUJIANG}},
            ]}),
        )
        .await;
    r.expect_problem(422);
    assert_eq!(r.pointers(), ["/candidates/0/location/coordinates/1", "/candidates/1/site_type", "/candidates/2/format", "/candidates/3/id"], "{}", r.text);
    let r = app.post("/networks/smart/score", json!({"candidates": [], "partner_id": 99})).await;
    r.expect_problem(422);
    // Candidates are read one at a time; the body's own shape is still checked whole.
    let point = json!({"type": "Point", "coordinates": JIUJIANG});
    let fc = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "a"}, "geometry": point},
        {"type": "Feature", "properties": {"id": "b", "site_type": 7}, "geometry": point},
    ]});
    let r = app.post("/networks/smart/score", fc).await;
    r.expect_problem(422);
    assert_eq!(r.pointers(), ["/features/1/properties/site_type"], "{}", r.text);
    for (body, pointer) in [
        (json!({"candidates": [{"id": "a", "location": point}], "k": 3}), "/k"),
        (json!({"partner_id": "x", "candidates": []}), "/partner_id"),
        (json!({"candidates": [{"id": "a"}]}), "/candidates/0"),
        (json!({"type": "FeatureCollection"}), "/features"),
        (json!({}), ""),
    ] {
        let r = app.post("/networks/smart/score", body.clone()).await;
        r.expect_problem(422);
        assert_eq!(r.pointers(), [pointer], "{body}: {}", r.text);
    }
    for body in [r#"{"candidates": 5}"#, r#"[1, 2]"#] {
        send(&app, Method::POST, "/networks/smart/score", "application/json", body.to_string()).await.expect_problem(422);
    }
    for body in [r#"{"candidates": [{"id": "a", "#, r#"{"candidates": []} trailing"#] {
        send(&app, Method::POST, "/networks/smart/score", "application/json", body.to_string()).await.expect_problem(400);
    }
    let r = app.post("/networks/smart/plan", json!({"k": 0, "candidates": [candidate("a", JIUJIANG)]})).await;
    r.expect_problem(422);
    assert_eq!(r.pointers(), ["/k"]);
}

#[tokio::test]
async fn a_plan_reports_each_step_and_can_keep_to_the_territory() {
    let app = app().await;
    upload(&app, "smart").await;
    let candidates =
        json!([candidate("centre", JIUJIANG), candidate("east", [116.10, 29.64]), candidate("west", [115.85, 29.68]), candidate("far", [115.89, 28.68]),]);
    let r = app.post("/networks/smart/plan", json!({"partner_id": 4, "k": 2, "candidates": candidates})).await;
    r.expect(200);
    let steps = r.body["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 2, "{}", r.text);
    assert_eq!(r.body["stopped"], json!("k_reached"));
    let mut total = r.body["network_total_before"].as_f64().expect("before");
    for s in steps {
        let (gain, after) = (s["gain"].as_f64().expect("gain"), s["network_total"].as_f64().expect("total"));
        assert!((after - total - gain).abs() < 1e-6, "{s}");
        total = after;
    }
    assert!(steps.iter().all(|s| s["candidate"] != json!("far")));
    // The Wuhan partner may open none of them: all are left out.
    let r = app.post("/networks/smart/plan", json!({"partner_id": 2, "k": 2, "within_territory": true, "candidates": candidates})).await;
    r.expect(200);
    assert_eq!(r.body["steps"], json!([]));
    assert_eq!(r.body["excluded"].as_array().map(Vec::len), Some(4));
    assert_eq!(r.body["stopped"], json!("no_gain"));
    // A high min_gain stops at once.
    let r = app.post("/networks/smart/plan", json!({"k": 3, "min_gain": 1e9, "candidates": candidates})).await;
    assert_eq!(r.body["stopped"], json!("no_gain"));
}

/// Great-circle distance, km, on the model's sphere.
fn km(a: &Value, b: &Value) -> f64 {
    let (lon1, lat1, lon2, lat2) = (a[0].as_f64().expect("lon"), a[1].as_f64().expect("lat"), b[0].as_f64().expect("lon"), b[1].as_f64().expect("lat"));
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let h = ((p2 - p1) / 2.0).sin().powi(2) + p1.cos() * p2.cos() * ((lon2 - lon1).to_radians() / 2.0).sin().powi(2);
    2.0 * 6371.0088 * h.sqrt().asin()
}

#[tokio::test]
async fn a_plan_keeps_to_its_constraints_and_names_what_stopped_each_candidate() {
    let app = app().await;
    upload(&app, "smart").await;
    let at = [[116.0, 29.70], [116.01, 29.705], [116.10, 29.64], [115.85, 29.68], [115.95, 29.62], [116.05, 29.75]];
    let candidates: Vec<Value> = at.iter().enumerate().map(|(i, p)| candidate(&format!("s{i}"), *p)).collect();
    // smart's capex: 250k an auto-city, 500k a mall; 800k buys two or three sites at most.
    let body = json!({"partner_id": 4, "k": 5, "candidates": candidates, "budget": 800000, "min_spacing_km": 3, "mix": {"auto_city": 0.5}});
    let r = app.post("/networks/smart/plan", body).await;
    r.expect(200);
    assert_eq!(r.body["model"]["source"], json!("policy"), "{}", r.text);
    let steps = r.body["steps"].as_array().expect("steps");
    assert!(!steps.is_empty(), "{}", r.text);
    assert_eq!(r.body["stopped"], json!("constraints"), "{}", r.text);
    let spent: f64 = steps.iter().map(|s| s["capex"].as_f64().expect("capex")).sum();
    assert!(spent <= 800_000.0, "{}", r.text);
    assert_eq!(steps.last().expect("a step")["capex_total"].as_f64(), Some(spent));
    for (i, a) in steps.iter().enumerate() {
        for b in &steps[..i] {
            assert!(km(&a["location"], &b["location"]) >= 3.0, "{}", r.text);
        }
        let autos = steps[..=i].iter().filter(|s| s["site_type"] == json!("auto_city")).count();
        assert!(2 * autos > i, "fewer than half auto-cities after {} sites: {}", i + 1, r.text);
    }
    let rejected = r.body["rejected"].as_array().expect("rejected");
    assert!(rejected.iter().any(|x| x["constraint"] == json!("budget")), "{}", r.text);
    for x in rejected {
        assert!(!steps.iter().any(|s| s["candidate"] == x["candidate"]), "chosen and rejected: {x}");
        match x["constraint"].as_str() {
            Some("spacing") => assert!(x["too_close_to"]["distance_km"].as_f64().expect("km") < 3.0, "{x}"),
            Some("budget") => assert!(x["detail"].as_str().expect("detail").contains("of the budget is left"), "{x}"),
            Some("mix") => assert!(x["step"].as_u64().is_some(), "{x}"),
            other => panic!("unknown constraint {other:?}"),
        }
    }
    // Only auto-cities, by money: each step's NPV is positive and reported.
    let r = app.post("/networks/smart/plan", json!({"k": 2, "candidates": candidates, "mix": {"auto_city": 1.0}, "objective": "npv"})).await;
    r.expect(200);
    assert_eq!(r.body["objective"], json!("npv"));
    for s in r.body["steps"].as_array().expect("steps") {
        assert_eq!(s["site_type"], json!("auto_city"), "{}", r.text);
        assert!(s["npv"].as_f64().expect("npv") >= 0.0, "{}", r.text);
    }
    // Bad constraints: 422, located; nothing chosen.
    let bad = [
        (json!({"mix": {"airport": 0.5}}), "/mix/airport"),
        (json!({"mix": {"mall": 0.6, "auto_city": 0.6}}), "/mix"),
        (json!({"mix": {"mall": 0.0}}), "/mix/mall"),
        (json!({"mix": {"mall": 0.3, "auto_city": 0.3}, "k": 1}), "/mix"),
        (json!({"budget": -1}), "/budget"),
        (json!({"min_spacing_km": -2}), "/min_spacing_km"),
    ];
    for (extra, pointer) in bad {
        let mut body = json!({"k": 3, "candidates": candidates});
        for (key, value) in extra.as_object().expect("object") {
            body[key] = value.clone();
        }
        let r = app.post("/networks/smart/plan", body).await;
        r.expect_problem(422);
        assert_eq!(r.pointers(), [pointer], "{}", r.text);
    }
    let r = app.post("/networks/smart/plan", json!({"k": 3, "candidates": candidates, "objective": "profit"})).await;
    r.expect_problem(422);
    assert_eq!(r.pointers(), ["/objective"], "{}", r.text);
}

#[tokio::test]
async fn compliance_flags_expected_sales_outside_the_format_range_once_there_is_demand() {
    let app = app().await;
    let r = app.get("/networks/haima/compliance").await;
    assert!(!r.text.contains("sales_outside_range"));
    // A thin grid around the Changsha elite store (112.94, 28.23): far below its 600–800.
    let centre = h3o::LatLng::new(28.23, 112.94).expect("ll").to_cell(h3o::Resolution::Eight);
    let cells: Vec<Value> = centre.grid_disk::<Vec<_>>(3).into_iter().map(|c| json!({"h3": c.to_string(), "demand": 1.0})).collect();
    app.call(Method::PUT, "/networks/haima/demand", Some(json!({"cells": cells}))).await.expect(200);
    let r = app.get("/networks/haima/compliance?partner_id=7").await;
    r.expect(200);
    let sales: Vec<&Value> = r.body["breaches"].as_array().expect("breaches").iter().filter(|b| b["rule"] == json!("sales_outside_range")).collect();
    let elite = sales.iter().find(|b| b["outlet_name"] == json!("长沙海马精英店")).unwrap_or_else(|| panic!("{}", r.text));
    let found = elite["found"]["expected_annual_sales"].as_f64().expect("sales");
    assert!(found > 0.0 && found < 37.0, "{found}");
    assert_eq!(elite["required"]["annual_sales"], json!({"min": 600.0, "max": 800.0}));
}

#[tokio::test]
async fn demands_that_add_up_beyond_a_float_are_refused_and_nothing_is_replaced() {
    let app = app().await;
    upload(&app, "smart").await;
    let body = "h3,demand\n88419d4841fffff,1e308\n88419d4843fffff,1e308\n88419d4845fffff,1.7976931348623157e308\n".to_string();
    let r = send(&app, Method::PUT, "/networks/smart/demand", "text/csv", body).await;
    r.expect_problem(422);
    assert!(r.text.contains("add up"), "{}", r.text);
    // The fixture grid is still there and scoring still answers.
    let s = app.post("/networks/smart/score", json!({"candidates": [candidate("a", JIUJIANG)]})).await;
    s.expect(200);
    assert!(s.body["network_total"].as_f64().is_some_and(f64::is_finite));
}

#[tokio::test]
async fn registrations_become_a_grid_spread_over_districts_by_population() {
    let app = app().await;
    // 九江 (a city) and 南昌 (a city) in 2024; an older year in the same file is left out.
    let csv = "adcode,year,units\n360400,2023,9000\n360400,2024,10000\n360100,2024,30000\n";
    let r = send(&app, Method::PUT, "/networks/smart/registrations?share=0.05", "text/csv", csv.into()).await;
    r.expect(200);
    assert_eq!(r.body["version"], json!(1));
    assert!((r.body["total"].as_f64().expect("total") - 40_000.0 * 0.05).abs() < 1e-6, "{}", r.text);
    assert_eq!(r.body["market_share"], json!(0.05));
    assert!(r.body["source"].as_str().is_some_and(|s| s.contains("registrations of 2024")), "{}", r.text);
    // Both cities' cells carry demand; 九江's centre, with more people a cell than its
    // countryside, more a cell than the average of the city.
    let sum = |body: &Value| body["features"].as_array().map_or(0.0, |fs| fs.iter().map(|f| f["properties"]["demand"].as_f64().unwrap_or(0.0)).sum::<f64>());
    for bbox in ["115.95,29.65,116.05,29.75", "115.85,28.65,115.95,28.75"] {
        let cells = app.get(&format!("/networks/smart/demand?bbox={bbox}&limit=100000")).await;
        assert!(sum(&cells.body) > 0.0, "{bbox}: {}", cells.text);
    }
    // Every bad line named, and nothing replaced.
    let bad = "adcode,year,units\n999999,2024,10\n360400,2024,-5\n360400,20x4,5\n360402,2024,7\n360400,2024,8\n";
    let r = send(&app, Method::PUT, "/networks/smart/registrations", "text/csv", bad.into()).await;
    r.expect_problem(422);
    let pointers = r.pointers();
    for p in ["line 2, column adcode", "line 3, column units", "line 4, column year", "line 6, column adcode"] {
        assert!(pointers.iter().any(|x| x == p), "missing {p} in {pointers:?}");
    }
    let before = app.get("/networks/smart/demand?bbox=115.0,28.9,116.9,30.1&limit=1").await;
    assert_eq!(before.body["grid"]["version"], json!(1), "the grid is unchanged: {}", before.text);
}
