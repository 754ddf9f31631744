//! Grants through the router: the exclusivity rule, conflicts, revokes, audit.

use crate::common::{app, insert_conflicting_grant, rect, region_geometry};
use axum::http::Method;
use serde_json::json;

// Seeded: smart partner 1 holds 深圳 440300 (exclusive, from 2024-03-15).

#[tokio::test]
async fn a_district_inside_a_granted_city_is_refused_and_its_neighbour_city_granted() {
    let app = app().await;
    let p = app.partner("smart", "东莞候选合伙人", "city_partner").await;
    let refused = app.post("/networks/smart/grants", json!({"partner_id": p, "adcodes": ["440305"]})).await;
    refused.expect_problem(409);
    let conflicts = refused.body["conflicts"].as_array().expect("conflicts");
    assert_eq!(conflicts.len(), 1, "{}", refused.text);
    let c = &conflicts[0];
    assert_eq!(c["grant_id"], json!(1));
    assert_eq!(c["partner_id"], json!(1));
    assert_eq!(c["partner_name"], json!("深圳smart城市合伙人"));
    assert_eq!(c["basis"], json!("hierarchy"));
    assert_eq!(c["adcodes"], json!(["440305"]));
    // 南山区 is about 187 km² in this data; the overlap is the whole district.
    let km2 = c["overlap_km2"].as_f64().expect("km2");
    assert!((150.0..250.0).contains(&km2), "{km2}");
    assert!((c["overlap_ratio"].as_f64().expect("ratio") - 1.0).abs() < 1e-9);
    assert_eq!(c["geometry"]["type"], json!("MultiPolygon"));

    let granted = app.post("/networks/smart/grants", json!({"partner_id": p, "adcodes": ["441900"]})).await;
    granted.expect(201);
    assert_eq!(granted.content_type, "application/geo+json");
    assert_eq!(granted.body["properties"]["status"], json!("active"));
    assert_eq!(granted.body["properties"]["exclusive"], json!(true));
    assert_eq!(granted.body["properties"]["adcodes"], json!(["441900"]));
}

#[tokio::test]
async fn a_conflict_lists_every_conflicting_grant() {
    let app = app().await;
    let p = app.partner("smart", "深莞", "city_partner").await;
    let q = app.partner("smart", "东莞合伙人", "city_partner").await;
    app.post("/networks/smart/grants", json!({"partner_id": q, "adcodes": ["441900"]})).await.expect(201);
    // A drawn area over 深圳 (seeded) and 东莞 (just granted), inland.
    let r = app.post("/networks/smart/grants", json!({"partner_id": p, "geometry": rect(113.95, 22.65, 114.15, 22.9)})).await;
    r.expect_problem(409);
    let mut ids: Vec<i64> = r.body["conflicts"].as_array().expect("list").iter().map(|c| c["partner_id"].as_i64().expect("id")).collect();
    ids.sort();
    assert_eq!(ids, vec![1, q]);
}

#[tokio::test]
async fn a_tier_names_only_the_regions_its_policy_allows() {
    let app = app().await;
    // smart's city partners hold one city, or districts of one city: never a province.
    let p = app.partner("smart", "广东全省", "city_partner").await;
    let before = app.counts().await;
    let r = app.post("/networks/smart/grants", json!({"partner_id": p, "adcodes": ["440000"]})).await;
    r.expect_problem(422);
    assert_eq!(r.pointers(), ["/adcodes/0"], "{}", r.text);
    assert!(r.text.contains("province"), "{}", r.text);
    let r = app.post("/networks/smart/grants", json!({"partner_id": p, "adcodes": ["441302", "441900"]})).await;
    r.expect_problem(422);
    assert_eq!(r.pointers(), ["/adcodes/1"], "two cities: {}", r.text);
    app.post("/networks/smart/grants/check", json!({"partner_id": p, "adcodes": ["440000"]})).await.expect_problem(422);
    assert_eq!(app.counts().await, before, "nothing written");
    // Districts of one city are one grant.
    app.post("/networks/smart/grants", json!({"partner_id": p, "adcodes": ["441302", "441303"]})).await.expect(201);
}

