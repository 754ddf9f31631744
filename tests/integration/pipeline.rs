//! The outlet pipeline through the router: stages dated and audited, due dates from the
//! smart standard (approval within 30 days of the proposal, opening within 45 of the
//! approval), the pipeline and the compliance summary on several dates, and scoring
//! against the planned network.

use crate::common::{TestApp, app};
use axum::http::Method;
use chrono::{Days, NaiveDate};
use serde_json::{Value, json};

// Seeded smart network: partner 2 holds 武汉 420100 (grant 2), exclusive, open-ended.
const WUHAN: [f64; 2] = [114.30, 30.60];
const CHENGDU: [f64; 2] = [104.08, 30.66];

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

fn plus(d: NaiveDate, days: i64) -> NaiveDate {
    if days >= 0 { d + Days::new(days as u64) } else { d - Days::new((-days) as u64) }
}

fn showroom(at: [f64; 2]) -> Value {
    json!({"partner_id": 2, "name": "武汉 mall showroom", "location": {"type": "Point", "coordinates": at}, "format": "light_showroom",
           "site_type": "mall", "facility": {"showroom_m2": 300}})
}

async fn pipeline(app: &TestApp, on: NaiveDate) -> Value {
    let r = app.get(&format!("/networks/smart/pipeline?partner_id=2&on={on}")).await;
    r.expect(200);
    r.body.clone()
}

/// The entry of outlet `id` in the pipeline on `on`, if it is there.
async fn entry(app: &TestApp, id: i64, on: NaiveDate) -> Option<Value> {
    let p = pipeline(app, on).await;
    p["entries"].as_array().expect("entries").iter().find(|e| e["outlet_id"] == json!(id)).cloned()
}

async fn partner_summary(app: &TestApp, on: Option<NaiveDate>) -> Value {
    let on = on.map(|d| format!("&on={d}")).unwrap_or_default();
    let r = app.get(&format!("/networks/smart/compliance?partner_id=2{on}")).await;
    r.expect(200);
    r.body["partners"][0].clone()
}

async fn stage(app: &TestApp, id: i64, body: Value) -> crate::common::Reply {
    app.post(&format!("/networks/smart/outlets/{id}/stage"), body).await
}

