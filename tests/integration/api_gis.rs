//! GIS routes through the router on real SQLite copies: exports (GeoJSON, GeoPackage),
//! OGC API – Features (paging, bbox, errors, golden documents) and vector tiles (decoded
//! here; GDAL and QGIS read them in `gis_clients.rs`).

use crate::api_scoring::upload;
use crate::common::{TestApp, app, insert_conflicting_grant, rect};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use geozero::mvt::{Message, Tile};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sqlx::Connection;
use std::path::PathBuf;
use tower::ServiceExt;

async fn get_bytes(app: &TestApp, uri: &str) -> (StatusCode, String, Vec<u8>) {
    let req = Request::builder().uri(uri).header(header::HOST, "localhost:8080").body(Body::empty()).expect("request");
    let res = app.router.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let ct = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    (status, ct, res.into_body().collect().await.expect("body").to_bytes().to_vec())
}

async fn get_json(app: &TestApp, uri: &str) -> (StatusCode, String, Value) {
    let (s, ct, b) = get_bytes(app, uri).await;
    let v = serde_json::from_slice(&b).unwrap_or_else(|e| panic!("{uri}: not JSON ({e}): {}", String::from_utf8_lossy(&b)));
    (s, ct, v)
}

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name)
}

/// Compares with a golden file; `UPDATE_GOLDEN=1` rewrites it.
fn golden(name: &str, actual: &Value) {
    let path = golden_path(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(actual).expect("json") + "\n").expect("write golden");
    }
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).expect("golden json");
    assert_eq!(
        actual,
        &expected,
        "{name} differs from its golden file (UPDATE_GOLDEN=1 to accept):\n{}",
        serde_json::to_string_pretty(actual).unwrap_or_default()
    );
}

#[tokio::test]
async fn ogc_landing_page_api_and_an_items_page_match_their_golden_files() {
    let app = app().await;
    let (s, ct, landing) = get_json(&app, "/ogc").await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "application/json"));
    golden("ogc_landing.json", &landing);
    let (s, ct, api) = get_json(&app, "/ogc/api").await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "application/vnd.oai.openapi+json;version=3.0"));
    assert_eq!(api["openapi"], json!("3.0.3"));
    assert_eq!(api["components"]["parameters"]["limit"]["schema"], json!({"type": "integer", "minimum": 1, "maximum": 10000, "default": 1000}));
    golden("ogc_api.json", &api);
    let (s, ct, page) = get_json(&app, "/ogc/collections/smart.outlets/items?limit=3&offset=1").await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "application/geo+json"));
    golden("ogc_smart_outlets_items.json", &page);
}

#[tokio::test]
async fn collections_list_every_layer_of_every_network_with_its_extent() {
    let app = app().await;
    let (_, _, conf) = get_json(&app, "/ogc/conformance").await;
    assert!(conf["conformsTo"].as_array().expect("list").contains(&json!("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson")));
    let (s, _, c) = get_json(&app, "/ogc/collections").await;
    assert_eq!(s, StatusCode::OK);
    let ids: Vec<&str> = c["collections"].as_array().expect("collections").iter().map(|c| c["id"].as_str().expect("id")).collect();
    let mut expected = vec!["regions".to_string()];
    for net in ["haima", "smart"] {
        expected.extend(["grants", "outlets", "demand", "conflicts", "candidates"].map(|l| format!("{net}.{l}")));
    }
    assert_eq!(ids, expected);
    let (_, _, grants) = get_json(&app, "/ogc/collections/smart.grants").await;
    let bbox = &grants["extent"]["spatial"]["bbox"][0];
    let (x0, y0, x1, y1) = (bbox[0].as_f64().expect("x"), bbox[1].as_f64().expect("y"), bbox[2].as_f64().expect("x"), bbox[3].as_f64().expect("y"));
    assert!(x0 < 114.0 && x1 > 114.0 && y0 < 22.6 && y1 > 30.0, "smart grants span 深圳 to 武汉: {bbox}");
    assert_eq!(grants["links"][1]["href"], json!("http://localhost:8080/ogc/collections/smart.grants/items"));
}

