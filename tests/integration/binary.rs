//! The real binary: serve on port 0, SIGTERM, `check` and `import` exit codes.

use crate::common::{rect, test_db};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

fn territory() -> Command {
    Command::new(env!("CARGO_BIN_EXE_territory"))
}

/// Starts `territory serve --open` (no tokens needed) on port 0 and reads the bound address
/// from its stdout.
pub(crate) fn serve(db: &std::path::Path) -> (Child, String) {
    serve_with(db, &["--open"])
}

/// Starts `territory serve` with `args` on port 0 and reads the bound address from its stdout.
pub(crate) fn serve_with(db: &std::path::Path, args: &[&str]) -> (Child, String) {
    let mut child = territory()
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn territory serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read address");
    let addr = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line: {line}")).to_string();
    (child, addr)
}

/// A running server, killed if the test fails half way.
pub(crate) struct Server(pub(crate) Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn sigterm(child: &Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
}

#[tokio::test]
async fn serve_answers_over_http_and_stops_cleanly_on_sigterm() {
    let db = test_db();
    let (mut child, base) = serve(&db.path);
    let client = reqwest::Client::new();
    let health: serde_json::Value = client.get(format!("{base}/health")).send().await.expect("health").json().await.expect("json");
    assert_eq!(health["status"], json!("ok"));
    let p: serde_json::Value = client
        .post(format!("{base}/networks/smart/partners"))
        .json(&json!({"name": "二进制", "tier": "city_partner"}))
        .send()
        .await
        .expect("partner")
        .json()
        .await
        .expect("json");
    let r = client.post(format!("{base}/networks/smart/grants")).json(&json!({"partner_id": p["id"], "adcodes": ["440305"]})).send().await.expect("grant");
    assert_eq!(r.status().as_u16(), 409);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    sigterm(&child);
    let status = child.wait().expect("wait");
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
}

#[tokio::test]
async fn a_fresh_database_is_created_migrated_and_seeded() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("new.db");
    let (mut child, base) = serve(&path);
    let nets: serde_json::Value = reqwest::get(format!("{base}/networks")).await.expect("get").json().await.expect("json");
    let codes: Vec<&str> = nets["networks"].as_array().expect("list").iter().map(|n| n["code"].as_str().expect("code")).collect();
    assert_eq!(codes, ["haima", "smart"]);
    let regions: serde_json::Value = reqwest::get(format!("{base}/regions?level=province")).await.expect("get").json().await.expect("json");
    assert_eq!(regions["features"].as_array().expect("list").len(), 8);
    // Both sample networks get the demand grid synthesised from district population: the
    // 2020 census totals of the 8 provinces (530,772,576) × 0.015 cars per person × the
    // share of its brand's segment (smart 3 %, haima 7 %): brand-level demand.
    for (net, share) in [("smart", 0.03), ("haima", 0.07)] {
        // 东莞 (a city that is its own district) has demand of its own.
        let dongguan: serde_json::Value =
            reqwest::get(format!("{base}/networks/{net}/demand?bbox=113.70,22.95,113.80,23.05")).await.expect("get").json().await.expect("json");
        let grid = &dongguan["grid"];
        assert!((grid["total"].as_f64().expect("total") - 530_772_576.0 * 0.015 * share).abs() < 1e-3, "{grid}");
        assert_eq!(grid["market_share"], serde_json::json!(share), "{grid}");
        assert!(grid["cell_count"].as_i64().expect("cells") > 3_000_000, "{grid}");
        let cells = dongguan["features"].as_array().expect("features");
        assert!(cells.len() > 100 && cells.iter().all(|c| c["properties"]["demand"].as_f64().is_some_and(|d| d > 0.0)), "{}", cells.len());
        sample_sales_are_believable(&base, net).await;
    }
    sigterm(&child);
    assert!(child.wait().expect("wait").success());
}

/// On a fresh start, every sample outlet's expected sales lie within a factor of two of its
/// format's range, and Haima's only `sales_outside_range` breaches are the deliberate ones
/// (株洲, a market too small for three stores).
async fn sample_sales_are_believable(base: &str, net: &str) {
    use serde_json::Value;
    let get = |path: String| async move { reqwest::get(format!("{base}{path}")).await.expect("get").json::<Value>().await.expect("json") };
    let report = get(format!("/networks/{net}/compliance")).await;
    let standard = get(format!("/networks/{net}/standard")).await;
    let outlets = get(format!("/networks/{net}/outlets")).await;
    let range = |format: &str| {
        let f = standard["formats"].as_array().and_then(|fs| fs.iter().find(|f| f["code"] == format)).expect("format");
        (f["annual_sales"]["min"].as_f64(), f["annual_sales"]["max"].as_f64())
    };
    let sales = report["expected_sales"].as_object().expect("expected sales with a grid");
    assert!(sales.len() >= 9, "{net}: {} outlets with expected sales", sales.len());
    let mut far = Vec::new();
    for (id, s) in sales {
        let s = s.as_f64().expect("sales");
        let o = outlets["features"].as_array().and_then(|fs| fs.iter().find(|f| f["id"].as_i64().is_some_and(|n| n.to_string() == *id))).expect("outlet");
        let (name, format) = (o["properties"]["name"].as_str().expect("name"), o["properties"]["format"].as_str().expect("format"));
        let (min, max) = range(format);
        let deliberate = name.contains("株洲");
        if !deliberate && (min.is_some_and(|m| s < m / 2.0) || max.is_some_and(|m| s > m * 2.0)) {
            far.push(format!("{name} ({format}): {s:.0} a year against {min:?}–{max:?}"));
        }
    }
    assert!(far.is_empty(), "{net}: expected sales beyond a factor of two of their format's range:\n{}", far.join("\n"));
    if net == "haima" {
        let breaches: Vec<&str> = report["breaches"]
            .as_array()
            .expect("breaches")
            .iter()
            .filter(|b| b["rule"] == "sales_outside_range")
            .filter_map(|b| b["outlet_name"].as_str())
            .collect();
        assert!(!breaches.is_empty() && breaches.iter().all(|n| n.contains("株洲")), "only the deliberate sales breaches: {breaches:?}");
    }
}

