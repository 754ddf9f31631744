//! The compliance report: each rule of the format standard found, a compliant network
//! clean, and the sample networks' deliberate breaches.

use crate::common::{TestApp, app};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const GUANGZHOU: [f64; 2] = [113.30, 23.12];
const CHANGSHA: [f64; 2] = [112.95, 28.22];
const ZHUZHOU: [f64; 2] = [113.13, 27.83];

/// A fresh haima-policy network with a core partner in 广州, a regional in 长沙 and a
/// dealer in 株洲; returns their partner ids.
async fn network(app: &TestApp) -> (i64, i64, i64) {
    app.post("/networks", json!({"code": "std", "name": "standard test", "policy": "haima"})).await.expect(201);
    let core = app.partner("std", "core", "regional_core").await;
    let regional = app.partner("std", "regional", "regional").await;
    let dealer = app.partner("std", "dealer", "dealer").await;
    for (p, adcode) in [(core, "440100"), (regional, "430100"), (dealer, "430200")] {
        app.post("/networks/std/grants", json!({"partner_id": p, "adcodes": [adcode]})).await.expect(201);
    }
    (core, regional, dealer)
}

/// The flagship minima of the standard, met exactly.
fn flagship_facility() -> Value {
    json!({"land_m2": 2774, "building_m2": 2190, "showroom_m2": 450, "frontage_m": 30, "depth_m": 15, "height_m": 6.8,
           "workshop_m2": 1410, "bays_mech": 8, "bays_body": 4, "bays_paint": 4, "parts_m2": 200})
}

async fn outlet(app: &TestApp, partner: i64, format: &str, at: [f64; 2], facility: Value) -> i64 {
    let body = json!({"partner_id": partner, "name": format!("{format} of {partner}"), "location": {"type": "Point", "coordinates": at},
                      "format": format, "site_type": "auto_city", "opened_on": "2025-01-01", "facility": facility});
    let r = app.post("/networks/std/outlets", body).await;
    r.expect(201);
    r.body["id"].as_i64().expect("id")
}

async fn breaches(app: &TestApp) -> Vec<Value> {
    let r = app.get("/networks/std/compliance").await;
    r.expect(200);
    r.body["breaches"].as_array().expect("breaches").clone()
}

/// What the action at `url` would break, by its dry run: (rule, outlet) pairs.
async fn would_break(app: &TestApp, url: &str, body: Value) -> Vec<(Value, Value)> {
    let dry = app.post(&format!("{url}?dry_run=true"), body).await;
    dry.expect(200);
    dry.body["would_break"].as_array().expect("would_break").iter().map(|b| (b["rule"].clone(), b["outlet_id"].clone())).collect()
}

/// The action at `url` without `force`: a 409 `would-break`; its body.
async fn refused_as_would_break(app: &TestApp, url: &str, body: Value) -> Value {
    let refused = app.post(url, body).await;
    refused.expect_problem(409);
    assert!(refused.body["type"].as_str().is_some_and(|t| t.ends_with(":would-break")), "{}", refused.text);
    refused.body
}

/// The newest entry of network `std`'s audit log.
async fn last_audit_entry(app: &TestApp) -> Value {
    let audit = app.get("/networks/std/audit").await;
    audit.body["entries"].as_array().and_then(|e| e.last().cloned()).expect("an entry")
}

#[tokio::test]
async fn a_network_that_meets_the_standard_reports_no_breach() {
    let app = app().await;
    let (core, _, dealer) = network(&app).await;
    outlet(&app, core, "flagship", GUANGZHOU, flagship_facility()).await;
    outlet(&app, core, "city_showroom", [113.33, 23.13], json!({"showroom_m2": 300, "frontage_m": 20})).await;
    outlet(&app, core, "quick_service", [113.28, 23.14], json!({"frontage_m": 28, "bays_mech": 4})).await;
    outlet(&app, dealer, "function", ZHUZHOU, json!({})).await;
    let r = app.get("/networks/std/compliance").await;
    r.expect(200);
    assert_eq!(r.body["compliant"], json!(true), "{}", r.text);
    assert_eq!(r.body["breaches"], json!([]));
    let core_summary = r.body["partners"].as_array().expect("partners").iter().find(|p| p["partner_id"] == json!(core)).expect("core").clone();
    assert_eq!(core_summary["outlets"], json!(3));
    assert_eq!(core_summary["by_format"], json!({"city_showroom": 1, "flagship": 1, "quick_service": 1}));
    assert_eq!(core_summary["by_role"], json!({"sales": 1, "sales_service": 1, "service": 1}));
    assert_eq!(core_summary["site_type_share"], json!({"auto_city": 1.0}));
}

