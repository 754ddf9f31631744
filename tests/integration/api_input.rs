//! Bad input: a located 4xx problem+json, and nothing written.

use crate::common::{TestApp, app, app_on, rect, test_db};
use axum::http::Method;
use serde_json::{Value, json};
use territory::geometry::GeometryLimits;
use territory::http::HttpLimits;

/// Posts a grant body to create and check; both must answer `status` and write nothing.
async fn refused(app: &TestApp, body: Value, status: u16) -> Vec<String> {
    let before = app.counts().await;
    let r = app.post("/networks/smart/grants", body.clone()).await;
    r.expect_problem(status);
    app.post("/networks/smart/grants/check", body).await.expect_problem(status);
    assert_eq!(app.counts().await, before, "refused input must write nothing");
    r.pointers()
}

fn with_geometry(geometry: Value) -> Value {
    json!({"partner_id": 1, "geometry": geometry})
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = app().await;
    let before = app.counts().await;
    let r = app.raw(Method::POST, "/networks/smart/grants", "{\"partner_id\": 1,".into()).await;
    r.expect_problem(400);
    assert!(r.body["detail"].as_str().expect("detail").contains("line 1"), "{}", r.text);
    assert_eq!(app.counts().await, before);
}

#[tokio::test]
async fn wrong_shapes_and_unknown_fields_are_422() {
    let app = app().await;
    refused(&app, json!({"partner_id": "one", "adcodes": ["440300"]}), 422).await;
    refused(&app, json!({"partner_id": 1, "adcode": ["440300"]}), 422).await;
    refused(&app, json!([1, 2, 3]), 422).await;
}

#[tokio::test]
async fn non_geojson_and_non_areas_are_located() {
    let app = app().await;
    assert_eq!(refused(&app, with_geometry(json!({"type": "Point", "coordinates": [114.0, 22.5]})), 422).await, ["/geometry/type"]);
    assert_eq!(refused(&app, with_geometry(json!({"kind": "Polygon"})), 422).await, ["/geometry/coordinates"]);
    assert_eq!(refused(&app, with_geometry(json!("POLYGON((0 0, 1 0, 1 1, 0 0))")), 422).await, ["/geometry"]);
}

#[tokio::test]
async fn open_rings_bowties_and_short_rings_are_refused() {
    let app = app().await;
    let open = json!({"type": "Polygon", "coordinates": [[[114.0, 22.0], [114.1, 22.0], [114.1, 22.1], [114.0, 22.1]]]});
    assert_eq!(refused(&app, with_geometry(open), 422).await, ["/geometry/coordinates/0"]);
    let closed_but_open = json!({"type": "Polygon", "coordinates": [[[114.0, 22.0], [114.1, 22.0], [114.1, 22.1], [114.0, 22.1], [114.0, 22.05]]]});
    assert_eq!(refused(&app, with_geometry(closed_but_open), 422).await, ["/geometry/coordinates/0"]);
    let bowtie = json!({"type": "Polygon", "coordinates": [[[114.0, 22.0], [114.1, 22.1], [114.1, 22.0], [114.0, 22.1], [114.0, 22.0]]]});
    assert_eq!(refused(&app, with_geometry(bowtie), 422).await, ["/geometry/coordinates/0"]);
    let short = json!({"type": "Polygon", "coordinates": [[[114.0, 22.0], [114.1, 22.1], [114.0, 22.0]]]});
    assert_eq!(refused(&app, with_geometry(short), 422).await, ["/geometry/coordinates/0"]);
    let hole_outside = json!({"type": "Polygon", "coordinates": [
        [[114.0, 22.0], [114.1, 22.0], [114.1, 22.1], [114.0, 22.1], [114.0, 22.0]],
        [[115.0, 23.0], [115.0, 23.01], [115.01, 23.01], [115.0, 23.0]]]});
    assert_eq!(refused(&app, with_geometry(hole_outside), 422).await, ["/geometry/coordinates/1"]);
    let overlapping_parts = json!({"type": "MultiPolygon", "coordinates": [
        [[[114.0, 22.0], [114.1, 22.0], [114.1, 22.1], [114.0, 22.1], [114.0, 22.0]]],
        [[[114.05, 22.05], [114.2, 22.05], [114.2, 22.2], [114.05, 22.2], [114.05, 22.05]]]]});
    assert_eq!(refused(&app, with_geometry(overlapping_parts), 422).await, ["/geometry/coordinates/1"]);
}