fn write_json(dir: &std::path::Path, name: &str, v: &serde_json::Value) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, v.to_string()).expect("write");
    path
}

#[test]
fn check_exits_1_on_conflicts_0_when_clear_2_when_invalid() {
    let db = test_db();
    let dir = db.dir.path();
    let run = |file: &std::path::Path| territory().args(["check", "--network", "smart", "--db"]).arg(&db.path).arg(file).output().expect("run check");
    // Feature 0 lies in 深圳 (granted to partner 1); features 1 and 2 overlap each other.
    let conflicting = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"partner_id": 2}, "geometry": rect(113.95, 22.56, 114.05, 22.62)},
        {"type": "Feature", "properties": {"partner_id": 3}, "geometry": rect(96.0, 36.0, 96.2, 36.2)},
        {"type": "Feature", "properties": {"partner_id": 4}, "geometry": rect(96.1, 36.1, 96.3, 36.3)},
    ]});
    let out = run(&write_json(dir, "conflicting.geojson", &conflicting));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("feature 0") && stdout.contains("grant 1 of 深圳smart城市合伙人"), "{stdout}");
    assert!(stdout.contains("feature 1") && stdout.contains("(feature 2)"), "{stdout}");
    assert!(stdout.contains("2 conflict(s)"), "{stdout}");

    let clear = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"partner_id": 2}, "geometry": rect(96.0, 36.0, 96.2, 36.2)},
        {"type": "Feature", "properties": {"partner_id": 3, "adcodes": ["441300"]}, "geometry": null},
    ]});
    let out = run(&write_json(dir, "clear.geojson", &clear));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));

    let invalid = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"partner_id": 2}, "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}},
    ]});
    let out = run(&write_json(dir, "invalid.geojson", &invalid));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/features/0/geometry/coordinates/0"));
}

#[test]
fn import_refuses_a_layer_with_any_bad_feature_and_names_each() {
    let db = test_db();
    let dir = db.dir.path();
    let good = json!({"type": "Feature", "properties": {"adcode": "710000", "name": "测试省", "level": "province", "parent_adcode": null}, "geometry": rect(120.0, 22.0, 121.0, 25.0)});
    let layer = json!({"type": "FeatureCollection", "features": [
        good,
        {"type": "Feature", "properties": {"adcode": "71", "name": "短码", "level": "city", "parent_adcode": "710000"}, "geometry": rect(120.0, 22.0, 120.5, 23.0)},
        {"type": "Feature", "properties": {"adcode": "710200", "name": "蝴蝶", "level": "city", "parent_adcode": "710000"},
         "geometry": {"type": "Polygon", "coordinates": [[[120, 22], [121, 23], [121, 22], [120, 23], [120, 22]]]}},
        {"type": "Feature", "properties": {"adcode": "710300", "name": "孤儿", "level": "town", "parent_adcode": "999900"}, "geometry": rect(120.0, 22.0, 120.5, 23.0)},
    ]});
    let file = write_json(dir, "bad.geojson", &layer);
    let out = territory().args(["import", "regions", "--db"]).arg(&db.path).arg(&file).output().expect("run import");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for needle in ["/features/1/properties/adcode", "feature 2 (710200)", "self-intersection", "/features/3/properties/level", "nothing was imported"] {
        assert!(stderr.contains(needle), "missing `{needle}` in:\n{stderr}");
    }
    assert!(!stderr.contains("/features/0"), "the good feature is not blamed:\n{stderr}");
    // Nothing was imported: the good province is not there either.
    let ok = json!({"type": "FeatureCollection", "features": [layer["features"][0].clone()]});
    let out = territory().args(["import", "regions", "--db"]).arg(&db.path).arg(write_json(dir, "ok.geojson", &ok)).output().expect("run import");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("imported 1 regions") && stdout.contains("1000 in the database"), "{stdout}");
}

fn outlet_rows(db: &std::path::Path) -> i64 {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let store = territory::store::Store::open(db).await.expect("open");
        sqlx::query_scalar("select count(*) from outlets").fetch_one(&store.pool).await.expect("count")
    })
}