#[tokio::test]
async fn items_page_with_absolute_next_links_until_every_feature_is_seen() {
    let app = app().await;
    let total = app.service.catalog.regions().len();
    let mut url = "/ogc/collections/regions/items?limit=150".to_string();
    let mut seen = Vec::new();
    loop {
        let (s, ct, page) = get_json(&app, &url).await;
        assert_eq!((s, ct.as_str()), (StatusCode::OK, "application/geo+json"));
        assert_eq!(page["numberMatched"], json!(total));
        let features = page["features"].as_array().expect("features");
        assert_eq!(page["numberReturned"], json!(features.len()));
        seen.extend(features.iter().map(|f| f["id"].as_i64().expect("id")));
        let next = page["links"].as_array().expect("links").iter().find(|l| l["rel"] == "next");
        match next {
            Some(l) => {
                let href = l["href"].as_str().expect("href");
                url = href.strip_prefix("http://localhost:8080").unwrap_or_else(|| panic!("next is not absolute: {href}")).to_string();
            }
            None => break,
        }
    }
    let unique: std::collections::BTreeSet<i64> = seen.iter().copied().collect();
    assert_eq!((seen.len(), unique.len()), (total, total), "every region exactly once");
}

#[tokio::test]
async fn a_bbox_returns_the_features_meeting_it_and_bad_parameters_are_400() {
    let app = app().await;
    // A box inside 深圳's 福田 district: the province, the city and the district meet it.
    let (_, _, page) = get_json(&app, "/ogc/collections/regions/items?bbox=114.05,22.53,114.06,22.54").await;
    let mut adcodes: Vec<&str> = page["features"].as_array().expect("features").iter().map(|f| f["properties"]["adcode"].as_str().expect("adcode")).collect();
    adcodes.sort_unstable();
    assert_eq!(adcodes, ["440000", "440300", "440304"]);
    for (query, word) in [
        ("limit=0", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("bbox=1,2,3", "bbox"),
        ("bbox=10,10,0,0", "bbox"),
        ("bbox=0,0,200,10", "bbox"),
        ("bbox=a,b,c,d", "bbox"),
        ("colour=red", "colour"),
        ("f=xml", "f="),
    ] {
        let r = app.get(&format!("/ogc/collections/regions/items?{query}")).await;
        r.expect_problem(400);
        assert!(r.body["detail"].as_str().expect("detail").contains(word), "{query}: {}", r.text);
    }
    // A limit above the maximum is lowered to it.
    let (s, _, page) = get_json(&app, "/ogc/collections/regions/items?limit=1000000").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page["links"][0]["href"].as_str().expect("self").contains("limit=10000"));
    for uri in [
        "/ogc/collections/nowhere.grants",
        "/ogc/collections/smart.roads/items",
        "/ogc/collections/smart.grants/items/999999",
        "/ogc/collections/smart.grants/items/abc",
    ] {
        app.get(uri).await.expect_problem(404);
    }
}

#[tokio::test]
async fn single_items_and_layers_follow_grant_changes_at_once() {
    let app = app().await;
    let (_, _, before) = get_json(&app, "/ogc/collections/smart.grants/items").await;
    let n = before["numberMatched"].as_u64().expect("n");
    // A new partner takes 郑州 (a drawn square, outside every seeded grant).
    let partner = app.partner("smart", "郑州 partner", "city_partner").await;
    let created = app.post("/networks/smart/grants", json!({"partner_id": partner, "geometry": rect(97.0, 36.0, 97.3, 36.3)})).await;
    created.expect(201);
    let id = created.body["id"].as_i64().expect("id");
    let (_, _, after) = get_json(&app, "/ogc/collections/smart.grants/items").await;
    assert_eq!(after["numberMatched"], json!(n + 1));
    let (s, ct, one) = get_json(&app, &format!("/ogc/collections/smart.grants/items/{id}")).await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "application/geo+json"));
    assert_eq!(one["id"], json!(id));
    assert_eq!(one["properties"]["partner"], json!("郑州 partner"));
    assert_eq!(one["properties"]["exclusive"], json!(true));
    assert_eq!(one["properties"]["status"], json!("active"));
    assert_eq!(one["geometry"]["type"], json!("MultiPolygon"));
    app.post(&format!("/networks/smart/grants/{id}/revoke"), json!({"reason": "test", "force": true})).await.expect(200);
    let (_, _, one) = get_json(&app, &format!("/ogc/collections/smart.grants/items/{id}")).await;
    assert_eq!(one["properties"]["status"], json!("revoked"));
}

