//! Outlets through the router: the territory rule, updates, closing, bad input.

use crate::common::{TestApp, app, rect};
use axum::http::Method;
use serde_json::{Value, json};

// Seeded smart network: partner 2 holds 武汉 420100 (grant 2), partner 3 holds 成都
// 510100 (grant 3), both exclusive.
const WUHAN: [f64; 2] = [114.30, 30.60];
const CHENGDU: [f64; 2] = [104.08, 30.66];

fn point(p: [f64; 2]) -> Value {
    json!({"type": "Point", "coordinates": p})
}

fn showroom(partner: i64, at: [f64; 2]) -> Value {
    json!({"partner_id": partner, "name": "测试展厅", "location": point(at), "format": "light_showroom", "site_type": "mall"})
}

async fn outlet_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from outlets").fetch_one(&app.service.store().pool).await.expect("count")
}

#[tokio::test]
async fn an_outlet_inside_its_partners_grant_is_created_listed_and_read_back() {
    let app = app().await;
    let mut body = showroom(2, WUHAN);
    body["opened_on"] = json!("2025-05-01");
    body["facility"] = json!({"showroom_m2": 280, "staff": 12});
    let r = app.post("/networks/smart/outlets", body).await;
    r.expect(201);
    assert_eq!(r.content_type, "application/geo+json");
    let id = r.body["id"].as_i64().expect("id");
    let props = &r.body["properties"];
    assert_eq!(props["partner_id"], json!(2));
    assert_eq!(props["partner_name"], json!("武汉smart城市合伙人"));
    assert_eq!(props["role"], json!("sales_touchpoint"), "the format's first role is the default");
    assert_eq!(props["status"], json!("open"));
    assert_eq!(props["facility"]["showroom_m2"], json!(280.0));
    assert_eq!(r.body["geometry"], point(WUHAN));

    let one = app.get(&format!("/networks/smart/outlets/{id}")).await;
    one.expect(200);
    assert_eq!(one.body, r.body);
    let list = app.get("/networks/smart/outlets?partner_id=2").await;
    list.expect(200);
    let ids: Vec<i64> = list.body["features"].as_array().expect("features").iter().map(|f| f["id"].as_i64().expect("id")).collect();
    assert!(ids.contains(&id) && ids.len() == 5, "4 seeded for partner 2 plus this one: {ids:?}");
    let in_box = app.get("/networks/smart/outlets?bbox=114.299,30.599,114.301,30.601").await;
    assert_eq!(in_box.body["features"].as_array().map(Vec::len), Some(1), "{}", in_box.text);
}

#[tokio::test]
async fn an_outlet_outside_its_partners_grants_is_refused_naming_the_exclusive_grant_there() {
    let app = app().await;
    let before = outlet_count(&app).await;
    let r = app.post("/networks/smart/outlets", showroom(2, CHENGDU)).await;
    r.expect_problem(409);
    assert_eq!(r.body["type"], json!("urn:territory:problem:outlet-placement"));
    assert!(r.body["detail"].as_str().expect("detail").contains("outside every grant of partner 2"), "{}", r.text);
    let grants = r.body["grants"].as_array().expect("grants");
    assert_eq!(grants.len(), 1, "{}", r.text);
    assert_eq!(grants[0]["grant_id"], json!(3));
    assert_eq!(grants[0]["partner_name"], json!("成都smart城市合伙人"));
    assert_eq!(outlet_count(&app).await, before, "nothing written");
}

#[tokio::test]
async fn an_outlet_in_a_sliver_of_another_partners_exclusive_grant_is_refused() {
    let app = app().await;
    app.post("/networks", json!({"code": "sliver", "name": "sliver", "policy": "smart"})).await.expect(201);
    let a = app.partner("sliver", "甲", "city_partner").await;
    let b = app.partner("sliver", "乙", "city_partner").await;
    let ga = app.post("/networks/sliver/grants", json!({"partner_id": a, "geometry": rect(114.0, 30.0, 114.1, 30.1)})).await;
    ga.expect(201);
    // B's square overlaps A's by a 3 m strip: a sliver below the tolerance, so granted.
    let gb = app.post("/networks/sliver/grants", json!({"partner_id": b, "geometry": rect(114.09997, 30.0, 114.2, 30.1)})).await;
    gb.expect(201);
    assert_eq!(gb.body["warnings"].as_array().map(Vec::len), Some(1), "{}", gb.text);
    let mut in_strip = showroom(b, [114.099985, 30.05]);
    let refused = app.post("/networks/sliver/outlets", in_strip.clone()).await;
    refused.expect_problem(409);
    assert_eq!(refused.body["grants"][0]["grant_id"], ga.body["id"], "{}", refused.text);
    assert!(refused.body["detail"].as_str().expect("detail").contains("inside another partner's exclusive territory"));
    // On A's border line the site is not inside A: allowed.
    in_strip["location"] = point([114.1, 30.05]);
    app.post("/networks/sliver/outlets", in_strip).await.expect(201);
    app.post("/networks/sliver/outlets", showroom(b, [114.15, 30.05])).await.expect(201);
}

