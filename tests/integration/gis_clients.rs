//! Real GIS clients against the real binary: GDAL (`ogrinfo`, `validate_gpkg.py`, the
//! `OAPIF:` driver, GEOS as the bbox reference) and QGIS 3.22 (headless, in a subprocess).
//! The README's test command installs them (gdal-bin, python3-gdal, python3-qgis); here
//! a missing tool is a failure that says so, never a silent skip.

use crate::api_scoring::fixture_cells;
use crate::binary::{serve, sigterm};
use crate::common::test_db;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const VALIDATE_GPKG: &str = "/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py";
/// Debian's Python, which has the python3-gdal and python3-qgis modules.
const SYSTEM_PYTHON: &str = "/usr/bin/python3";

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/gis").join(name)
}

fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {shown}: {e}; the README's test command installs gdal-bin, python3-gdal and python3-qgis"));
    assert!(
        out.status.success(),
        "{shown} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `ogrinfo -so -al FILE`: the feature count and the field names of its one layer.
fn ogr_summary(path: &Path) -> (u64, Vec<String>) {
    let out = run(Command::new("ogrinfo").args(["-ro", "-so", "-al"]).arg(path));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let count = text
        .lines()
        .find_map(|l| l.strip_prefix("Feature Count: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no feature count for {}:\n{text}", path.display()));
    // Field lines follow the geometry/FID lines: `name: Type (w.p)`.
    let mut fields = Vec::new();
    let mut in_fields = false;
    for line in text.lines() {
        if line.starts_with("FID Column") || line.starts_with("Geometry Column") || line.starts_with("Data axis to CRS axis mapping") {
            in_fields = true;
            continue;
        }
        if in_fields
            && let Some((name, kind)) = line.split_once(": ")
            && !name.starts_with(' ')
            && kind.contains('(')
        {
            fields.push(name.to_string());
        }
    }
    (count, fields)
}

struct Server {
    child: std::process::Child,
    base: String,
    _db: crate::common::TestDb,
}

impl Drop for Server {
    fn drop(&mut self) {
        sigterm(&self.child);
        let _ = self.child.wait();
    }
}

/// The binary on a copy of the sample database, with the fixture demand grid and one
/// scoring run (so every layer has features).
async fn server() -> (Server, reqwest::Client) {
    let db = test_db();
    let (child, addr) = serve(&db.path);
    let server = Server { child, base: addr, _db: db };
    let client = reqwest::Client::new();
    let mut csv = String::from("h3,demand\n");
    for (h, d) in fixture_cells() {
        csv.push_str(&format!("{h},{d}\n"));
    }
    let r = client.put(format!("{}/networks/smart/demand", server.base)).header("content-type", "text/csv").body(csv).send().await.expect("put demand");
    assert_eq!(r.status(), 200);
    let candidates = json!({"partner_id": 4, "candidates": [
        {"id": "a", "location": {"type": "Point", "coordinates": [116.0, 29.7]}},
        {"id": "b", "location": {"type": "Point", "coordinates": [116.05, 29.65]}},
        {"id": "c", "location": {"type": "Point", "coordinates": [115.95, 29.72]}, "site_type": "mall"},
    ]});
    let r = client.post(format!("{}/networks/smart/score", server.base)).json(&candidates).send().await.expect("score");
    assert_eq!(r.status(), 200);
    (server, client)
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    client.get(url).send().await.expect("get").json().await.expect("json")
}

async fn download(client: &reqwest::Client, url: &str, to: &Path) {
    let r = client.get(url).send().await.expect("get");
    assert_eq!(r.status(), 200, "{url}");
    std::fs::write(to, r.bytes().await.expect("bytes")).expect("write");
}

#[tokio::test(flavor = "multi_thread")]
async fn gdal_reads_every_export_with_its_count_and_fields_and_the_geopackages_validate() {
    let (s, client) = server().await;
    let base = &s.base;
    let dir = tempfile::tempdir().expect("tempdir");
    // Expected counts from the service's own routes (not from the export code).
    let regions = get_json(&client, &format!("{base}/regions")).await["features"].as_array().expect("regions").len() as u64;
    let grants = get_json(&client, &format!("{base}/networks/smart/grants")).await["features"].as_array().expect("grants").len() as u64;
    let outlets = get_json(&client, &format!("{base}/networks/smart/outlets")).await["features"].as_array().expect("outlets").len() as u64;
    let cells = fixture_cells().len() as u64;
    let layers: [(&str, String, u64, &[&str]); 5] = [
        ("regions", format!("{base}/export/regions"), regions, &["adcode", "name", "level", "parent_adcode", "area_km2"]),
        (
            "smart_grants",
            format!("{base}/networks/smart/export/grants"),
            grants,
            &["partner_id", "partner", "tier", "exclusive", "valid_from", "valid_to", "status"],
        ),
        ("smart_outlets", format!("{base}/networks/smart/export/outlets"), outlets, &["partner", "format", "role", "site_type", "status", "opened_on"]),
        ("smart_demand", format!("{base}/networks/smart/export/demand"), cells, &["h3", "resolution", "demand"]),
        ("smart_candidates", format!("{base}/networks/smart/export/candidates"), 3, &["candidate_id", "site_type", "expected_sales", "net_gain", "allowed"]),
    ];
    for (name, url, expected, fields) in layers {
        for ext in ["gpkg", "geojson"] {
            let path = dir.path().join(format!("{name}.{ext}"));
            download(&client, &format!("{url}.{ext}"), &path).await;
            let (count, found) = ogr_summary(&path);
            assert_eq!(count, expected, "{name}.{ext}: feature count");
            for f in fields {
                assert!(found.iter().any(|x| x == f), "{name}.{ext}: no field {f} in {found:?}");
            }
            if ext == "gpkg" {
                run(Command::new(SYSTEM_PYTHON).arg(VALIDATE_GPKG).arg(&path));
            }
        }
    }
    // The empty conflicts layer is still a valid GeoPackage with its fields.
    let path = dir.path().join("smart_conflicts.gpkg");
    download(&client, &format!("{base}/networks/smart/export/conflicts.gpkg"), &path).await;
    run(Command::new(SYSTEM_PYTHON).arg(VALIDATE_GPKG).arg(&path));
    let (count, found) = ogr_summary(&path);
    assert_eq!(count, 0);
    assert!(found.contains(&"overlap_km2".to_string()), "{found:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_export_writes_a_geopackage_gdal_accepts() {
    let db = test_db();
    let out = db.dir.path().join("grants.gpkg");
    run(Command::new(env!("CARGO_BIN_EXE_territory")).args(["export", "smart.grants", "--format", "gpkg", "-o"]).arg(&out).arg("--db").arg(&db.path));
    run(Command::new(SYSTEM_PYTHON).arg(VALIDATE_GPKG).arg(&out));
    let (count, fields) = ogr_summary(&out);
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.path.display())).await.expect("db");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM grants WHERE network = 'smart'").fetch_one(&pool).await.expect("count");
    assert_eq!(count as i64, stored);
    assert!(fields.contains(&"exclusive".to_string()));
    // An existing file is never overwritten.
    let again = Command::new(env!("CARGO_BIN_EXE_territory")).args(["export", "smart.grants", "-o"]).arg(&out).arg("--db").arg(&db.path).output().expect("run");
    assert_eq!(again.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn gdal_lists_the_collections_pages_through_all_items_and_agrees_on_a_bbox() {
    let (s, client) = server().await;
    let oapif = format!("OAPIF:{}/ogc", s.base);
    let out = run(Command::new("ogrinfo").args(["-ro", "-q", &oapif]));
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    for id in ["regions", "smart.grants", "smart.outlets", "smart.demand", "smart.conflicts", "smart.candidates", "haima.grants"] {
        assert!(listing.lines().any(|l| l.contains(&format!(": {id} "))), "{id} not listed:\n{listing}");
    }
    // regions (999 features) in pages of 100: GDAL follows every `next` link.
    let regions = get_json(&client, &format!("{}/regions", s.base)).await["features"].as_array().expect("regions").len();
    assert!(regions > 100);
    let out = run(Command::new("ogrinfo").args(["-ro", "-al", "-geom=NO", "-oo", "PAGE_SIZE=100", &oapif, "regions"]));
    let features = String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.starts_with("OGRFeature(")).count();
    assert_eq!(features, regions, "GDAL read every page");

    // A bbox across 深圳 and 东莞: the server's answer is exactly GEOS's.
    let bbox = [113.9, 22.6, 114.1, 22.9];
    let export = tempfile::tempdir().expect("tempdir");
    let file = export.path().join("regions.geojson");
    download(&client, &format!("{}/export/regions.geojson", s.base), &file).await;
    let args: Vec<String> = bbox.iter().map(f64::to_string).collect();
    let reference = run(Command::new(SYSTEM_PYTHON).arg(script("bbox_reference.py")).arg(&file).args(&args));
    let expected: Vec<i64> = serde_json::from_slice(&reference.stdout).expect("ids");
    let page = get_json(&client, &format!("{}/ogc/collections/regions/items?bbox={}", s.base, args.join(","))).await;
    let mut ids: Vec<i64> = page["features"].as_array().expect("features").iter().map(|f| f["id"].as_i64().expect("id")).collect();
    ids.sort_unstable();
    assert!(expected.len() >= 4, "{expected:?}");
    assert_eq!(ids, expected, "bbox: the service and GEOS disagree");
    assert_eq!(page["numberMatched"], json!(expected.len()));
    let spat: Vec<String> = bbox.iter().map(f64::to_string).collect();
    let out = run(Command::new("ogrinfo").args(["-ro", "-al", "-geom=NO", "-spat"]).args(&spat).args([&oapif, "regions"]));
    let features = String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.starts_with("OGRFeature(")).count();
    assert_eq!(features, expected.len(), "ogrinfo -spat through the OGC API");
}

