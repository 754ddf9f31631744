//! Observed sales, calibration and model versions through the router, on the seeded smart
//! network with the 九江 fixture grid (partner 4 holds 九江).

use crate::common::{TestApp, app};
use axum::body::Body;
use axum::http::{Method, Request, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn put(app: &TestApp, uri: &str, content_type: &str, body: String) -> crate::common::Reply {
    let req = Request::builder().method(Method::PUT).uri(uri).header(header::CONTENT_TYPE, content_type).body(Body::from(body)).expect("request");
    let res = app.router.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let content_type = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let text = String::from_utf8_lossy(&res.into_body().collect().await.expect("body").to_bytes()).to_string();
    crate::common::Reply { status, content_type, body: serde_json::from_str(&text).unwrap_or(Value::Null), text }
}

/// Eight more outlets of partner 4 around 九江 (four malls, four auto-cities), so that a
/// fit has more outlets than parameters; their ids.
async fn more_jiujiang_outlets(app: &TestApp) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..8 {
        let site_type = if i % 2 == 0 { "mall" } else { "auto_city" };
        let at = [115.90 + 0.03 * i as f64, 29.60 + 0.02 * (i % 3) as f64];
        let body = json!({"partner_id": 4, "name": format!("九江 {i}"), "location": {"type": "Point", "coordinates": at},
                          "format": "light_showroom", "site_type": site_type, "external_id": format!("JJ-{i}")});
        let r = app.post("/networks/smart/outlets", body).await;
        r.expect(201);
        ids.push(r.body["id"].as_i64().expect("id"));
    }
    ids
}