/// `territory import outlets --network smart FILE` on the database `db`.
fn import_outlets(db: &std::path::Path, file: &std::path::Path) -> std::process::Output {
    territory().args(["import", "outlets", "--network", "smart", "--db"]).arg(db).arg(file).output().expect("run import")
}

#[test]
fn import_outlets_takes_a_whole_csv_or_geojson_file_or_nothing() {
    let db = test_db();
    let dir = db.dir.path();
    let import = |file: &std::path::Path| import_outlets(&db.path, file);
    let before = outlet_rows(&db.path);
    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        "partner_id,name,lon,lat,format,site_type,showroom_m2\n\
         2,武汉新店,114.30,30.60,light_showroom,mall,250\n\
         2,坏格式,114.31,30.61,mega,mall,\n\
         2,负面积,114.32,30.62,light_showroom,mall,-3\n\
         2,越界,114.33,95,light_showroom,mall,\n",
    )
    .expect("write");
    let out = import(&bad);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for needle in ["line 3, column format", "line 4, column showroom_m2", "line 5, column lon/lat", "nothing was imported"] {
        assert!(stderr.contains(needle), "missing `{needle}` in:\n{stderr}");
    }
    assert!(!stderr.contains("line 2"), "the good line is not blamed:\n{stderr}");
    // A well-formed file with one outlet outside its partner's territory is refused whole.
    let misplaced = dir.join("misplaced.csv");
    std::fs::write(
        &misplaced,
        "partner_id,name,lon,lat,format,site_type\n2,武汉新店,114.30,30.60,light_showroom,mall\n2,成都店,104.08,30.66,light_showroom,mall\n",
    )
    .expect("write");
    let out = import(&misplaced);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("outlet 1 (`成都店`)") && stderr.contains("grant 3 of 成都smart城市合伙人"), "{stderr}");
    assert_eq!(outlet_rows(&db.path), before, "nothing was imported");

    let good = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [114.30, 30.60]},
         "properties": {"partner_id": 2, "name": "武汉新店", "format": "light_showroom", "site_type": "auto_city", "showroom_m2": 260}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [104.08, 30.66]},
         "properties": {"competitor": true, "brand": "BYD", "name": "比亚迪", "site_type": "mall"}},
    ]});
    let out = import(&write_json(dir, "good.geojson", &good));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 2 outlets"));
    assert_eq!(outlet_rows(&db.path), before + 2);
}

#[test]
fn importing_an_outlet_file_again_updates_by_external_id_instead_of_duplicating() {
    let db = test_db();
    let dir = db.dir.path();
    let import = |file: &std::path::Path| import_outlets(&db.path, file);
    let before = outlet_rows(&db.path);
    let file = dir.join("outlets.csv");
    let csv = |showroom: u32| {
        format!(
            "external_id,partner_id,name,lon,lat,format,site_type,showroom_m2\n\
             WH-1,2,武汉新店,114.30,30.60,light_showroom,mall,{showroom}\n\
             WH-2,2,武汉二店,114.31,30.61,light_showroom,auto_city,300\n"
        )
    };
    std::fs::write(&file, csv(250)).expect("write");
    let first = import(&file);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(String::from_utf8_lossy(&first.stdout).contains("2 new, 0 updated"), "{}", String::from_utf8_lossy(&first.stdout));
    // The same file again, one figure changed: the count stays, the figure follows the file.
    std::fs::write(&file, csv(280)).expect("write");
    let again = import(&file);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 new, 2 updated"), "{}", String::from_utf8_lossy(&again.stdout));
    assert_eq!(outlet_rows(&db.path), before + 2);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let showroom: f64 = rt.block_on(async {
        let store = territory::store::Store::open(&db.path).await.expect("open");
        sqlx::query_scalar("select showroom_m2 from outlets where external_id = 'WH-1'").fetch_one(&store.pool).await.expect("showroom")
    });
    assert_eq!(showroom, 280.0);
    // Two rows naming one outlet: refused, located, nothing written.
    std::fs::write(&file, format!("{}WH-1,2,武汉三店,114.32,30.62,light_showroom,mall,200\n", csv(250))).expect("write");
    let twice = import(&file);
    let stderr = String::from_utf8_lossy(&twice.stderr);
    assert_eq!(twice.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("line 4, column external_id") && stderr.contains("line 2 too"), "{stderr}");
    assert_eq!(outlet_rows(&db.path), before + 2);
}

#[test]
fn compliance_exits_1_with_breaches_and_prints_each() {
    let db = test_db();
    let out = territory().args(["compliance", "--network", "haima", "--db"]).arg(&db.path).output().expect("run compliance");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FormatNotAllowedForTier") && stdout.contains("株洲海马旗舰店"), "{stdout}");
    assert!(stdout.contains("6 breach(es)"), "{stdout}");
    let out = territory().args(["compliance", "--network", "haima", "--partner-id", "6", "--json", "--db"]).arg(&db.path).output().expect("run");
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(report["compliant"], json!(true));
}