#[tokio::test(flavor = "multi_thread")]
async fn qgis_adds_the_grants_collection_and_draws_a_vector_tile() {
    let (s, client) = server().await;
    let grants = get_json(&client, &format!("{}/networks/smart/grants", s.base)).await["features"].as_array().expect("grants").len();
    let qgis = |z: u32, x: u32, y: u32| -> BTreeMap<String, Value> {
        let out = run(Command::new(SYSTEM_PYTHON)
            .env("QT_QPA_PLATFORM", "offscreen")
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .arg(script("qgis_check.py"))
            .args([s.base.as_str(), "smart.grants", &z.to_string(), &x.to_string(), &y.to_string()]));
        let line = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().to_string();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("qgis_check.py printed {line:?}: {e}"))
    };
    // 深圳 at z=8 is tile 208/111; 8/10/10 is far from every grant.
    let shenzhen = qgis(8, 208, 111);
    assert_eq!(shenzhen["oapif_valid"], json!(true), "{shenzhen:?}");
    assert_eq!(shenzhen["oapif_count"], json!(grants), "{shenzhen:?}");
    assert!(shenzhen["oapif_fields"].as_array().expect("fields").contains(&json!("partner")));
    assert_eq!(shenzhen["tiles_valid"], json!(true));
    assert!(shenzhen["tile_painted_pixels"].as_u64().expect("pixels") > 1000, "QGIS drew the 深圳 grants: {shenzhen:?}");
    let nowhere = qgis(8, 10, 10);
    assert_eq!(nowhere["tile_painted_pixels"], json!(0), "{nowhere:?}");
}

