//! Partners as records: renamed (and the new name seen in conflicts), contacts and key,
//! suspended, terminated with its consequences first.

use crate::common::{TestApp, app};
use axum::http::Method;
use chrono::Days;
use serde_json::{Value, json};

const WUHAN: [f64; 2] = [114.30, 30.60];

fn after(days: u64) -> String {
    (chrono::Utc::now().date_naive() + Days::new(days)).to_string()
}

async fn patch(app: &TestApp, uri: &str, body: Value) -> crate::common::Reply {
    app.call(Method::PATCH, uri, Some(body)).await
}

async fn network(app: &TestApp) -> (i64, i64) {
    app.post("/networks", json!({"code": "rec", "name": "rec", "policy": "smart"})).await.expect(201);
    let a = app.post("/networks/rec/partners", json!({"name": "甲", "tier": "city_partner", "contact_email": "li@jia.cn", "external_id": "D-001"})).await;
    a.expect(201);
    assert_eq!((a.body["contact_email"].clone(), a.body["status"].clone()), (json!("li@jia.cn"), json!("active")));
    (a.body["id"].as_i64().expect("id"), app.partner("rec", "乙", "city_partner").await)
}

#[tokio::test]
async fn a_partner_is_renamed_and_its_grants_say_so_everywhere() {
    let app = app().await;
    let (a, b) = network(&app).await;
    app.post("/networks/rec/grants", json!({"partner_id": a, "adcodes": ["420100"]})).await.expect(201);
    let r = patch(&app, &format!("/networks/rec/partners/{a}"), json!({"name": "甲汽车", "contact_phone": "027-1234", "contact_email": null})).await;
    r.expect(200);
    assert_eq!((r.body["name"].clone(), r.body["contact_phone"].clone(), r.body["contact_email"].clone()), (json!("甲汽车"), json!("027-1234"), json!(null)));
    let refused = app.post("/networks/rec/grants/check", json!({"partner_id": b, "adcodes": ["420102"]})).await;
    assert_eq!(refused.body["conflicts"][0]["partner_name"], json!("甲汽车"), "the index has the new name: {}", refused.text);
    let grants = app.get(&format!("/networks/rec/grants?partner_id={a}")).await;
    assert_eq!(grants.body["features"][0]["properties"]["partner_name"], json!("甲汽车"));

    // Bad changes are located and change nothing.
    let before = app.get(&format!("/networks/rec/partners/{a}")).await.body;
    for (body, pointer) in [
        (json!({"tier": "regional"}), "/tier"),
        (json!({"contact_email": "not-an-address"}), "/contact_email"),
        (json!({"name": " "}), "/name"),
        (json!({"status": "terminated"}), "/status"),
        (json!({"status": "gone"}), "/status"),
        (json!({"rating": 5}), ""),
    ] {
        let r = patch(&app, &format!("/networks/rec/partners/{a}"), body.clone()).await;
        r.expect_problem(422);
        assert!(r.pointers().iter().any(|p| p.starts_with(pointer)), "{body}: {}", r.text);
    }
    patch(&app, &format!("/networks/rec/partners/{b}"), json!({"external_id": "D-001"})).await.expect_problem(409);
    assert_eq!(app.get(&format!("/networks/rec/partners/{a}")).await.body, before);
}

#[tokio::test]
async fn a_suspended_partner_takes_no_new_grant_until_active_again() {
    let app = app().await;
    let (a, _) = network(&app).await;
    patch(&app, &format!("/networks/rec/partners/{a}"), json!({"status": "suspended"})).await.expect(200);
    let r = app.post("/networks/rec/grants", json!({"partner_id": a, "adcodes": ["420100"]})).await;
    assert_eq!(r.pointers(), ["/partner_id"], "{}", r.text);
    patch(&app, &format!("/networks/rec/partners/{a}"), json!({"status": "active"})).await.expect(200);
    app.post("/networks/rec/grants", json!({"partner_id": a, "adcodes": ["420100"]})).await.expect(201);
}

#[tokio::test]
async fn terminating_a_partner_shows_what_it_breaks_then_ends_its_grants() {
    let app = app().await;
    let (a, _) = network(&app).await;
    let now = app.post("/networks/rec/grants", json!({"partner_id": a, "adcodes": ["420100"]})).await;
    let later = app.post("/networks/rec/grants", json!({"partner_id": a, "adcodes": ["420600"], "valid_from": after(90)})).await;
    let (now, later) = (now.body["id"].as_i64().expect("id"), later.body["id"].as_i64().expect("id"));
    let outlet = json!({"partner_id": a, "name": "门店", "location": {"type": "Point", "coordinates": WUHAN}, "format": "light_showroom", "site_type": "mall"});
    let outlet = app.post("/networks/rec/outlets", outlet).await.body["id"].as_i64().expect("outlet");
    let uri = format!("/networks/rec/partners/{a}/terminate");
    let counts = app.counts().await;

    let dry = app.post(&format!("{uri}?dry_run=true"), json!({"last_day": after(30), "reason": "contract not renewed"})).await;
    dry.expect(200);
    let breaks = dry.body["would_break"].as_array().expect("would_break");
    assert_eq!(breaks.iter().map(|b| (b["rule"].clone(), b["outlet_id"].clone())).collect::<Vec<_>>(), [(json!("outside_territory"), json!(outlet))]);
    app.post(&uri, json!({"last_day": after(30), "reason": "contract not renewed"})).await.expect_problem(409);
    app.post(&uri, json!({"last_day": "2020-01-01", "force": true})).await.expect_problem(422);
    assert_eq!(app.counts().await, counts, "nothing changed by the dry run or the refusals");

    let r = app.post(&uri, json!({"last_day": after(30), "reason": "contract not renewed", "force": true})).await;
    r.expect(200);
    assert_eq!((r.body["status"].clone(), r.body["terminated_on"].clone()), (json!("terminated"), json!(after(30))));
    let grant = |id: i64| {
        let app = &app;
        async move { app.get(&format!("/networks/rec/grants/{id}")).await.body["properties"].clone() }
    };
    assert_eq!(grant(now).await["valid_to"], json!(after(30)));
    assert_eq!(grant(later).await["status"], json!("revoked"), "a grant starting after the last day is revoked");
    let audit = app.get("/networks/rec/audit").await;
    let last = audit.body["entries"].as_array().and_then(|e| e.last()).cloned().expect("entry");
    assert_eq!((last["action"].clone(), last["result"].clone()), (json!("partner"), json!("terminated")));
    assert_eq!((last["request"]["grants_ended"].clone(), last["request"]["grants_revoked"].clone()), (json!([now]), json!([later])));
    assert_eq!(last["request"]["broke"][0]["outlet_id"], json!(outlet));

    app.post(&uri, json!({"force": true})).await.expect_problem(409);
    patch(&app, &format!("/networks/rec/partners/{a}"), json!({"name": "复活"})).await.expect_problem(409);
    let r = app.post("/networks/rec/grants", json!({"partner_id": a, "adcodes": ["420500"]})).await;
    assert_eq!(r.pointers(), ["/partner_id"]);
}