#[tokio::test]
async fn sales_are_stored_whole_or_refused_naming_every_bad_line() {
    let app = app().await;
    more_jiujiang_outlets(&app).await;
    // Outlet 22 is a seeded competitor's; 9999 does not exist.
    let bad = "outlet_id,year,units,district\n13,2024,120,\n9999,2024,5,\n22,2024,5,\n14,20x4,5,\n15,2024,-3,\n13,2024,7,\n14,2024,9,999999\n";
    let r = put(&app, "/networks/smart/sales", "text/csv", bad.into()).await;
    r.expect_problem(422);
    let pointers = r.pointers();
    for p in [
        "line 3, column outlet_id",
        "line 4, column outlet_id",
        "line 5, column year",
        "line 6, column units",
        "line 7, column outlet_id",
        "line 8, column district",
    ] {
        assert!(pointers.iter().any(|x| x == p), "missing {p} in {pointers:?}");
    }
    assert_eq!(app.get("/networks/smart/sales").await.body["rows"], json!([]), "nothing stored");
    // JSON rows, an outlet named by its external id, a flow of buyers from one district.
    let rows = json!({"rows": [
        {"outlet_id": 13, "year": 2024, "units": 120},
        {"external_id": "JJ-0", "year": 2024, "units": 80},
        {"outlet_id": 14, "year": 2024, "units": 30, "district": "360402"},
    ]});
    // JSON is read straight into rows: a wrong shape is located, malformed JSON is a 400.
    let wrong = json!({"rows": [{"outlet_id": 13, "year": 2024, "units": 120}, {"outlet_id": 14, "year": "soon", "units": 1}]});
    let r = put(&app, "/networks/smart/sales", "application/json", wrong.to_string()).await;
    r.expect_problem(422);
    assert_eq!(r.pointers(), ["/rows/1/year"], "{}", r.text);
    put(&app, "/networks/smart/sales", "application/json", r#"{"rows": [{"outlet_id": 13,"#.into()).await.expect_problem(400);
    assert_eq!(app.get("/networks/smart/sales").await.body["rows"], json!([]), "nothing stored");
    let r = put(&app, "/networks/smart/sales", "application/json", rows.to_string()).await;
    r.expect(200);
    assert_eq!((r.body["rows"].clone(), r.body["years"].clone()), (json!(3), json!([2024])));
    let stored = app.get("/networks/smart/sales?year=2024").await;
    assert_eq!(stored.body["rows"].as_array().map(Vec::len), Some(3), "{}", stored.text);
    // A new upload of 2024 replaces that year whole.
    put(&app, "/networks/smart/sales", "text/csv", "outlet_id,year,units\n13,2024,100\n".into()).await.expect(200);
    assert_eq!(app.get("/networks/smart/sales").await.body["rows"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn calibration_fits_the_sales_keeps_each_version_and_every_answer_names_its_model() {
    let app = app().await;
    // Before a grid or sales: clear refusals.
    app.post("/networks/smart/calibrate", json!({})).await.expect_problem(409);
    crate::api_scoring::upload(&app, "smart").await;
    more_jiujiang_outlets(&app).await;
    app.post("/networks/smart/calibrate", json!({})).await.expect_problem(409);
    // Sales as the policy's model expects them: the fit gives its parameters back.
    let report = app.get("/networks/smart/compliance?partner_id=4").await;
    assert_eq!(report.body["model"], json!({"version": 0, "source": "policy", "fitted_at": null}));
    let expected = report.body["expected_sales"].as_object().expect("expected sales").clone();
    assert!(expected.len() >= 10, "{expected:?}");
    let csv: String = std::iter::once("outlet_id,year,units\n".to_string())
        .chain(expected.iter().map(|(id, s)| format!("{id},2025,{}\n", s.as_f64().unwrap_or(0.0))))
        .collect();
    put(&app, "/networks/smart/sales", "text/csv", csv).await.expect(200);
    let fit = app.post("/networks/smart/calibrate", json!({})).await;
    fit.expect(200);
    assert_eq!((fit.body["version"].clone(), fit.body["year"].clone(), fit.body["model"]["source"].clone()), (json!(1), json!(2025), json!("fitted")));
    let policy = territory::domain::policy::find("smart").expect("smart").scoring.clone();
    for (st, field, want) in [("mall", "beta", policy.site_types["mall"].beta), ("auto_city", "conversion", policy.site_types["auto_city"].conversion)] {
        let got = fit.body["parameters"]["site_types"][st][field].as_f64().expect("fitted");
        assert!((got / want - 1.0).abs() < 0.01, "{st}.{field}: {got} against {want}: {}", fit.text);
        let [lo, hi] = [0, 1].map(|i| fit.body["intervals"]["site_types"][st][field][i].as_f64().expect("interval"));
        assert!(lo <= got && got <= hi, "{st}.{field} in its interval");
    }
    assert!(fit.body["fit"]["r2"].as_f64().is_some_and(|r| r > 0.999), "{}", fit.text);
    assert!(fit.body["fit"]["holdout_mape"].is_number() && fit.body["fit"]["n_outlets"].as_u64().is_some_and(|n| n >= 10));
    assert_eq!(fit.body["reference_site_type"], json!("auto_city"));
    assert!(fit.body["unidentified"].as_array().is_some_and(|u| u.iter().any(|x| x == "site_types.street.beta")), "{}", fit.text);
    // The fit is in force: scores, plans and compliance say so.
    let candidates = json!([{"id": "a", "location": {"type": "Point", "coordinates": [116.0, 29.70]}}]);
    let score = app.post("/networks/smart/score", json!({"candidates": candidates})).await;
    assert_eq!(score.body["model"]["version"], json!(1), "{}", score.text);
    let plan = app.post("/networks/smart/plan", json!({"k": 1, "candidates": candidates})).await;
    assert_eq!(plan.body["model"]["version"], json!(1));
    assert_eq!(app.get("/networks/smart/compliance?partner_id=4").await.body["model"]["version"], json!(1));
    let current = app.get("/networks/smart/model").await;
    assert_eq!((current.body["version"].clone(), current.body["current"].clone()), (json!(1), json!(true)));
    // History, and a rollback to the policy's parameters.
    let history = app.get("/networks/smart/models").await;
    let versions: Vec<i64> = history.body["versions"].as_array().expect("versions").iter().filter_map(|v| v["version"].as_i64()).collect();
    assert_eq!(versions, [0, 1]);
    app.post("/networks/smart/model/rollback", json!({"version": 7})).await.expect_problem(422);
    let back = app.post("/networks/smart/model/rollback", json!({"version": 0})).await;
    back.expect(200);
    assert_eq!(back.body["source"], json!("policy"));
    let score = app.post("/networks/smart/score", json!({"candidates": candidates})).await;
    assert_eq!(score.body["model"]["version"], json!(0));
}