#[tokio::test]
async fn out_of_range_and_non_numeric_coordinates_are_located() {
    let app = app().await;
    let bad_lat = json!({"type": "Polygon", "coordinates": [[[114.0, 22.0], [114.1, 95.0], [114.1, 22.1], [114.0, 22.0]]]});
    assert_eq!(refused(&app, with_geometry(bad_lat), 422).await, ["/geometry/coordinates/0/1"]);
    let bad_lon = json!({"type": "MultiPolygon", "coordinates": [[[[114.0, 22.0], [181.0, 22.0], [114.1, 22.1], [114.0, 22.0]]]]});
    assert_eq!(refused(&app, with_geometry(bad_lon), 422).await, ["/geometry/coordinates/0/0/1"]);
    let text = json!({"type": "Polygon", "coordinates": [[[114.0, 22.0], ["NaN", 22.0], [114.1, 22.1], [114.0, 22.0]]]});
    assert_eq!(refused(&app, with_geometry(text), 422).await, ["/geometry/coordinates/0/1"]);
    // JSON has no NaN; a literal NaN is malformed JSON.
    let r = app
        .raw(Method::POST, "/networks/smart/grants", r#"{"partner_id":1,"geometry":{"type":"Polygon","coordinates":[[[NaN,1],[1,1],[1,0],[NaN,1]]]}}"#.into())
        .await;
    r.expect_problem(400);
}

#[tokio::test]
async fn empty_geometry_is_refused() {
    let app = app().await;
    assert_eq!(refused(&app, with_geometry(json!({"type": "MultiPolygon", "coordinates": []})), 422).await, ["/geometry/coordinates"]);
    assert_eq!(refused(&app, with_geometry(json!({"type": "Polygon", "coordinates": []})), 422).await, ["/geometry/coordinates"]);
}

#[tokio::test]
async fn unknown_adcode_partner_network_and_tier() {
    let app = app().await;
    assert_eq!(refused(&app, json!({"partner_id": 1, "adcodes": ["440300", "999999"]}), 422).await, ["/adcodes/1"]);
    assert_eq!(refused(&app, json!({"partner_id": 4242, "adcodes": ["441300"]}), 422).await, ["/partner_id"]);
    // Partner 6 exists, but in haima.
    assert_eq!(refused(&app, json!({"partner_id": 6, "adcodes": ["441300"]}), 422).await, ["/partner_id"]);
    app.post("/networks/nope/grants", json!({"partner_id": 1, "adcodes": ["441300"]})).await.expect_problem(404);
    let r = app.post("/networks/smart/partners", json!({"name": "x", "tier": "regional_core"})).await;
    r.expect_problem(422);
    assert_eq!(r.pointers(), ["/tier"]);
    assert_eq!(refused(&app, json!({"partner_id": 1, "adcodes": ["440300", "440305"]}), 422).await, ["/adcodes/1"]);
    assert_eq!(refused(&app, json!({"partner_id": 1, "adcodes": []}), 422).await, ["/adcodes"]);
}

#[tokio::test]
async fn dates_and_exclusivity_must_fit() {
    let app = app().await;
    let body = json!({"partner_id": 1, "adcodes": ["441300"], "valid_from": "2025-03-01", "valid_to": "2025-02-28"});
    assert_eq!(refused(&app, body, 422).await, ["/valid_to"]);
    assert_eq!(refused(&app, json!({"partner_id": 1, "adcodes": ["441300"], "valid_from": "15/03/2025"}), 422).await, ["/valid_from"]);
    assert_eq!(refused(&app, json!({"partner_id": 1, "adcodes": ["441300"], "exclusive": false}), 422).await, ["/exclusive"]);
    assert_eq!(refused(&app, json!({"partner_id": 1}), 422).await, [""]);
    assert_eq!(refused(&app, json!({"partner_id": 1, "adcodes": ["441300"], "geometry": rect(0.0, 0.0, 1.0, 1.0)}), 422).await, [""]);
}

#[tokio::test]
async fn dates_are_dates_from_1900_to_2199() {
    let app = app().await;
    // Stored dates compare as text: a year beyond four digits would sort before today.
    for bad in ["+10000-01-01", "10000-01-01", "0999-12-31", "2200-01-01", "2025-1-5", "2025-02-30", " 2025-03-01"] {
        let body = json!({"partner_id": 1, "adcodes": ["441300"], "valid_from": bad});
        assert_eq!(refused(&app, body, 422).await, ["/valid_from"], "{bad}");
    }
    let r =
        app.post("/networks/smart/grants/check", json!({"partner_id": 1, "adcodes": ["441300"], "valid_from": "1900-01-01", "valid_to": "2199-12-31"})).await;
    r.expect(200);
    // The grant from year 10000 of the report is refused; `active_on` likewise.
    app.get("/networks/smart/grants?active_on=%2B10000-01-01").await.expect_problem(400);
    app.get("/networks/smart/grants?active_on=2199-12-31").await.expect(200);
    // An outlet's opening day.
    let outlet = json!({"partner_id": 1, "name": "x", "location": {"type": "Point", "coordinates": [114.06, 22.54]}, "format": "light_showroom",
        "site_type": "mall", "opened_on": "+10000-01-01"});
    let r = app.post("/networks/smart/outlets", outlet).await;
    r.expect_problem(422);
    assert_eq!(r.pointers(), ["/opened_on"]);
}

#[tokio::test]
async fn names_codes_and_notes_have_length_limits() {
    let app = app().await;
    let networks = app.get("/networks").await.body.as_array().map(Vec::len);
    let r = app.post("/networks", json!({"code": "x".repeat(100_000), "name": "n".repeat(201), "policy": "smart"})).await;
    r.expect_problem(422);
    assert_eq!(r.pointers(), ["/code", "/name"]);
    assert_eq!(app.get("/networks").await.body.as_array().map(Vec::len), networks, "nothing stored");
    let r = app.post("/networks/smart/partners", json!({"name": "名".repeat(1_000_000), "tier": "city_partner"})).await;
    r.expect_problem(422);
    assert_eq!(r.pointers(), ["/name"]);
    assert!(r.text.len() < 10_000, "the answer does not echo the name: {} bytes", r.text.len());
    let body = json!({"partner_id": 1, "adcodes": ["441300"], "note": "n".repeat(2001)});
    assert_eq!(refused(&app, body, 422).await, ["/note"]);
    let outlet = json!({"partner_id": 1, "name": "x".repeat(201), "location": {"type": "Point", "coordinates": [114.06, 22.54]},
        "format": "light_showroom", "site_type": "mall", "external_id": "e".repeat(65), "note": "n".repeat(2001)});
    let r = app.post("/networks/smart/outlets", outlet).await;
    r.expect_problem(422);
    assert_eq!(r.pointers(), ["/name", "/note", "/external_id"]);
    // At the limit: accepted.
    let r = app.post("/networks", json!({"code": "c".repeat(64), "name": "名".repeat(200), "policy": "smart"})).await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text);
    let r = app.post("/networks/smart/grants/1/revoke", json!({"reason": "r".repeat(2001)})).await;
    r.expect_problem(422);
    assert_eq!(r.pointers(), ["/reason"]);
}