#[tokio::test]
async fn geojson_exports_hold_every_feature_with_typed_properties() {
    let app = app().await;
    let grants = app.get("/networks/smart/grants").await;
    let (s, ct, fc) = get_json(&app, "/networks/smart/export/grants.geojson").await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "application/geo+json"));
    assert_eq!(fc["type"], json!("FeatureCollection"));
    let features = fc["features"].as_array().expect("features");
    assert_eq!(features.len(), grants.body["features"].as_array().expect("grants").len());
    let first = &features[0]["properties"];
    assert!(first["exclusive"].is_boolean() && first["partner_id"].is_i64() && first["area_km2"].is_f64(), "{first}");
    assert!(first["valid_from"].as_str().is_some_and(|d| d.len() == 10));
    let (_, _, regions) = get_json(&app, "/export/regions.geojson?bbox=114.05,22.53,114.06,22.54").await;
    assert_eq!(regions["features"].as_array().expect("features").len(), 3);
    for bad in ["/export/regions.shp", "/export/grants.geojson", "/networks/smart/export/roads.gpkg", "/networks/nowhere/export/grants.geojson"] {
        app.get(bad).await.expect_problem(404);
    }
    app.get("/export/regions.geojson?bbox=1,2").await.expect_problem(400);
}

#[tokio::test]
async fn geopackage_exports_are_geopackages_with_a_filled_spatial_index() {
    let app = app().await;
    let (s, ct, bytes) = get_bytes(&app, "/networks/haima/export/outlets.gpkg").await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "application/geopackage+sqlite3"));
    assert!(bytes.starts_with(b"SQLite format 3\0"));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("outlets.gpkg");
    std::fs::write(&path, &bytes).expect("write");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.expect("open gpkg");
    let app_id: i64 = sqlx::query_scalar("PRAGMA application_id").fetch_one(&mut conn).await.expect("app id");
    let version: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&mut conn).await.expect("version");
    assert_eq!((app_id, version), (0x4750_4B47, 10300));
    let outlets: i64 = sqlx::query_scalar("SELECT count(*) FROM haima_outlets").fetch_one(&mut conn).await.expect("count");
    let indexed: i64 = sqlx::query_scalar("SELECT count(*) FROM rtree_haima_outlets_geom").fetch_one(&mut conn).await.expect("count");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM outlets WHERE network = 'haima'").fetch_one(&app.service.store().pool).await.expect("count");
    assert_eq!((outlets, indexed), (stored, stored));
    let (kind, srs): (String, i64) = sqlx::query_as("SELECT geometry_type_name, srs_id FROM gpkg_geometry_columns WHERE table_name = 'haima_outlets'")
        .fetch_one(&mut conn)
        .await
        .expect("geometry column");
    assert_eq!((kind.as_str(), srs), ("POINT", 4326));
    // The first geometry blob: GP header, version 0, srs 4326, then WKB Point.
    let blob: Vec<u8> = sqlx::query_scalar("SELECT geom FROM haima_outlets ORDER BY fid LIMIT 1").fetch_one(&mut conn).await.expect("geom");
    assert_eq!(&blob[..2], b"GP");
    assert_eq!(i32::from_le_bytes(blob[4..8].try_into().expect("srs")), 4326);
}

fn decode(bytes: &[u8]) -> Tile {
    Tile::decode(bytes).expect("a valid MVT")
}

/// The signed area of the first ring of a polygon feature in tile coordinates (y down),
/// decoded from its command stream.
fn first_ring_area(geometry: &[u32]) -> f64 {
    let (mut x, mut y, mut i) = (0i64, 0i64, 0usize);
    let mut ring: Vec<(i64, i64)> = Vec::new();
    let zz = |v: u32| i64::from((v >> 1) as i32 ^ -((v & 1) as i32));
    while i < geometry.len() {
        let (cmd, count) = (geometry[i] & 7, geometry[i] >> 3);
        i += 1;
        match cmd {
            1 | 2 => {
                for _ in 0..count {
                    x += zz(geometry[i]);
                    y += zz(geometry[i + 1]);
                    i += 2;
                    ring.push((x, y));
                }
            }
            _ => break, // ClosePath ends the first ring
        }
    }
    let n = ring.len();
    (0..n).map(|k| (ring[k].0 * ring[(k + 1) % n].1 - ring[(k + 1) % n].0 * ring[k].1) as f64).sum::<f64>() / 2.0
}