#[tokio::test]
async fn after_a_revoke_new_outlets_are_refused_and_compliance_flags_the_old_one() {
    let app = app().await;
    let r = app.post("/networks/smart/outlets", showroom(2, WUHAN)).await;
    r.expect(201);
    let id = r.body["id"].clone();
    app.post("/networks/smart/grants/2/revoke", json!({"reason": "contract ended", "force": true})).await.expect(200);
    app.post("/networks/smart/outlets", showroom(2, WUHAN)).await.expect_problem(409);
    let report = app.get("/networks/smart/compliance?partner_id=2").await;
    report.expect(200);
    let outside: Vec<&Value> = report.body["breaches"].as_array().expect("breaches").iter().filter(|b| b["rule"] == json!("outside_territory")).collect();
    assert!(outside.iter().any(|b| b["outlet_id"] == id), "{}", report.text);
    assert_eq!(outside.len(), 5, "the 4 seeded Wuhan outlets and the new one: {}", report.text);
}

#[tokio::test]
async fn competitor_outlets_take_no_partner_and_no_territory_rule() {
    let app = app().await;
    let body = json!({"competitor": true, "brand": "BYD", "name": "比亚迪 成都 汽车城", "location": point(CHENGDU), "site_type": "auto_city"});
    let r = app.post("/networks/smart/outlets", body.clone()).await;
    r.expect(201);
    assert_eq!(r.body["properties"]["competitor"], json!(true));
    assert_eq!(r.body["properties"]["partner_id"], Value::Null);
    let mut with_partner = body;
    with_partner["partner_id"] = json!(3);
    let bad = app.post("/networks/smart/outlets", with_partner).await;
    bad.expect_problem(422);
    assert_eq!(bad.pointers(), ["/partner_id"]);
    let list = app.get("/networks/smart/outlets?competitor=true").await;
    assert_eq!(list.body["features"].as_array().map(Vec::len), Some(30), "29 seeded and this one: {}", list.text);
}

#[tokio::test]
async fn bad_outlets_are_refused_with_located_errors_and_nothing_written() {
    let app = app().await;
    let before = outlet_count(&app).await;
    let base = showroom(2, WUHAN);
    let cases: Vec<(Value, &str)> = vec![
        (json!({"format": "mega_store"}), "/format"),
        (json!({"role": "warehouse"}), "/role"),
        (json!({"site_type": "airport"}), "/site_type"),
        (json!({"location": point([114.3, 95.0])}), "/location/coordinates/1"),
        (json!({"location": point([190.0, 30.0])}), "/location/coordinates/0"),
        (json!({"location": {"type": "Polygon", "coordinates": []}}), "/location/type"),
        (json!({"facility": {"land_m2": -5}}), "/facility/land_m2"),
        (json!({"facility": {"bays_mech": 2.5}}), "/facility/bays_mech"),
        (json!({"facility": {"land_m2": "big"}}), "/facility/land_m2"),
        (json!({"facility": {"garden_m2": 10}}), "/facility/garden_m2"),
        (json!({"opened_on": "2025-13-01"}), "/opened_on"),
        (json!({"partner_id": 99}), "/partner_id"),
        (json!({"name": " "}), "/name"),
    ];
    for (patch, pointer) in cases {
        let mut body = base.clone();
        territory::input::merge_patch(&mut body, &patch);
        let r = app.post("/networks/smart/outlets", body).await;
        r.expect_problem(422);
        assert_eq!(r.pointers(), [pointer], "for {patch}: {}", r.text);
    }
    // A haima elite store takes role sales_service, not sales only.
    let r = app
        .post(
            "/networks/haima/outlets",
            json!({"partner_id": 6, "name": "x", "location": point([113.3, 23.1]), "format": "elite", "role": "sales", "site_type": "mall"}),
        )
        .await;
    r.expect_problem(422);
    assert_eq!(r.pointers(), ["/role"]);
    // NaN cannot be written in JSON; a malformed body is 400.
    app.raw(Method::POST, "/networks/smart/outlets", "{\"name\": NaN}".into()).await.expect_problem(400);
    assert_eq!(outlet_count(&app).await, before, "nothing written");
}