/// `ogrinfo -so -al` on a URL the GeoJSON driver reads (an OGC API items page).
fn ogr_count_url(url: &str) -> u64 {
    let out = run(Command::new("ogrinfo").args(["-ro", "-so", "-al", url]));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.lines()
        .find_map(|l| l.strip_prefix("Feature Count: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no feature count for {url}:\n{text}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn gdal_reads_every_dated_layer_as_the_service_lists_it_on_a_past_today_and_future_day() {
    let (s, client) = server().await;
    let base = &s.base;
    let today = chrono::Utc::now().date_naive();
    let day = |n: i64| (today + chrono::Duration::days(n)).to_string();
    let post = |path: String, body: Value| {
        let client = &client;
        async move {
            let r = client.post(format!("{base}{path}")).json(&body).send().await.expect("post");
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            assert!(status < 300, "{path}: {status} {body}");
            body
        }
    };
    // A partner holding 襄阳 from 60 days ago, revoked today; 宜昌 from 30 days on. An outlet
    // open from 20 days ago to 5 days ago; one planned in 宜昌 for 35 days on.
    let p = post("/networks/smart/partners".into(), json!({"name": "时间合伙人", "tier": "city_partner"})).await["id"].clone();
    let past_grant = post("/networks/smart/grants".into(), json!({"partner_id": p, "adcodes": ["420600"], "valid_from": day(-60)})).await["id"].clone();
    let future_grant = post("/networks/smart/grants".into(), json!({"partner_id": p, "adcodes": ["420500"], "valid_from": day(30)})).await["id"].clone();
    let site = |at: [f64; 2]| json!({"partner_id": p, "name": "店", "location": {"type": "Point", "coordinates": at}, "format": "light_showroom", "site_type": "mall"});
    let mut gone = site([112.14, 32.04]);
    gone["opened_on"] = json!(day(-20));
    let gone = post("/networks/smart/outlets".into(), gone).await["id"].clone();
    post(format!("/networks/smart/outlets/{gone}/close"), json!({"reason": "moved", "closed_on": day(-5)})).await;
    let mut planned = site([111.29, 30.70]);
    (planned["status"], planned["planned_open_on"]) = (json!("approved"), json!(day(35)));
    post("/networks/smart/outlets".into(), planned).await;
    post(format!("/networks/smart/grants/{past_grant}/revoke"), json!({"reason": "ended"})).await;

    let dir = tempfile::tempdir().expect("tempdir");
    let mut seen = Vec::new();
    for on in [day(-10), today.to_string(), day(40)] {
        let ids = |v: Value| v["features"].as_array().expect("features").iter().map(|f| f["id"].clone()).collect::<Vec<Value>>();
        let grant_ids = ids(get_json(&client, &format!("{base}/networks/smart/grants?on={on}")).await);
        let outlet_ids = ids(get_json(&client, &format!("{base}/networks/smart/outlets?on={on}")).await);
        let (grants, outlets) = (grant_ids.len() as u64, outlet_ids.len() as u64);
        let conflicts = get_json(&client, &format!("{base}/networks/smart/conflicts?on={on}")).await["count"].as_u64().expect("count");
        seen.push((grant_ids.contains(&past_grant), grant_ids.contains(&future_grant), outlet_ids.contains(&gone), outlet_ids.len()));
        for (layer, expected) in [("grants", grants), ("outlets", outlets), ("conflicts", conflicts)] {
            for ext in ["geojson", "gpkg"] {
                let path = dir.path().join(format!("{layer}-{on}.{ext}"));
                download(&client, &format!("{base}/networks/smart/export/{layer}.{ext}?on={on}"), &path).await;
                assert_eq!(ogr_summary(&path).0, expected, "{layer}.{ext} on {on}");
            }
            let items = format!("{base}/ogc/collections/smart.{layer}/items?datetime={on}&limit=10000");
            assert_eq!(ogr_count_url(&items), expected, "OGC {layer} items on {on}");
        }
    }
    let (past, now, future) = (seen[0], seen[1], seen[2]);
    assert_eq!([(past.0, past.1), (now.0, now.1), (future.0, future.1)], [(true, false), (false, false), (false, true)], "襄阳 then, 宜昌 later");
    assert_eq!((past.2, now.2, future.2), (true, false, false), "the outlet closed 5 days ago was open 10 days ago");
    assert_eq!(future.3, now.3 + 1, "the planned outlet counts on the later day: {seen:?}");

    // The collections with time say so; a layer without time refuses a day.
    let grants = get_json(&client, &format!("{base}/ogc/collections/smart.grants")).await;
    assert!(grants["extent"]["temporal"]["interval"][0][0].is_string(), "{grants}");
    let r = client.get(format!("{base}/ogc/collections/smart.demand/items?datetime={on}", on = day(0))).send().await.expect("get");
    assert_eq!(r.status().as_u16(), 400);
    let r = client.get(format!("{base}/ogc/collections/smart.grants/items?datetime=2026-13-01")).send().await.expect("get");
    assert_eq!(r.status().as_u16(), 400);
    // A page's links keep the datetime; TileJSON's tile URLs keep the day.
    let page = get_json(&client, &format!("{base}/ogc/collections/regions/items?limit=1")).await;
    assert!(page["links"].as_array().is_some_and(|l| l.iter().any(|l| l["rel"] == "next")));
    let page = get_json(&client, &format!("{base}/ogc/collections/smart.grants/items?limit=1&datetime={}", day(-10))).await;
    let next = page["links"].as_array().and_then(|l| l.iter().find(|l| l["rel"] == "next")).expect("next");
    assert!(next["href"].as_str().is_some_and(|h| h.contains(&format!("datetime={}", day(-10)))), "{next}");
    let tilejson = get_json(&client, &format!("{base}/tiles/smart.grants.json?on={}", day(40))).await;
    assert!(tilejson["tiles"][0].as_str().is_some_and(|t| t.ends_with(&format!("?on={}", day(40)))), "{tilejson}");
    let conflicts = get_json(&client, &format!("{base}/networks/smart/conflicts?on={}", day(-10))).await;
    assert!(conflicts["count"].is_u64(), "{conflicts}");
}