#[tokio::test]
async fn vector_tiles_carry_the_layer_with_exterior_rings_as_mvt_wants_them() {
    let app = app().await;
    // 深圳 at z=8 is tile 208/111.
    let (s, ct, bytes) = get_bytes(&app, "/tiles/smart.grants/8/208/111.mvt").await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "application/vnd.mapbox-vector-tile"));
    let tile = decode(&bytes);
    assert_eq!(tile.layers.len(), 1);
    let layer = &tile.layers[0];
    assert_eq!((layer.name.as_str(), layer.extent), ("grants", Some(4096)));
    assert!(!layer.features.is_empty());
    for f in &layer.features {
        assert!(first_ring_area(&f.geometry) > 0.0, "exterior rings have positive area in tile coordinates (MVT 2.1 §4.3.4.4)");
        assert!(layer.keys.contains(&"partner".to_string()));
    }
    // Far from every grant: an empty layer.
    let (_, _, empty) = get_bytes(&app, "/tiles/smart.grants/8/10/10.mvt").await;
    assert!(decode(&empty).layers[0].features.is_empty());
    // Districts appear from zoom 7 only.
    let levels = |t: &Tile| -> std::collections::BTreeSet<String> {
        let l = &t.layers[0];
        let k = l.keys.iter().position(|k| k == "level").expect("level key") as u32;
        l.features.iter().filter_map(|f| f.tags.chunks(2).find(|kv| kv[0] == k).and_then(|kv| l.values[kv[1] as usize].string_value.clone())).collect()
    };
    let (_, _, z6) = get_bytes(&app, "/tiles/regions/6/52/27.mvt").await;
    let (_, _, z8) = get_bytes(&app, "/tiles/regions/8/208/111.mvt").await;
    assert!(!levels(&decode(&z6)).contains("district"));
    assert!(levels(&decode(&z8)).contains("district"));
    for bad in ["/tiles/smart.grants/8/300/1.mvt", "/tiles/smart.grants/23/0/0.mvt", "/tiles/smart.grants/8/1/1.png"] {
        app.get(bad).await.expect_problem(400);
    }
    app.get("/tiles/smart.roads/1/1/1.mvt").await.expect_problem(404);
    let (_, _, tj) = get_json(&app, "/tiles/smart.grants.json").await;
    assert_eq!(tj["tiles"][0], json!("http://localhost:8080/tiles/smart.grants/{z}/{x}/{y}.mvt"));
    assert_eq!(tj["vector_layers"][0]["id"], json!("grants"));
}

#[tokio::test]
async fn demand_tiles_sum_cells_into_coarser_hexagons_at_low_zoom() {
    let app = app().await;
    let info = upload(&app, "smart").await;
    let total = info["total"].as_f64().expect("total");
    let sum_demand = |t: &Tile| -> (usize, f64) {
        let l = &t.layers[0];
        let k = l.keys.iter().position(|k| k == "demand").expect("demand key") as u32;
        let s = l.features.iter().filter_map(|f| f.tags.chunks(2).find(|kv| kv[0] == k).and_then(|kv| l.values[kv[1] as usize].double_value)).sum();
        (l.features.len(), s)
    };
    // 九江 (116.0, 29.7): z=4 tile 13/6 holds the whole fixture grid; z=12 is cell by cell.
    let (_, _, z4) = get_bytes(&app, "/tiles/smart.demand/4/13/6.mvt").await;
    let (n4, s4) = sum_demand(&decode(&z4));
    assert!((s4 - total).abs() < 1e-6 * total, "coarse cells keep the whole demand: {s4} vs {total}");
    assert!(n4 < info["cell_count"].as_u64().expect("cells") as usize / 10, "{n4} coarse hexagons");
    let x = ((116.0 + 180.0) / 360.0 * 4096.0) as u32;
    let y = ((1.0 - (29.7f64.to_radians().tan().asinh()) / std::f64::consts::PI) / 2.0 * 4096.0) as u32;
    let (_, _, z12) = get_bytes(&app, &format!("/tiles/smart.demand/12/{x}/{y}.mvt")).await;
    let fine = decode(&z12);
    let l = &fine.layers[0];
    let k = l.keys.iter().position(|k| k == "resolution").expect("resolution key") as u32;
    let res: std::collections::BTreeSet<i64> =
        l.features.iter().filter_map(|f| f.tags.chunks(2).find(|kv| kv[0] == k).and_then(|kv| l.values[kv[1] as usize].int_value)).collect();
    assert_eq!(res.into_iter().collect::<Vec<_>>(), [8], "the grid's own cells at z=12");
}

