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
