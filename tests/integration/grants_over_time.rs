//! Grants over time: reservations that hold a territory until a day and then free it,
//! confirmation, and moving a grant's last day (shorter: consequences first; longer:
//! checked like a new grant).

use crate::binary::{Server, serve};
use crate::common::{TestApp, app, test_db};
use axum::http::Method;
use chrono::{Days, NaiveDate};
use serde_json::{Value, json};

const WUHAN_CITY: &str = "420100";
const WUHAN: [f64; 2] = [114.30, 30.60];

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

fn after(days: u64) -> String {
    (today() + Days::new(days)).to_string()
}

/// A network of its own with two city partners.
async fn network(app: &TestApp) -> (i64, i64) {
    app.post("/networks", json!({"code": "time", "name": "time", "policy": "smart"})).await.expect(201);
    (app.partner("time", "甲", "city_partner").await, app.partner("time", "乙", "city_partner").await)
}

async fn patch(app: &TestApp, uri: &str, body: Value) -> crate::common::Reply {
    app.call(Method::PATCH, uri, Some(body)).await
}

#[tokio::test]
async fn a_reservation_holds_the_city_like_a_grant_until_confirmed() {
    let app = app().await;
    let (a, b) = network(&app).await;
    let r = app.post("/networks/time/grants", json!({"partner_id": a, "adcodes": [WUHAN_CITY], "reserved_until": after(10)})).await;
    r.expect(201);
    let id = r.body["id"].as_i64().expect("id");
    assert_eq!((r.body["properties"]["status"].clone(), r.body["properties"]["reserved_until"].clone()), (json!("reserved"), json!(after(10))));

    let refused = app.post("/networks/time/grants", json!({"partner_id": b, "adcodes": ["420102"]})).await;
    refused.expect_problem(409);
    assert_eq!(refused.body["conflicts"][0]["grant_id"], json!(id), "the reservation is named: {}", refused.text);
    // A proposed outlet of the partner may stand in its reservation.
    let outlet = json!({"partner_id": a, "name": "申请中", "location": {"type": "Point", "coordinates": WUHAN}, "format": "light_showroom",
                        "site_type": "mall", "status": "proposed"});
    app.post("/networks/time/outlets", outlet).await.expect(201);

    let confirmed = app.post(&format!("/networks/time/grants/{id}/confirm"), json!({})).await;
    confirmed.expect(200);
    assert_eq!(confirmed.body["properties"]["status"], json!("active"));
    app.post(&format!("/networks/time/grants/{id}/confirm"), json!({})).await.expect_problem(409);
    app.post("/networks/time/grants", json!({"partner_id": b, "adcodes": ["420102"]})).await.expect_problem(409);
    let audit = app.get("/networks/time/audit").await;
    let actions: Vec<&str> = audit.body["entries"].as_array().expect("entries").iter().map(|e| e["action"].as_str().unwrap_or("")).collect();
    assert!(actions.contains(&"confirm"), "{actions:?}");

    // Bad reservations change nothing.
    let (grants, audits) = app.counts().await;
    for bad in [json!("2020-01-01"), json!("soon")] {
        let r = app.post("/networks/time/grants", json!({"partner_id": b, "adcodes": ["510100"], "reserved_until": bad})).await;
        assert_eq!(r.pointers(), ["/reserved_until"], "{}", r.text);
    }
    assert_eq!(app.counts().await, (grants, audits));
}

#[tokio::test]
async fn an_expired_reservation_frees_the_city_with_no_request_in_between_across_a_restart() {
    let db = test_db();
    let client = reqwest::Client::new();
    let (child, base) = serve(&db.path);
    let server = Server(child);
    let post = |path: &str, body: Value| client.post(format!("{base}{path}")).json(&body).send();
    let a: Value = post("/networks/smart/partners", json!({"name": "预约甲", "tier": "city_partner"})).await.expect("a").json().await.expect("json");
    let b: Value = post("/networks/smart/partners", json!({"name": "预约乙", "tier": "city_partner"})).await.expect("b").json().await.expect("json");
    // 襄阳 420600 is free in the sample network; A reserves it until today.
    let r =
        post("/networks/smart/grants", json!({"partner_id": a["id"], "adcodes": ["420600"], "reserved_until": today().to_string()})).await.expect("reserve");
    assert_eq!(r.status().as_u16(), 201);
    let id = r.json::<Value>().await.expect("json")["id"].as_i64().expect("id");
    let r = post("/networks/smart/grants", json!({"partner_id": b["id"], "adcodes": ["420600"]})).await.expect("grant");
    assert_eq!(r.status().as_u16(), 409, "held today");
    drop(server);

    // A day passes while the service is down: nothing runs, nothing is written but the
    // calendar (the reservation's last day is now yesterday).
    let yesterday = (today() - Days::new(1)).to_string();
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.path.display())).await.expect("open");
    sqlx::query("update grants set reserved_until = ?, valid_from = min(valid_from, ?) where id = ?")
        .bind(&yesterday)
        .bind(&yesterday)
        .bind(id)
        .execute(&pool)
        .await
        .expect("age");
    pool.close().await;

    let (child, base) = serve(&db.path);
    let _server = Server(child);
    let grant: Value = client.get(format!("{base}/networks/smart/grants/{id}")).send().await.expect("get").json().await.expect("json");
    assert_eq!(grant["properties"]["status"], json!("expired"));
    let r = client.post(format!("{base}/networks/smart/grants")).json(&json!({"partner_id": b["id"], "adcodes": ["420600"]})).send().await.expect("grant");
    assert_eq!(r.status().as_u16(), 201, "free again: {}", r.text().await.unwrap_or_default());
    let r = client.post(format!("{base}/networks/smart/grants/{id}/confirm")).json(&json!({})).send().await.expect("confirm");
    assert_eq!(r.status().as_u16(), 409, "an expired reservation is not confirmed");
}