#[tokio::test]
async fn a_format_the_tier_may_not_open_is_a_breach() {
    let app = app().await;
    let (_, _, dealer) = network(&app).await;
    let id = outlet(&app, dealer, "flagship", ZHUZHOU, flagship_facility()).await;
    let found = breaches(&app).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["rule"], json!("format_not_allowed_for_tier"));
    assert_eq!(found[0]["outlet_id"], json!(id));
    assert_eq!(found[0]["found"], json!("flagship"));
    assert_eq!(found[0]["required"], json!(["elite", "function"]));
}

#[tokio::test]
async fn a_city_showroom_or_quick_service_needs_a_flagship_or_elite_of_its_partner_in_the_city() {
    let app = app().await;
    let (core, regional, _) = network(&app).await;
    // The core partner's flagship is in 广州; it does not anchor the regional's 长沙 store.
    outlet(&app, core, "flagship", GUANGZHOU, flagship_facility()).await;
    let qs = outlet(&app, regional, "quick_service", CHANGSHA, json!({})).await;
    let found = breaches(&app).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["rule"], json!("missing_anchor_store"));
    assert_eq!(found[0]["outlet_id"], json!(qs));
    assert_eq!(found[0]["found"]["city"], json!("430100"));
    assert_eq!(found[0]["required"]["anchor_formats"], json!(["flagship", "elite"]));
    outlet(&app, regional, "elite", [112.98, 28.19], json!({})).await;
    assert_eq!(breaches(&app).await, Vec::<Value>::new(), "an elite store in 长沙 anchors it");
}

#[tokio::test]
async fn facility_figures_below_the_minima_are_breaches_with_found_and_required() {
    let app = app().await;
    let (core, _, _) = network(&app).await;
    let mut facility = flagship_facility();
    facility["showroom_m2"] = json!(449);
    facility["bays_mech"] = json!(7);
    facility["height_m"] = json!(7.5);
    let id = outlet(&app, core, "flagship", GUANGZHOU, facility).await;
    let found = breaches(&app).await;
    let figures: BTreeMap<String, (Value, Value)> = found
        .iter()
        .inspect(|b| assert_eq!((b["rule"].clone(), b["outlet_id"].clone()), (json!("facility_below_minimum"), json!(id))))
        .map(|b| {
            let (k, v) = b["found"].as_object().expect("found").iter().next().expect("one figure");
            (k.clone(), (v.clone(), b["required"][k].clone()))
        })
        .collect();
    assert_eq!(figures.len(), 2, "{found:?}");
    assert_eq!(figures["showroom_m2"], (json!(449.0), json!(450.0)));
    assert_eq!(figures["bays_mech"], (json!(7.0), json!(8.0)));
}

#[tokio::test]
async fn a_facility_figure_not_recorded_is_a_data_gap_never_a_pass() {
    let app = app().await;
    let (core, _, _) = network(&app).await;
    // A flagship with every figure but two: those two are gaps, not passes nor breaches.
    let mut facility = flagship_facility();
    facility.as_object_mut().expect("figures").retain(|k, _| k != "land_m2" && k != "staff");
    let id = outlet(&app, core, "flagship", GUANGZHOU, facility).await;
    let report = app.get("/networks/std/compliance").await;
    report.expect(200);
    assert_eq!(report.body["breaches"], json!([]), "{}", report.text);
    let gaps = report.body["data_gaps"].as_array().expect("data_gaps");
    let missing: Vec<&str> = gaps.iter().map(|g| g["found"].as_object().and_then(|f| f.keys().next()).map_or("", String::as_str)).collect();
    assert!(gaps.iter().all(|g| g["rule"] == "facility_missing" && g["outlet_id"] == json!(id)), "{gaps:?}");
    assert!(missing.contains(&"land_m2"), "{missing:?}");
    assert!(gaps.iter().all(|g| g["required"].as_object().is_some_and(|r| r.values().all(Value::is_number))), "{gaps:?}");
}

