//! Regions, networks, partners; concurrency and restarts.

use crate::common::{app, app_on, test_db};
use serde_json::json;
use territory::geometry::GeometryLimits;
use territory::http::HttpLimits;

#[tokio::test]
async fn regions_are_served_with_their_hierarchy() {
    let app = app().await;
    let city = app.get("/regions/440300").await;
    city.expect(200);
    assert_eq!(city.body["properties"]["name"], json!("深圳市"));
    assert_eq!(city.body["properties"]["level"], json!("city"));
    assert_eq!(city.body["properties"]["parent_adcode"], json!("440000"));
    assert_eq!(city.body["geometry"]["type"], json!("MultiPolygon"));
    app.get("/regions/999999").await.expect_problem(404);
    let districts = app.get("/regions?parent=440300").await;
    assert_eq!(districts.body["features"].as_array().expect("list").len(), 9, "深圳 has 9 districts in GB/T 2260");
    let provinces = app.get("/regions?level=province").await;
    assert_eq!(provinces.body["features"].as_array().expect("list").len(), 8);
    let named = app.get("/regions?q=%E6%AD%A6%E6%B1%89").await; // 武汉
    assert_eq!(named.body["features"][0]["properties"]["adcode"], json!("420100"));
    app.get("/regions?level=county").await.expect_problem(400);
    // Dongguan appears in two layers with the same adcode: stored once, as a city.
    let dongguan = app.get("/regions/441900").await;
    assert_eq!(dongguan.body["properties"]["level"], json!("city"));
}

#[tokio::test]
async fn networks_and_partners() {
    let app = app().await;
    let r = app.post("/networks", json!({"code": "smart2", "name": "smart 二期", "policy": "smart"})).await;
    r.expect(201);
    assert_eq!(r.body["tiers"][0]["code"], json!("city_partner"));
    app.post("/networks", json!({"code": "smart2", "name": "again", "policy": "smart"})).await.expect_problem(409);
    let bad = app.post("/networks", json!({"code": "x y", "name": "", "policy": "tesla"})).await;
    bad.expect_problem(422);
    assert_eq!(bad.pointers(), ["/code", "/name", "/policy"]);
    let list = app.get("/networks").await;
    assert_eq!(list.body["networks"].as_array().expect("list").len(), 3);
    let p = app.partner("smart2", "一号", "city_partner").await;
    let one = app.get(&format!("/networks/smart2/partners/{p}")).await;
    assert_eq!(one.body["tier"], json!("city_partner"));
    app.get(&format!("/networks/haima/partners/{p}")).await.expect_problem(404);
    app.get("/networks/nope").await.expect_problem(404);
    assert_eq!(app.get("/networks/haima/partners").await.body["partners"].as_array().expect("list").len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_racing_partners_for_one_city_exactly_one_wins() {
    let app = app().await;
    let mut partners = Vec::new();
    for i in 0..32 {
        partners.push(app.partner("smart", &format!("竞争者{i}"), "city_partner").await);
    }
    let before = app.counts().await;
    let mut tasks = Vec::new();
    for p in partners {
        let router = app.router.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"partner_id": p, "adcodes": ["441300"]}).to_string();
            let req = axum::http::Request::post("/networks/smart/grants")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body))
                .expect("request");
            tower::ServiceExt::oneshot(router, req).await.expect("response").status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 31, "{statuses:?}");
    let (grants, audit) = app.counts().await;
    assert_eq!(grants, before.0 + 1, "one row stored");
    assert_eq!(audit, before.1 + 32, "every decision audited");
    let stored: i64 =
        sqlx::query_scalar("select count(*) from grants where adcodes = '[\"441300\"]'").fetch_one(&app.service.store().pool).await.expect("count");
    assert_eq!(stored, 1);
}

#[tokio::test]
async fn two_instances_on_one_file_cannot_both_win() {
    let first = app().await;
    let path = first.db.path.clone();
    let p = first.partner("smart", "甲", "city_partner").await;
    let q = first.partner("smart", "乙", "city_partner").await;
    // A second registry on the same file: a second service instance.
    let second = std::sync::Arc::new(territory::app::App::open(&path, GeometryLimits::default()).await.expect("second instance"));
    let options = territory::http::ServeOptions { auth: territory::http::auth::AuthConfig { open: true }, ..Default::default() };
    let router2 = territory::http::router_with(second, HttpLimits::default(), options);
    first.post("/networks/smart/grants", json!({"partner_id": p, "adcodes": ["441300"]})).await.expect(201);
    // The second instance has not seen that grant in memory; the decision must still see it.
    let req = axum::http::Request::post("/networks/smart/grants")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(json!({"partner_id": q, "adcodes": ["441302"]}).to_string()))
        .expect("request");
    let res = tower::ServiceExt::oneshot(router2, req).await.expect("response");
    assert_eq!(res.status().as_u16(), 409);
}

#[tokio::test]
async fn a_restart_keeps_every_grant_and_every_decision() {
    let keep = test_db();
    let path = keep.path.clone();
    let db = crate::common::TestDb { dir: tempfile::tempdir().expect("dir"), path: path.clone() };
    let probes = [
        json!({"partner_id": 2, "adcodes": ["440305"]}),
        json!({"partner_id": 2, "adcodes": ["441300"]}),
        json!({"partner_id": 1, "adcodes": ["420102"]}),
        json!({"partner_id": 1, "geometry": crate::common::rect(114.2, 30.5, 114.4, 30.7)}),
    ];
    let (before_grants, before_answers) = {
        let app = app_on(db, HttpLimits::default(), GeometryLimits::default()).await;
        let p = app.partner("smart", "惠州", "city_partner").await;
        app.post("/networks/smart/grants", json!({"partner_id": p, "adcodes": ["441300"]})).await.expect(201);
        app.post("/networks/smart/grants/2/revoke", json!({"reason": "r", "force": true})).await.expect(200);
        let grants = app.get("/networks/smart/grants").await.body;
        let mut answers = Vec::new();
        for p in &probes {
            answers.push(app.post("/networks/smart/grants/check", p.clone()).await.body);
        }
        app.service.store().pool.close().await;
        (grants, answers)
    };
    let reopened = app_on(crate::common::TestDb { dir: tempfile::tempdir().expect("dir"), path }, HttpLimits::default(), GeometryLimits::default()).await;
    assert_eq!(reopened.get("/networks/smart/grants").await.body, before_grants);
    for (p, before) in probes.iter().zip(before_answers) {
        assert_eq!(reopened.post("/networks/smart/grants/check", p.clone()).await.body, before, "probe {p}");
    }
}

#[tokio::test]
async fn health_and_openapi() {
    let app = app().await;
    let h = app.get("/health").await;
    assert_eq!(h.body["status"], json!("ok"));
    let doc = app.get("/openapi.json").await;
    let paths = doc.body["paths"].as_object().expect("paths");
    for p in [
        "/regions",
        "/regions/{adcode}",
        "/networks",
        "/networks/{net}/grants",
        "/networks/{net}/grants/check",
        "/networks/{net}/grants/{id}/revoke",
        "/networks/{net}/conflicts",
        "/networks/{net}/audit",
    ] {
        assert!(paths.contains_key(p), "openapi lacks {p}");
    }
}