#[tokio::test]
async fn check_answers_like_create_and_writes_nothing() {
    let app = app().await;
    let p = app.partner("smart", "南山", "city_partner").await;
    let before = app.counts().await;
    let r = app.post("/networks/smart/grants/check", json!({"partner_id": p, "adcodes": ["440305"]})).await;
    r.expect(200);
    assert_eq!(r.body["ok"], json!(false));
    assert_eq!(r.body["conflicts"][0]["grant_id"], json!(1));
    let ok = app.post("/networks/smart/grants/check", json!({"partner_id": p, "adcodes": ["441300"]})).await;
    assert_eq!(ok.body["ok"], json!(true), "{}", ok.text);
    assert_eq!(app.counts().await, before, "a dry run must not write");
}

#[tokio::test]
async fn neighbouring_districts_never_conflict_even_where_polygons_disagree() {
    let app = app().await;
    let a = app.partner("smart", "南山合伙人", "city_partner").await;
    let b = app.partner("smart", "福田合伙人", "city_partner").await;
    // 440304 福田 and 440305 南山 are neighbours inside 深圳 — revoke 深圳 first.
    app.post("/networks/smart/grants/1/revoke", json!({"reason": "split into districts", "force": true})).await.expect(200);
    app.post("/networks/smart/grants", json!({"partner_id": a, "adcodes": ["440305"]})).await.expect(201);
    app.post("/networks/smart/grants", json!({"partner_id": b, "adcodes": ["440304"]})).await.expect(201);
}

#[tokio::test]
async fn a_drawn_territory_over_a_granted_city_conflicts_by_geometry() {
    let app = app().await;
    let p = app.partner("smart", "画图", "city_partner").await;
    // A box over central 深圳, clear of the coast.
    let r = app.post("/networks/smart/grants", json!({"partner_id": p, "geometry": rect(113.95, 22.56, 114.1, 22.66)})).await;
    r.expect_problem(409);
    let c = &r.body["conflicts"][0];
    assert_eq!(c["basis"], json!("geometry"));
    assert_eq!(c["grant_id"], json!(1));
    let km2 = c["overlap_km2"].as_f64().expect("km2");
    assert!(km2 > 150.0 && km2 < 172.0, "the box is ~171 km², inside 深圳: {km2}");
}

#[tokio::test]
async fn the_same_polygon_sent_as_geometry_conflicts_with_the_city_grant() {
    let app = app().await;
    let p = app.partner("smart", "同形", "city_partner").await;
    let r = app.post("/networks/smart/grants/check", json!({"partner_id": p, "geometry": region_geometry("440300")})).await;
    r.expect(200);
    assert_eq!(r.body["ok"], json!(false));
    let c = &r.body["conflicts"][0];
    assert!((c["overlap_ratio"].as_f64().expect("ratio") - 1.0).abs() < 1e-6, "{}", c["overlap_ratio"]);
}

#[tokio::test]
async fn a_sliver_is_a_warning_not_a_conflict() {
    let app = app().await;
    let p = app.partner("smart", "西宁边上", "city_partner").await;
    let q = app.partner("smart", "方块", "city_partner").await;
    app.post("/networks/smart/grants", json!({"partner_id": q, "geometry": rect(96.0, 36.0, 96.1, 36.1)})).await.expect(201);
    // Overlaps the box by a 1e-5° (~1 m) strip: ~0.011 km², 0.01 % of the box.
    let r = app.post("/networks/smart/grants", json!({"partner_id": p, "geometry": rect(96.09999, 36.0, 96.2, 36.1)})).await;
    r.expect(201);
    let w = r.body["warnings"].as_array().expect("warnings");
    assert_eq!(w.len(), 1, "{}", r.text);
    assert!(w[0]["overlap_km2"].as_f64().expect("km2") < 0.05);
}