#[tokio::test]
async fn compliance_on_a_later_day_takes_the_grants_in_force_and_the_outlets_open_then() {
    let app = app().await;
    app.post("/networks", json!({"code": "std", "name": "standard test", "policy": "haima"})).await.expect(201);
    let core = app.partner("std", "core", "regional_core").await;
    let today = chrono::Utc::now().date_naive();
    let day = |days: i64| (today + chrono::Duration::days(days)).to_string();
    // 广州 held until 30 days from now; a flagship there open since 2025.
    app.post("/networks/std/grants", json!({"partner_id": core, "adcodes": ["440100"], "valid_to": day(30)})).await.expect(201);
    let flagship = outlet(&app, core, "flagship", GUANGZHOU, flagship_facility()).await;
    let report = |on: Option<String>| {
        let app = &app;
        async move {
            let query = on.map(|d| format!("?on={d}")).unwrap_or_default();
            let r = app.get(&format!("/networks/std/compliance{query}")).await;
            r.expect(200);
            r.body
        }
    };
    let now = report(None).await;
    assert_eq!((now["checked_on"].clone(), now["breaches"].clone()), (json!(today.to_string()), json!([])), "{now}");
    // 60 days on the grant has ended: the flagship stands outside every grant.
    let later = report(Some(day(60))).await;
    assert_eq!(later["checked_on"], json!(day(60)));
    let rules: Vec<(Value, Value)> = later["breaches"].as_array().expect("breaches").iter().map(|b| (b["rule"].clone(), b["outlet_id"].clone())).collect();
    assert_eq!(rules, [(json!("outside_territory"), json!(flagship))], "{later}");
    // An outlet planned to open in 20 days (approved, in the pipeline) does not count
    // today, and does from that day.
    let body = json!({"partner_id": core, "name": "明年店", "location": {"type": "Point", "coordinates": GUANGZHOU}, "format": "flagship",
                      "site_type": "mall", "status": "approved", "planned_open_on": day(20), "facility": flagship_facility()});
    app.post("/networks/std/outlets", body).await.expect(201);
    let outlets = |r: &Value| r["partners"][0]["outlets"].as_u64();
    assert_eq!(outlets(&report(None).await), Some(1));
    assert_eq!(outlets(&report(Some(day(25))).await), Some(2));
    // A day that is not one is refused.
    app.get("/networks/std/compliance?on=tomorrow").await.expect_problem(400);
}

#[tokio::test]
async fn an_outlet_left_outside_after_a_revoke_is_a_breach_and_closing_it_clears_it() {
    let app = app().await;
    let (_, _, dealer) = network(&app).await;
    let id = outlet(&app, dealer, "elite", ZHUZHOU, json!({})).await;
    let grants = app.get(&format!("/networks/std/grants?partner_id={dealer}")).await;
    let grant = grants.body["features"][0]["id"].as_i64().expect("grant");
    let revoke = format!("/networks/std/grants/{grant}/revoke");
    let audit_before = app.get("/networks/std/audit").await.body["entries"].as_array().map(Vec::len);
    // What the revoke would break comes first: a dry run shows it and changes nothing ...
    assert_eq!(would_break(&app, &revoke, json!({"reason": "ended"})).await, [(json!("outside_territory"), json!(id))]);
    // ... a revoke that breaks something needs force ...
    let refused = refused_as_would_break(&app, &revoke, json!({"reason": "ended"})).await;
    assert_eq!(refused["breaks"][0]["outlet_id"], json!(id));
    assert_eq!(breaches(&app).await, Vec::<Value>::new(), "nothing changed");
    assert_eq!(app.get("/networks/std/audit").await.body["entries"].as_array().map(Vec::len), audit_before);
    // ... and the audit keeps what it broke.
    app.post(&revoke, json!({"reason": "ended", "force": true})).await.expect(200);
    let last = last_audit_entry(&app).await;
    assert_eq!(last["request"]["broke"][0]["outlet_id"], json!(id), "{last}");
    // A revoke that breaks nothing needs no force.
    let other = app.get("/networks/std/grants?status=active").await.body["features"][0]["id"].as_i64().expect("another grant");
    let clean = app.post(&format!("/networks/std/grants/{other}/revoke?dry_run=true"), json!({"reason": "x"})).await;
    assert_eq!(clean.body["would_break"], json!([]), "{}", clean.text);
    let found = breaches(&app).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["rule"], json!("outside_territory"));
    assert_eq!(found[0]["outlet_id"], json!(id));
    app.post(&format!("/networks/std/outlets/{id}/close"), json!({"reason": "territory lost"})).await.expect(200);
    assert_eq!(breaches(&app).await, Vec::<Value>::new());
}