#[tokio::test]
async fn the_last_scoring_run_is_the_candidates_layer() {
    let app = app().await;
    let (_, _, empty) = get_json(&app, "/ogc/collections/smart.candidates/items").await;
    assert_eq!(empty["numberMatched"], json!(0));
    upload(&app, "smart").await;
    let candidates = json!({"partner_id": 4, "candidates": [
        {"id": "a", "location": {"type": "Point", "coordinates": [116.0, 29.7]}},
        {"id": "b", "location": {"type": "Point", "coordinates": [116.05, 29.65]}, "site_type": "auto_city"},
    ]});
    let scored = app.post("/networks/smart/score", candidates).await;
    scored.expect(200);
    let (_, _, fc) = get_json(&app, "/networks/smart/export/candidates.geojson").await;
    let features = fc["features"].as_array().expect("features");
    assert_eq!(features.len(), 2);
    for (f, s) in features.iter().zip(scored.body["candidates"].as_array().expect("scores")) {
        assert_eq!(f["properties"]["candidate_id"], s["id"]);
        assert_eq!(f["properties"]["net_gain"], s["net_gain"]);
        assert_eq!(f["properties"]["site_type"], s["site_type"]);
        assert_eq!(f["properties"]["allowed"], s["allowed"]);
        assert_eq!(f["geometry"]["coordinates"], s["location"]);
    }
    // A new run replaces the layer whole.
    app.post("/networks/smart/score", json!({"candidates": [{"id": "c", "location": {"type": "Point", "coordinates": [116.0, 29.7]}}]})).await.expect(200);
    let (_, _, fc) = get_json(&app, "/ogc/collections/smart.candidates/items").await;
    assert_eq!(fc["numberMatched"], json!(1));
    assert_eq!(fc["features"][0]["properties"]["candidate_id"], json!("c"));
    assert_eq!(fc["features"][0]["properties"]["run"], json!(2));
}

#[tokio::test]
async fn the_conflicts_layer_is_the_overlaps_of_stored_grants() {
    let app = app().await;
    let (_, _, none) = get_json(&app, "/ogc/collections/smart.conflicts/items").await;
    assert_eq!(none["numberMatched"], json!(0));
    insert_conflicting_grant(&app).await;
    let conflicts = app.get("/networks/smart/conflicts").await;
    assert_eq!(conflicts.body["count"], json!(1), "{}", conflicts.text);
    let (_, _, fc) = get_json(&app, "/ogc/collections/smart.conflicts/items").await;
    assert_eq!(fc["numberMatched"], json!(1));
    let p = &fc["features"][0]["properties"];
    let pair = [p["grant_a"].as_i64().expect("a"), p["grant_b"].as_i64().expect("b")];
    assert!(pair.contains(&1), "{p}");
    assert_eq!(p["basis"], json!("hierarchy"));
    assert_eq!(p["adcodes"], json!("440305"));
    assert!(p["overlap_km2"].as_f64().expect("km2") > 100.0, "南山 is ~180 km²: {p}");
    assert_eq!(fc["features"][0]["geometry"]["type"], json!("MultiPolygon"));
}

#[tokio::test]
async fn links_come_from_the_public_url_never_from_the_request_headers() {
    let app = app().await;
    let hostile = |uri: &str| {
        Request::builder()
            .uri(uri)
            .header(header::HOST, "evil.example")
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "evil.example")
            .body(Body::empty())
            .expect("request")
    };
    let body =
        |res: axum::response::Response| async move { String::from_utf8(res.into_body().collect().await.expect("body").to_bytes().to_vec()).expect("utf-8") };
    for uri in ["/ogc", "/ogc/collections/smart.grants", "/ogc/collections/smart.grants/items?limit=1", "/tiles/smart.grants.json", "/ogc/api"] {
        let text = body(app.router.clone().oneshot(hostile(uri)).await.expect("infallible")).await;
        assert!(!text.contains("evil.example"), "{uri} copies the Host header: {text}");
        assert!(text.contains("http://localhost:8080/"), "{uri}: {text}");
    }
    // Behind a proxy: the configured URL, with its path, whatever the request says.
    let public_url = territory::http::PublicUrl::parse("https://gis.example.com/territory/").expect("url");
    let options = territory::http::ServeOptions { auth: territory::http::auth::AuthConfig { open: true }, public_url, ..Default::default() };
    let proxied = territory::http::router_with(app.service.clone(), territory::http::HttpLimits::default(), options);
    let text = body(proxied.oneshot(hostile("/ogc/collections/smart.grants")).await.expect("infallible")).await;
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["links"][1]["href"], json!("https://gis.example.com/territory/ogc/collections/smart.grants/items"));
    for bad in ["ftp://x.example", "localhost:8080", "https://x.example/?a=1", "https:///nohost"] {
        assert!(territory::http::PublicUrl::parse(bad).is_err(), "{bad}");
    }
}