#[tokio::test]
async fn non_exclusive_grants_may_share_and_exclusive_ones_may_not() {
    let app = app().await;
    // Seeded: two haima dealers share 株洲 430200.
    let d = app.partner("haima", "第三家经销商", "dealer").await;
    app.post("/networks/haima/grants", json!({"partner_id": d, "adcodes": ["430202"]})).await.expect(201);
    let r = app.partner("haima", "区域经销商", "regional").await;
    let refused = app.post("/networks/haima/grants", json!({"partner_id": r, "adcodes": ["430200"], "exclusive": true})).await;
    refused.expect_problem(409);
    assert_eq!(refused.body["conflicts"].as_array().expect("list").len(), 3, "both seeded dealers and the new one");
    app.post("/networks/haima/grants", json!({"partner_id": r, "adcodes": ["430200"], "exclusive": false})).await.expect(201);
}

#[tokio::test]
async fn grants_whose_windows_do_not_overlap_do_not_conflict() {
    let app = app().await;
    let a = app.partner("smart", "早", "city_partner").await;
    let b = app.partner("smart", "晚", "city_partner").await;
    app.post("/networks/smart/grants", json!({"partner_id": a, "adcodes": ["441300"], "valid_from": "2024-01-01", "valid_to": "2024-12-31"})).await.expect(201);
    app.post("/networks/smart/grants", json!({"partner_id": b, "adcodes": ["441300"], "valid_from": "2025-01-01"})).await.expect(201);
    let r = app.post("/networks/smart/grants", json!({"partner_id": b, "adcodes": ["441302"], "valid_from": "2024-12-31", "valid_to": "2024-12-31"})).await;
    r.expect_problem(409);
    assert_eq!(r.body["conflicts"][0]["partner_id"], json!(a), "the last day of a's window overlaps");
    // The grants in force on a day, past or future.
    let held_on = |day: &'static str| {
        let app = &app;
        async move {
            let r = app.get(&format!("/networks/smart/grants?on={day}")).await;
            r.expect(200);
            let holders: Vec<i64> = r.body["features"].as_array().expect("features").iter().filter_map(|f| f["properties"]["partner_id"].as_i64()).collect();
            (holders.contains(&a), holders.contains(&b))
        }
    };
    assert_eq!(held_on("2024-06-01").await, (true, false));
    assert_eq!(held_on("2030-06-01").await, (false, true));
    app.get("/networks/smart/grants?on=2024-06-01&active_on=2025-01-01").await.expect_problem(400);
}

#[tokio::test]
async fn the_same_partner_granted_its_own_territory_again_is_a_duplicate() {
    let app = app().await;
    let p = app.partner("smart", "惠州合伙人", "city_partner").await;
    let city = app.post("/networks/smart/grants", json!({"partner_id": p, "adcodes": ["441300"], "valid_to": "2027-12-31"})).await;
    city.expect(201);
    let city_id = city.body["id"].as_i64().expect("id");
    let audit_before = app.get("/networks/smart/audit").await.text;
    // A district of the city, by adcode or drawn: it holds that already.
    for body in [json!({"partner_id": p, "adcodes": ["441302"]}), json!({"partner_id": p, "geometry": rect(114.35, 23.05, 114.45, 23.15)})] {
        let check = app.post("/networks/smart/grants/check", body.clone()).await;
        check.expect(200);
        assert_eq!(check.body["ok"], json!(false), "{}", check.text);
        assert_eq!(check.body["duplicates"][0]["grant_id"], json!(city_id), "{}", check.text);
        assert_eq!(check.body["conflicts"], json!([]), "{}", check.text);
        let r = app.post("/networks/smart/grants", body).await;
        r.expect_problem(409);
        assert!(r.body["type"].as_str().is_some_and(|t| t.ends_with(":duplicate")), "{}", r.text);
        assert!(r.body["detail"].as_str().is_some_and(|d| d.contains(&format!("grant {city_id}"))), "{}", r.text);
    }
    // The refusals are in the audit, and nothing was granted.
    let audit = app.get("/networks/smart/audit").await.text;
    assert!(audit.len() > audit_before.len());
    let grants = app.get(&format!("/networks/smart/grants?partner_id={p}")).await;
    assert_eq!(grants.body["features"].as_array().map(Vec::len), Some(1), "{}", grants.text);
    // A renewal from the day after the grant ends is not a duplicate.
    app.post("/networks/smart/grants", json!({"partner_id": p, "adcodes": ["441300"], "valid_from": "2028-01-01"})).await.expect(201);
}