#[tokio::test]
async fn shortening_a_grant_shows_what_it_leaves_outside_and_needs_force() {
    let app = app().await;
    let (a, _) = network(&app).await;
    let g = app.post("/networks/time/grants", json!({"partner_id": a, "adcodes": [WUHAN_CITY], "valid_to": after(100)})).await;
    let id = g.body["id"].as_i64().expect("id");
    let outlet = json!({"partner_id": a, "name": "门店", "location": {"type": "Point", "coordinates": WUHAN}, "format": "light_showroom", "site_type": "mall"});
    let outlet_id = app.post("/networks/time/outlets", outlet).await.body["id"].as_i64().expect("outlet");
    let uri = format!("/networks/time/grants/{id}");
    let (grants, audits) = app.counts().await;

    let dry = patch(&app, &format!("{uri}?dry_run=true"), json!({"valid_to": after(30)})).await;
    dry.expect(200);
    let breaks = dry.body["would_break"].as_array().expect("would_break");
    assert_eq!(breaks.len(), 1, "{}", dry.text);
    assert_eq!((breaks[0]["rule"].clone(), breaks[0]["outlet_id"].clone()), (json!("outside_territory"), json!(outlet_id)));
    assert!(breaks[0]["detail"].as_str().is_some_and(|d| d.contains(&after(31))), "checked on the first day left uncovered: {}", dry.text);
    let r = patch(&app, &uri, json!({"valid_to": after(30)})).await;
    r.expect_problem(409);
    assert_eq!(r.body["type"], json!("urn:territory:problem:would-break"));
    assert_eq!(app.counts().await, (grants, audits), "nothing changed by the dry run or the refusal");
    assert_eq!(app.get(&uri).await.body["properties"]["valid_to"], json!(after(100)));

    // Never into the past; null is required to make it open-ended.
    assert_eq!(patch(&app, &uri, json!({"valid_to": "2020-01-01"})).await.pointers(), ["/valid_to"]);
    patch(&app, &uri, json!({"reason": "x"})).await.expect_problem(422);
    let r = patch(&app, &uri, json!({"valid_to": after(30), "force": true, "reason": "contract ends"})).await;
    r.expect(200);
    assert_eq!(r.body["properties"]["valid_to"], json!(after(30)));
    let audit = app.get("/networks/time/audit").await;
    let last = audit.body["entries"].as_array().and_then(|e| e.last()).cloned().expect("entry");
    assert_eq!((last["action"].clone(), last["result"].clone()), (json!("valid_to"), json!("changed")));
    assert_eq!(last["request"]["broke"][0]["outlet_id"], json!(outlet_id));
    // Compliance on a later day flags the outlet whose grant ends before it.
    let later = app.get(&format!("/networks/time/compliance?on={}", after(40))).await;
    assert_eq!(later.body["breaches"][0]["rule"], json!("outside_territory"), "{}", later.text);
}

#[tokio::test]
async fn extending_a_grant_is_checked_like_a_new_grant() {
    let app = app().await;
    let (a, b) = network(&app).await;
    let ga = app.post("/networks/time/grants", json!({"partner_id": a, "adcodes": [WUHAN_CITY], "valid_to": after(30)})).await;
    let id = ga.body["id"].as_i64().expect("id");
    let gb = app.post("/networks/time/grants", json!({"partner_id": b, "adcodes": [WUHAN_CITY], "valid_from": after(31)})).await;
    gb.expect(201);
    let r = patch(&app, &format!("/networks/time/grants/{id}"), json!({"valid_to": after(60)})).await;
    r.expect_problem(409);
    assert_eq!(r.body["conflicts"][0]["grant_id"], gb.body["id"], "{}", r.text);
    assert_eq!(app.get(&format!("/networks/time/grants/{id}")).await.body["properties"]["valid_to"], json!(after(30)));
    let open_ended = patch(&app, &format!("/networks/time/grants/{id}"), json!({"valid_to": null})).await;
    open_ended.expect_problem(409);
    // Shorter is no conflict; extending up to the day before B's starts is.
    patch(&app, &format!("/networks/time/grants/{id}"), json!({"valid_to": after(20)})).await.expect(200);
    patch(&app, &format!("/networks/time/grants/{id}"), json!({"valid_to": after(30)})).await.expect(200);
}