#[tokio::test]
async fn closing_an_anchor_store_answers_first_with_the_outlets_it_leaves_without_one() {
    let app = app().await;
    let (core, _, _) = network(&app).await;
    let flagship = outlet(&app, core, "flagship", GUANGZHOU, flagship_facility()).await;
    let showroom = outlet(&app, core, "city_showroom", [113.32, 23.13], json!({})).await;
    assert_eq!(breaches(&app).await, Vec::<Value>::new());
    let close = format!("/networks/std/outlets/{flagship}/close");
    assert_eq!(would_break(&app, &close, json!({"reason": "lease ends"})).await, [(json!("missing_anchor_store"), json!(showroom))]);
    refused_as_would_break(&app, &close, json!({"reason": "lease ends"})).await;
    assert_eq!(app.get(&format!("/networks/std/outlets/{flagship}")).await.body["properties"]["status"], json!("open"), "nothing changed");
    app.post(&close, json!({"reason": "lease ends", "force": true})).await.expect(200);
    let last = last_audit_entry(&app).await;
    assert_eq!((last["action"].clone(), last["request"]["broke"][0]["outlet_id"].clone()), (json!("close"), json!(showroom)), "{last}");
    assert_eq!(breaches(&app).await.len(), 1);
}

#[tokio::test]
async fn the_sample_haima_network_shows_its_deliberate_breaches() {
    let app = app().await;
    let r = app.get("/networks/haima/compliance").await;
    r.expect(200);
    assert_eq!(r.body["compliant"], json!(false));
    let mut rules: BTreeMap<String, usize> = BTreeMap::new();
    for b in r.body["breaches"].as_array().expect("breaches") {
        *rules.entry(b["rule"].as_str().expect("rule").to_string()).or_default() += 1;
        assert!(b["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    let expected: BTreeMap<String, usize> =
        [("facility_below_minimum", 2), ("format_not_allowed_for_tier", 2), ("missing_anchor_store", 1), ("outside_territory", 1)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
    assert_eq!(rules, expected, "{}", r.text);
    let one = app.get("/networks/haima/compliance?partner_id=6").await;
    assert_eq!(one.body["compliant"], json!(true), "the Guangzhou core dealer meets the standard: {}", one.text);
    app.get("/networks/haima/compliance?partner_id=1").await.expect_problem(404);
}

#[tokio::test]
async fn the_sample_smart_network_moves_from_malls_to_auto_cities() {
    let app = app().await;
    let r = app.get("/networks/smart/compliance").await;
    r.expect(200);
    let years = r.body["mix"]["mix_by_year"].as_array().expect("years");
    let share = |year: i64, site: &str| years.iter().find(|y| y["year"] == json!(year)).and_then(|y| y["share"][site].as_f64()).unwrap_or(0.0);
    assert!(share(2023, "mall") >= 0.9, "year one ~90% mall: {years:?}");
    assert!(share(2024, "auto_city") > 0.5, "over half auto-city by the end of 2024: {years:?}");
}

#[tokio::test]
async fn the_network_standard_is_served_from_the_bundled_file() {
    let app = app().await;
    let r = app.get("/networks/haima/standard").await;
    r.expect(200);
    let flagship = r.body["formats"].as_array().expect("formats").iter().find(|f| f["code"] == json!("flagship")).expect("flagship").clone();
    assert_eq!(flagship["annual_sales"]["min"], json!(1200.0));
    assert_eq!(flagship["minima"]["showroom_m2"], json!(450.0));
    assert_eq!(flagship["minima"]["frontage_m"], json!(30.0));
    assert_eq!(r.body["tiers"]["dealer"], json!(["elite", "function"]));
    let smart = app.get("/networks/smart/standard").await;
    assert_eq!(
        smart.body["roles"].as_array().map(|r| r.iter().map(|x| x["code"].clone()).collect::<Vec<_>>()),
        Some(vec![json!("sales_touchpoint"), json!("delivery_node")])
    );
}