#[tokio::test]
async fn grants_in_different_networks_never_conflict() {
    let app = app().await;
    let p = app.partner("haima", "深圳海马", "regional_core").await;
    app.post("/networks/haima/grants", json!({"partner_id": p, "adcodes": ["440300"]})).await.expect(201);
}

#[tokio::test]
async fn revoke_keeps_history_and_frees_the_land() {
    let app = app().await;
    let p = app.partner("smart", "接任者", "city_partner").await;
    app.post("/networks/smart/grants", json!({"partner_id": p, "adcodes": ["440300"]})).await.expect_problem(409);
    let r = app.post("/networks/smart/grants/1/revoke", json!({"reason": "contract ended", "force": true})).await;
    r.expect(200);
    assert_eq!(r.body["properties"]["status"], json!("revoked"));
    assert_eq!(r.body["properties"]["revoke_reason"], json!("contract ended"));
    app.post("/networks/smart/grants/1/revoke", json!({"reason": "again"})).await.expect_problem(409);
    app.post("/networks/smart/grants", json!({"partner_id": p, "adcodes": ["440300"]})).await.expect(201);
    let revoked = app.get("/networks/smart/grants?status=revoked").await;
    let ids: Vec<i64> = revoked.body["features"].as_array().expect("list").iter().map(|f| f["id"].as_i64().expect("id")).collect();
    assert_eq!(ids, [1, 6], "this one and the seeded Dongguan grant");
    let one = app.get("/networks/smart/grants/1").await;
    assert_eq!(one.body["properties"]["status"], json!("revoked"));
    let audit = app.get("/networks/smart/audit").await;
    let results: Vec<&str> = audit.body["entries"].as_array().expect("entries").iter().map(|e| e["result"].as_str().expect("r")).collect();
    assert_eq!(&results[results.len() - 3..], ["refused", "revoked", "granted"]);
    let refused = &audit.body["entries"].as_array().expect("entries")[results.len() - 3];
    assert_eq!(refused["conflicts"][0]["grant_id"], json!(1));
    assert_eq!(refused["request"]["adcodes"], json!(["440300"]));
}

#[tokio::test]
async fn listing_filters_by_partner_day_and_box() {
    let app = app().await;
    let all = app.get("/networks/smart/grants").await;
    assert_eq!(all.body["features"].as_array().expect("list").len(), 6, "5 cities and the revoked Dongguan grant");
    let mine = app.get("/networks/smart/grants?partner_id=2").await;
    assert_eq!(mine.body["features"][0]["properties"]["adcodes"], json!(["420100"]));
    let before = app.get("/networks/smart/grants?active_on=2023-03-14").await;
    assert_eq!(before.body["features"].as_array().expect("list").len(), 0);
    let boxed = app.get("/networks/smart/grants?bbox=113.9,22.5,114.1,22.6").await;
    let ids: Vec<i64> = boxed.body["features"].as_array().expect("list").iter().map(|f| f["id"].as_i64().expect("id")).collect();
    assert_eq!(ids, vec![1]);
    app.get("/networks/smart/grants?bbox=1,2,3").await.expect_problem(400);
    app.get("/networks/smart/grants/999").await.expect_problem(404);
}

#[tokio::test]
async fn stored_grants_have_no_conflicts_and_bulk_rows_are_found() {
    let app = app().await;
    let r = app.get("/networks/smart/conflicts").await;
    r.expect(200);
    assert_eq!(r.body["count"], json!(0));
    insert_conflicting_grant(&app).await;
    let r = app.get("/networks/smart/conflicts").await;
    assert_eq!(r.body["count"], json!(1), "{}", r.text);
}