#[tokio::test]
async fn gcj02_input_is_converted_to_wgs84() {
    let app = app().await;
    let (lon, lat) = (114.30, 30.60);
    let r = app.post("/networks/smart/outlets?coord_sys=gcj02", showroom(2, [lon, lat])).await;
    r.expect(201);
    let c = &r.body["geometry"]["coordinates"];
    let (x, y) = (c[0].as_f64().expect("x"), c[1].as_f64().expect("y"));
    // GCJ-02 is offset by a few hundred metres in Wuhan: WGS84 lies west and north of it.
    assert!((lon - x) > 0.003 && (lon - x) < 0.01 && (y - lat) > 0.001 && (y - lat) < 0.005, "{x} {y}");
}

#[tokio::test]
async fn updates_merge_revalidate_and_keep_the_outlet_in_its_territory() {
    let app = app().await;
    let mut body = showroom(2, WUHAN);
    body["facility"] = json!({"showroom_m2": 280, "staff": 12});
    let id = app.post("/networks/smart/outlets", body).await.body["id"].as_i64().expect("id");
    let uri = format!("/networks/smart/outlets/{id}");
    let r = app.call(Method::PATCH, &uri, Some(json!({"site_type": "auto_city", "facility": {"staff": null, "frontage_m": 18}}))).await;
    r.expect(200);
    let props = &r.body["properties"];
    assert_eq!(props["site_type"], json!("auto_city"));
    assert_eq!(props["facility"]["showroom_m2"], json!(280.0), "untouched figures stay");
    assert_eq!(props["facility"]["staff"], Value::Null, "null clears");
    assert_eq!(props["facility"]["frontage_m"], json!(18.0));
    assert_eq!(r.body["geometry"], point(WUHAN), "the stored WGS84 location is not converted again");

    let moved = app.call(Method::PATCH, &uri, Some(json!({"location": point(CHENGDU)}))).await;
    moved.expect_problem(409);
    app.call(Method::PATCH, &uri, Some(json!({"format": "flagship"}))).await.expect_problem(422);
    assert_eq!(app.get(&uri).await.body["properties"]["site_type"], json!("auto_city"), "refused updates change nothing");

    let closed = app.post(&format!("{uri}/close"), json!({"reason": "lease ended", "closed_on": "2026-01-31"})).await;
    closed.expect(200);
    assert_eq!(closed.body["properties"]["status"], json!("closed"));
    assert_eq!(closed.body["properties"]["closed_on"], json!("2026-01-31"));
    app.post(&format!("{uri}/close"), json!({"reason": "again"})).await.expect_problem(409);
    app.call(Method::PATCH, &uri, Some(json!({"name": "reopened?"}))).await.expect_problem(409);
    let open = app.get("/networks/smart/outlets?partner_id=2&status=open").await;
    assert!(!open.body["features"].as_array().expect("list").iter().any(|f| f["id"] == json!(id)));
    app.get("/networks/smart/outlets/999999").await.expect_problem(404);
}

#[tokio::test]
async fn the_outlets_open_on_a_day_past_or_future() {
    let app = app().await;
    let mut body = showroom(2, WUHAN);
    body["name"] = json!("两年店");
    body["opened_on"] = json!("2025-01-01");
    let id = app.post("/networks/smart/outlets", body).await;
    id.expect(201);
    let id = id.body["id"].as_i64().expect("id");
    app.post(&format!("/networks/smart/outlets/{id}/close"), json!({"reason": "moved", "closed_on": "2026-01-01", "force": true})).await.expect(200);
    let open_on = |day: &'static str| {
        let app = &app;
        async move {
            let r = app.get(&format!("/networks/smart/outlets?on={day}")).await;
            r.expect(200);
            r.body["features"].as_array().expect("features").iter().any(|f| f["id"] == json!(id))
        }
    };
    assert!(!open_on("2024-06-01").await, "not open yet");
    assert!(open_on("2025-06-01").await, "open");
    assert!(!open_on("2026-06-01").await, "closed by then");
    app.get("/networks/smart/outlets?on=soon").await.expect_problem(400);
}