#[tokio::test]
async fn a_dated_scenario_late_approval_overdue_build_then_opening() {
    let app = app().await;
    let t = today();
    let d = plus(t, -100);
    let mut body = showroom(WUHAN);
    body["status"] = json!("proposed");
    body["proposed_on"] = json!(d.to_string());
    body["planned_open_on"] = json!(plus(t, 30).to_string());
    let r = app.post("/networks/smart/outlets", body).await;
    r.expect(201);
    let id = r.body["id"].as_i64().expect("id");
    assert_eq!(r.body["properties"]["status"], json!("proposed"));
    let before = partner_summary(&app, None).await;

    // D+20: proposed, approval due on D+30, 10 days left.
    let e = entry(&app, id, plus(d, 20)).await.expect("in the pipeline on D+20");
    assert_eq!((e["status"].clone(), e["due"].clone()), (json!("proposed"), json!("approval")));
    assert_eq!((e["due_on"].clone(), e["days_left"].clone(), e["overdue"].clone()), (json!(plus(d, 30).to_string()), json!(10), json!(false)));
    assert!(entry(&app, id, plus(d, -1)).await.is_none(), "not in the pipeline before its proposal");

    // Approved on D+40: ten days late.
    let r = stage(&app, id, json!({"status": "approved", "on": plus(d, 40).to_string()})).await;
    r.expect(200);
    assert_eq!(r.body["properties"]["approved_on"], json!(plus(d, 40).to_string()));
    let e = entry(&app, id, plus(d, 35)).await.expect("D+35");
    assert_eq!((e["status"].clone(), e["days_left"].clone(), e["overdue"].clone()), (json!("proposed"), json!(-5), json!(true)), "as it stood on D+35: {e}");
    let e = entry(&app, id, plus(d, 40)).await.expect("D+40");
    assert_eq!((e["status"].clone(), e["due"].clone(), e["due_on"].clone()), (json!("approved"), json!("opening"), json!(plus(d, 85).to_string())));
    assert_eq!(e["approval_late_days"], json!(10));

    // Building started on D+50; on D+90 the opening (due D+85) is 5 days overdue.
    stage(&app, id, json!({"status": "under_construction", "on": plus(d, 50).to_string()})).await.expect(200);
    let e = entry(&app, id, plus(d, 90)).await.expect("D+90");
    assert_eq!((e["status"].clone(), e["days_left"].clone(), e["overdue"].clone()), (json!("under_construction"), json!(-5), json!(true)));
    let p = pipeline(&app, plus(d, 90)).await;
    assert_eq!(p["overdue"], json!(1));
    // The compliance summary on past days tells the same story.
    let on_d20 = partner_summary(&app, Some(plus(d, 20))).await;
    let on_d90 = partner_summary(&app, Some(plus(d, 90))).await;
    assert_eq!((on_d20["in_pipeline"].clone(), on_d20["overdue"].clone()), (json!(1), json!(0)), "{on_d20}");
    assert_eq!((on_d90["in_pipeline"].clone(), on_d90["overdue"].clone()), (json!(1), json!(1)), "{on_d90}");

    // Today (D+100) the compliance summary counts it: in the pipeline, overdue, not open.
    let now = partner_summary(&app, None).await;
    assert_eq!((now["in_pipeline"].clone(), now["overdue"].clone()), (json!(before["in_pipeline"].as_u64().unwrap_or(0)), json!(1)));
    assert_eq!(now["outlets"], before["outlets"], "not open yet: not among the open outlets");
    let report = app.get("/networks/smart/compliance").await;
    assert!(report.body["overdue"].as_u64().is_some_and(|n| n >= 1), "{}", report.text);
    // On a day after its planned opening, the plan counts it as open.
    let planned = partner_summary(&app, Some(plus(t, 40))).await;
    assert_eq!(planned["outlets"].as_u64(), now["outlets"].as_u64().map(|n| n + 1), "{planned}");

    // Opened today: out of the pipeline, among the open outlets; history unchanged.
    let r = stage(&app, id, json!({"status": "open"})).await;
    r.expect(200);
    assert_eq!(r.body["properties"]["opened_on"], json!(t.to_string()));
    assert!(entry(&app, id, t).await.is_none());
    let opened = partner_summary(&app, None).await;
    assert_eq!((opened["overdue"].clone(), opened["outlets"].as_u64()), (json!(0), now["outlets"].as_u64().map(|n| n + 1)));
    assert_eq!(entry(&app, id, plus(d, 90)).await.map(|e| e["overdue"].clone()), Some(json!(true)), "the past stays as it was");
    let on_d = app.get(&format!("/networks/smart/outlets?on={}", plus(d, 90))).await;
    assert!(!on_d.body["features"].as_array().expect("features").iter().any(|f| f["id"] == json!(id)), "not open on D+90");

    // Every move is in the audit log, dated, with who made it.
    let audit = app.get("/networks/smart/audit").await;
    let moves: Vec<&Value> = audit.body["entries"].as_array().expect("entries").iter().filter(|e| e["outlet_id"] == json!(id)).collect();
    let results: Vec<&str> = moves.iter().map(|e| e["result"].as_str().unwrap_or("")).collect();
    assert_eq!(results, ["proposed", "approved", "under_construction", "open"]);
    assert!(moves.iter().all(|e| e["action"] == json!("stage") && e["actor"] == json!("open")), "{moves:?}");
    assert_eq!(moves[1]["request"]["on"], json!(plus(d, 40).to_string()));
}

#[tokio::test]
async fn moves_that_do_not_follow_the_stages_are_refused_and_change_nothing() {
    let app = app().await;
    let t = today();
    let mut body = showroom(WUHAN);
    body["status"] = json!("proposed");
    body["proposed_on"] = json!(plus(t, -10).to_string());
    let id = app.post("/networks/smart/outlets", body).await.body["id"].as_i64().expect("id");

    stage(&app, id, json!({"status": "open"})).await.expect_problem(409);
    stage(&app, id, json!({"status": "closed"})).await.expect_problem(409);
    let r = stage(&app, id, json!({"status": "approved", "on": plus(t, -11).to_string()})).await;
    r.expect_problem(422);
    assert_eq!(r.pointers(), ["/on"], "{}", r.text);
    stage(&app, id, json!({"status": "approved", "on": plus(t, 1).to_string()})).await.expect_problem(422);
    let r = stage(&app, id, json!({"status": "rejected"})).await;
    assert_eq!(r.pointers(), ["/reason"], "a rejection says why: {}", r.text);
    stage(&app, id, json!({"status": "built"})).await.expect_problem(422);
    let one = app.get(&format!("/networks/smart/outlets/{id}")).await;
    assert_eq!(one.body["properties"]["status"], json!("proposed"), "nothing changed");
    // A closing goes through /close; an outlet not open yet is cancelled instead.
    let r = app.post(&format!("/networks/smart/outlets/{id}/close"), json!({"reason": "x"})).await;
    r.expect_problem(409);
    assert!(r.text.contains("cancelled"), "{}", r.text);
    let r = app.call(Method::PATCH, &format!("/networks/smart/outlets/{id}"), Some(json!({"status": "open"}))).await;
    assert_eq!(r.pointers(), ["/status"], "{}", r.text);

    let r = stage(&app, id, json!({"status": "rejected", "reason": "site too small"})).await;
    r.expect(200);
    assert_eq!((r.body["properties"]["closed_on"].clone(), r.body["properties"]["close_reason"].clone()), (json!(t.to_string()), json!("site too small")));
    stage(&app, id, json!({"status": "approved"})).await.expect_problem(409);
    assert!(entry(&app, id, t).await.is_none(), "rejected: out of the pipeline");
    assert!(entry(&app, id, plus(t, -1)).await.is_some(), "yesterday it was proposed");
}