#[tokio::test]
async fn gcj02_input_is_converted_to_wgs84() {
    let app = app().await;
    let p = app.partner("smart", "高德坐标", "city_partner").await;
    let r = app.post("/networks/smart/grants?coord_sys=gcj02", json!({"partner_id": p, "geometry": rect(120.6, 31.3, 120.61, 31.31)})).await;
    r.expect(201);
    let first = &r.body["geometry"]["coordinates"][0][0][0];
    let (lon, lat) = (first[0].as_f64().expect("lon"), first[1].as_f64().expect("lat"));
    // GCJ-02 is offset by a few hundred metres around 苏州: WGS84 = GCJ-02 - offset.
    assert!((120.6 - lon) > 0.003 && (120.6 - lon) < 0.006, "{lon}");
    assert!((31.3 - lat).abs() > 0.001 && (31.3 - lat).abs() < 0.004, "{lat}");
    app.post("/networks/smart/grants?coord_sys=mars", json!({"partner_id": p, "adcodes": ["441300"]})).await.expect_problem(400);
}

/// A drawn geometry is read straight from the body where it is plainly right (the key as
/// written, no escape): the answers must be those of the general reader, which takes a key
/// spelled with an escape, byte for byte, for plain and for converted datums, for accepted
/// and refused geometry; a body naming `geometry` twice is refused either way.
#[tokio::test]
async fn a_geometry_read_from_the_body_answers_as_the_general_reader_does() {
    let app = app().await;
    let p = app.partner("smart", "读法", "city_partner").await;
    // An inland district: moved by a datum's few hundred metres, it stays in the regions.
    let district = region_geometry("420102").to_string();
    let bowtie = json!({"type": "Polygon", "coordinates": [[[114.0, 22.5], [114.1, 22.6], [114.1, 22.5], [114.0, 22.6], [114.0, 22.5]]]}).to_string();
    for geometry in [&district, &bowtie] {
        for query in ["", "?coord_sys=gcj02", "?coord_sys=bd09"] {
            let uri = format!("/networks/smart/grants/check{query}");
            let plain = app.raw(Method::POST, &uri, format!(r#"{{"partner_id":{p},"geometry":{geometry}}}"#)).await;
            let escaped = app.raw(Method::POST, &uri, format!(r#"{{"partner_id":{p},"geo\u006detry":{geometry}}}"#)).await;
            assert_eq!((plain.status, &plain.text), (escaped.status, &escaped.text), "{query}");
            let want = if geometry == &district { 200 } else { 422 };
            assert_eq!(plain.status.as_u16(), want, "{query}: {}", plain.text);
        }
    }
    let twice = format!(r#"{{"partner_id":{p},"geometry":{district},"geometry":{district}}}"#);
    let r = app.raw(Method::POST, "/networks/smart/grants/check", twice).await;
    r.expect_problem(422);
    assert!(r.text.contains("duplicate field"), "{}", r.text);
}

/// A region's drawn geometry moved by `dy` degrees of latitude.
fn shifted(adcode: &str, dy: f64) -> serde_json::Value {
    use serde_json::Value;
    let mut g = crate::common::region_geometry(adcode);
    fn walk(v: &mut Value, dy: f64) {
        match v {
            Value::Array(items) if items.len() == 2 && items.iter().all(Value::is_number) => items[1] = json!(items[1].as_f64().unwrap_or(0.0) + dy),
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, dy)),
            _ => {}
        }
    }
    walk(&mut g["coordinates"], dy);
    g
}

#[tokio::test]
async fn a_drawn_territory_must_lie_within_the_stored_regions_but_a_sliver_over_the_coast_is_tolerated() {
    let app = app().await;
    app.post("/networks", json!({"code": "sea", "name": "sea", "policy": "smart"})).await.expect(201);
    let p = app.partner("sea", "沿海", "city_partner").await;
    let before = app.counts().await;
    // A square in the Atlantic, and 福田 (on the border with Hong Kong, not stored) moved
    // 1 km south: both hold far more than a sliver outside every stored province.
    for (geometry, what) in [(rect(-30.0, 10.0, -29.9, 10.1), "the Atlantic"), (shifted("440304", -0.01), "福田 moved 1 km south")] {
        let r = app.post("/networks/sea/grants", json!({"partner_id": p, "geometry": geometry})).await;
        r.expect_problem(422);
        assert_eq!(r.pointers(), ["/geometry"], "{what}: {}", r.text);
        assert!(r.text.contains("outside every stored region"), "{what}: {}", r.text);
    }
    assert_eq!(app.counts().await, before, "nothing written");
    // Moved 20 cm: a sliver over the border, tolerated.
    app.post("/networks/sea/grants", json!({"partner_id": p, "geometry": shifted("440304", -0.000002)})).await.expect(201);
}

#[tokio::test]
async fn the_audit_is_filtered_paged_by_cursor_and_light_without_geometry() {
    let app = app().await;
    app.post("/networks", json!({"code": "log", "name": "log", "policy": "smart"})).await.expect(201);
    let a = app.partner("log", "甲", "city_partner").await;
    let b = app.partner("log", "乙", "city_partner").await;
    let drawn = app.post("/networks/log/grants", json!({"partner_id": a, "geometry": rect(96.0, 36.0, 96.2, 36.2)})).await;
    let drawn = drawn.body["id"].as_i64().expect("id");
    app.post("/networks/log/grants", json!({"partner_id": b, "geometry": rect(96.1, 36.1, 96.3, 36.3)})).await.expect_problem(409);
    for code in ["420100", "420600", "420500"] {
        app.post("/networks/log/grants", json!({"partner_id": b, "adcodes": [code]})).await.expect(201);
    }
    app.post(&format!("/networks/log/grants/{drawn}/revoke"), json!({"reason": "test"})).await.expect(200);
    let ids = |r: &crate::common::Reply| r.body["entries"].as_array().expect("entries").iter().map(|e| e["id"].as_i64().expect("id")).collect::<Vec<_>>();

    let all = app.get("/networks/log/audit").await;
    assert_eq!(ids(&all).len(), 6, "{}", all.text);
    assert!(!all.text.contains("\"coordinates\""), "geometries are left out by default");
    let whole = app.get("/networks/log/audit?include=geometry").await;
    assert!(whole.text.contains("\"coordinates\"") && whole.text.len() > all.text.len());

    let of_grant = app.get(&format!("/networks/log/audit?grant_id={drawn}")).await;
    let kinds: Vec<&str> = of_grant.body["entries"].as_array().expect("entries").iter().map(|e| e["action"].as_str().unwrap_or("")).collect();
    assert_eq!(kinds, ["grant", "revoke"]);
    assert_eq!(ids(&app.get(&format!("/networks/log/audit?partner_id={b}")).await).len(), 4, "the refusal and three grants of 乙");
    assert_eq!(ids(&app.get("/networks/log/audit?kind=revoke").await).len(), 1);
    assert_eq!(ids(&app.get("/networks/log/audit?actor=open").await).len(), 6);
    assert_eq!(ids(&app.get("/networks/log/audit?actor=cli").await).len(), 0);
    assert_eq!(ids(&app.get("/networks/log/audit?from=2000-01-01&to=2000-01-02").await).len(), 0);
    let today = chrono::Utc::now().date_naive();
    assert_eq!(ids(&app.get(&format!("/networks/log/audit?from={today}")).await).len(), 6);

    // Pages of two, following `next` as given, see every entry once, in order.
    let (mut seen, mut uri) = (Vec::new(), "/networks/log/audit?limit=2&partner_id=".to_string() + &b.to_string());
    loop {
        let page = app.get(&uri).await;
        seen.extend(ids(&page));
        match page.body["links"].as_array().and_then(|l| l.iter().find(|l| l["rel"] == "next")) {
            Some(next) => uri = next["href"].as_str().expect("href").replace("http://localhost:8080", ""),
            None => break,
        }
    }
    let expected = ids(&app.get(&format!("/networks/log/audit?partner_id={b}")).await);
    assert_eq!(seen, expected);
    for bad in ["kind=fly", "limit=0", "from=yesterday", "include=everything", "colour=red"] {
        app.get(&format!("/networks/log/audit?{bad}")).await.expect_problem(400);
    }
}