#[tokio::test]
async fn bodies_over_the_size_limit_are_413() {
    let app = app_on(test_db(), HttpLimits { max_body_bytes: 1024, ..HttpLimits::default() }, GeometryLimits::default()).await;
    let before = app.counts().await;
    let big = json!({"partner_id": 1, "adcodes": ["441300"], "note": "x".repeat(2000)});
    let r = app.post("/networks/smart/grants", big).await;
    r.expect_problem(413);
    assert_eq!(r.body["type"], json!("urn:territory:problem:payload-too-large"), "{}", r.text);
    assert_eq!(app.counts().await, before);
    // CSV uploads too (they were plain text), and a request target over 8 KiB is 414.
    let send = |method: Method, uri: String, body: String| {
        let req =
            axum::http::Request::builder().method(method).uri(uri).header("content-type", "text/csv").body(axum::body::Body::from(body)).expect("request");
        tower::ServiceExt::oneshot(app.router.clone(), req)
    };
    let csv = format!("outlet_id,year,units\n{}", "1,2025,10\n".repeat(500));
    let long = format!("/regions?q={}", "a".repeat(9000));
    let cases = [(Method::PUT, "/networks/smart/sales".to_string(), 413), (Method::POST, "/networks/smart/score".to_string(), 413), (Method::GET, long, 414)];
    for (method, uri, status) in cases {
        let res = send(method, uri.clone(), csv.clone()).await.expect("infallible");
        assert_eq!(res.status().as_u16(), status, "{uri}");
        let ct = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        assert_eq!(ct, "application/problem+json", "{uri}");
        let bytes = http_body_util::BodyExt::collect(res.into_body()).await.expect("body").to_bytes();
        let body: Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(body["status"], json!(status), "{body}");
    }
}