#[tokio::test]
async fn an_outlet_opening_later_is_not_open_and_a_proposal_is_placed_on_its_planned_opening() {
    let app = app().await;
    let t = today();
    let mut body = showroom(WUHAN);
    body["opened_on"] = json!(plus(t, 180).to_string());
    let r = app.post("/networks/smart/outlets", body).await;
    r.expect_problem(422);
    assert_eq!(r.pointers(), ["/opened_on"]);
    assert!(r.text.contains("pipeline"), "{}", r.text);

    // Placed for its planned opening: outside partner 2's grants there.
    let mut body = showroom(CHENGDU);
    body["status"] = json!("approved");
    body["planned_open_on"] = json!(plus(t, 60).to_string());
    let r = app.post("/networks/smart/outlets", body).await;
    r.expect_problem(409);
    assert!(r.text.contains(&plus(t, 60).to_string()), "the refusal names the planned day: {}", r.text);

    // Stage dates must follow the stages and not lie ahead.
    let mut body = showroom(WUHAN);
    body["status"] = json!("approved");
    body["proposed_on"] = json!(plus(t, -5).to_string());
    body["approved_on"] = json!(plus(t, -9).to_string());
    body["construction_started_on"] = json!(plus(t, -1).to_string());
    let r = app.post("/networks/smart/outlets", body).await;
    r.expect_problem(422);
    assert_eq!(r.pointers(), ["/approved_on", "/construction_started_on"], "{}", r.text);
}

#[tokio::test]
async fn scoring_against_the_planned_network_counts_the_pipeline() {
    // Partner 4 holds 九江, where the fixture grid lies.
    let app = app().await;
    crate::api_scoring::upload(&app, "smart").await;
    let t = today();
    let site = json!([{"id": "a", "location": {"type": "Point", "coordinates": [116.01, 29.71]}, "site_type": "mall"}]);
    let open = app.post("/networks/smart/score", json!({"partner_id": 4, "candidates": site})).await;
    open.expect(200);
    assert_eq!(open.body["against"], json!("open"));
    let mut body = showroom([116.005, 29.705]);
    body["partner_id"] = json!(4);
    body["status"] = json!("under_construction");
    body["planned_open_on"] = json!(plus(t, 20).to_string());
    app.post("/networks/smart/outlets", body).await.expect(201);
    let open_again = app.post("/networks/smart/score", json!({"partner_id": 4, "candidates": site})).await;
    assert_eq!(open_again.body["network_total"], open.body["network_total"], "a pipeline outlet does not sell yet");
    let planned = app.post("/networks/smart/score?network=planned", json!({"partner_id": 4, "candidates": site})).await;
    planned.expect(200);
    assert_eq!(planned.body["against"], json!("planned"));
    let (before, after) = (open.body["network_total"].as_f64().expect("total"), planned.body["network_total"].as_f64().expect("total"));
    assert!(after > before, "the planned network sells more: {before} → {after}");
    let gain = |r: &Value| r["candidates"][0]["net_gain"].as_f64().expect("net_gain");
    let (g_open, g_planned) = (gain(&open.body), gain(&planned.body));
    assert!(g_planned < g_open, "a candidate next to a planned showroom gains less: {g_open} vs {g_planned}");
    let plan = app.post("/networks/smart/plan", json!({"partner_id": 4, "k": 1, "candidates": site, "network": "planned"})).await;
    plan.expect(200);
    assert_eq!(plan.body["against"], json!("planned"));
    app.post("/networks/smart/score?network=someday", json!({"candidates": site})).await.expect_problem(400);
}