#[tokio::test]
async fn geometries_over_the_vertex_limit_are_422() {
    let app = app_on(test_db(), HttpLimits::default(), GeometryLimits { max_vertices: 100, ..GeometryLimits::default() }).await;
    let ring: Vec<Value> = (0..=200)
        .map(|i| {
            let a = std::f64::consts::TAU * f64::from(i % 200) / 200.0;
            json!([121.0 + 0.1 * a.cos(), 31.0 + 0.1 * a.sin()])
        })
        .collect();
    let r = refused(&app, with_geometry(json!({"type": "Polygon", "coordinates": [ring]})), 422).await;
    assert_eq!(r, ["/geometry/coordinates"]);
}

#[tokio::test]
async fn geometries_over_the_ring_limit_are_422() {
    let app = app_on(test_db(), HttpLimits::default(), GeometryLimits { max_rings: 3, ..GeometryLimits::default() }).await;
    let square = |i: usize| {
        let x = 96.0 + 0.1 * i as f64;
        json!([[[x, 36.0], [x + 0.05, 36.0], [x + 0.05, 36.05], [x, 36.05], [x, 36.0]]])
    };
    let parts = |n: usize| json!({"type": "MultiPolygon", "coordinates": (0..n).map(square).collect::<Vec<_>>()});
    let r = refused(&app, with_geometry(parts(4)), 422).await;
    assert_eq!(r, ["/geometry/coordinates"]);
    let r = app.post("/networks/smart/grants/check", with_geometry(parts(3))).await;
    r.expect(200);
}

#[tokio::test]
async fn either_winding_is_accepted_and_stored_counter_clockwise() {
    let app = app().await;
    let p = app.partner("smart", "顺时针", "city_partner").await;
    let cw = json!({"type": "Polygon", "coordinates": [[[96.0, 36.0], [96.0, 36.1], [96.1, 36.1], [96.1, 36.0], [96.0, 36.0]]]});
    let r = app.post("/networks/smart/grants", json!({"partner_id": p, "geometry": cw})).await;
    r.expect(201);
    let ring = &r.body["geometry"]["coordinates"][0][0];
    assert_eq!(ring[1], json!([96.1, 36.0]), "exterior turned counter-clockwise: {ring}");
}

#[tokio::test]
async fn unknown_routes_are_problems_too() {
    let app = app().await;
    app.get("/nothing/here").await.expect_problem(404);
    app.get("/networks/smart/grants/abc").await.expect_problem(400);
    app.call(Method::DELETE, "/networks/smart/grants/1", None).await.expect_problem(405);
}
