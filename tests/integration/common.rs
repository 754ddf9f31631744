//! Shared test harness: a seeded template database, an app on a copy of it, and a
//! request helper that prints status and body when an assertion fails.
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use territory::app::App;
use territory::geometry::GeometryLimits;
use territory::http::auth::AuthConfig;
use territory::http::{HttpLimits, PublicUrl, ServeOptions, router_with};
use tower::ServiceExt;

/// The bundled data folder.
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// A database file seeded with the sample data, built once per test run.
pub fn template_db() -> &'static Path {
    static TEMPLATE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = TEMPLATE.get_or_init(|| {
        std::thread::spawn(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("template.db");
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(async {
                let app = App::open(&path, GeometryLimits::default()).await.expect("open");
                // No demand grid: 3 M cells would make every copy 120 MB; scoring tests upload small grids.
                territory::app::seed::seed(&app, &data_dir(), false).await.expect("seed");
                sqlx::query("pragma wal_checkpoint(truncate)").execute(&app.store().pool).await.expect("checkpoint");
                app.store().pool.close().await;
            });
            (dir, path)
        })
        .join()
        .expect("template thread")
    });
    path
}

/// A test database: a private copy of the template.
pub struct TestDb {
    /// Keeps the folder alive.
    pub dir: tempfile::TempDir,
    /// The database file.
    pub path: PathBuf,
}

/// Copies the template into a fresh folder.
pub fn test_db() -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("territory.db");
    std::fs::copy(template_db(), &path).expect("copy template");
    TestDb { dir, path }
}

/// An app (the service + its router) on a database file.
pub struct TestApp {
    /// The application behind the router.
    pub service: Arc<App>,
    /// The router.
    pub router: Router,
    /// The database.
    pub db: TestDb,
}

/// Opens the app on a fresh copy of the template.
pub async fn app() -> TestApp {
    app_on(test_db(), HttpLimits::default(), GeometryLimits::default()).await
}

/// Opens the app on a given database with given limits.
pub async fn app_on(db: TestDb, http: HttpLimits, geometry: GeometryLimits) -> TestApp {
    let service = Arc::new(App::open(&db.path, geometry).await.expect("open the app"));
    service.warm().await.expect("warm the caches, as `serve` does");
    // Open, as `serve --open` on loopback: the tests that need tokens make them. Links
    // name the public URL `http://localhost:8080`.
    let public_url = PublicUrl::parse("http://localhost:8080").expect("url");
    let options = ServeOptions { auth: AuthConfig { open: true }, public_url, ..ServeOptions::default() };
    TestApp { router: router_with(service.clone(), http, options), service, db }
}

/// A response, kept whole for assertions.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Content-Type header.
    pub content_type: String,
    /// Parsed JSON body (Null if not JSON).
    pub body: Value,
    /// Raw body text.
    pub text: String,
}

impl Reply {
    /// Asserts the status, printing the body if it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Reply {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.text);
        self
    }

    /// Asserts a problem+json body with this status.
    #[track_caller]
    pub fn expect_problem(&self, status: u16) -> &Reply {
        self.expect(status);
        assert_eq!(self.content_type, "application/problem+json", "body: {}", self.text);
        assert_eq!(self.body["status"], json!(status));
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()), "no detail: {}", self.text);
        self
    }

    /// The `pointer`s of a 422's `errors`.
    pub fn pointers(&self) -> Vec<String> {
        self.body["errors"].as_array().map(|a| a.iter().map(|e| e["pointer"].as_str().unwrap_or("").to_string()).collect()).unwrap_or_default()
    }
}

impl TestApp {
    /// Sends a request with an optional JSON body.
    pub async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> Reply {
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        self.raw(method, uri, bytes).await
    }

    /// Sends a request with a raw body.
    pub async fn raw(&self, method: Method, uri: &str, body: String) -> Reply {
        let req = Request::builder().method(method).uri(uri).header(header::CONTENT_TYPE, "application/json").body(Body::from(body)).expect("request");
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let content_type = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, content_type, body, text }
    }

    /// GET.
    pub async fn get(&self, uri: &str) -> Reply {
        self.call(Method::GET, uri, None).await
    }

    /// POST JSON.
    pub async fn post(&self, uri: &str, body: Value) -> Reply {
        self.call(Method::POST, uri, Some(body)).await
    }

    /// Creates a partner and returns its id.
    pub async fn partner(&self, net: &str, name: &str, tier: &str) -> i64 {
        let r = self.post(&format!("/networks/{net}/partners"), json!({"name": name, "tier": tier})).await;
        r.expect(201);
        r.body["id"].as_i64().expect("partner id")
    }

    /// Rows in grants and audit: what "writes nothing" is checked against.
    pub async fn counts(&self) -> (i64, i64) {
        let pool = &self.service.store().pool;
        let g: i64 = sqlx::query_scalar("select count(*) from grants").fetch_one(pool).await.expect("count");
        let a: i64 = sqlx::query_scalar("select count(*) from audit").fetch_one(pool).await.expect("count");
        (g, a)
    }
}

/// A region's geometry from the bundled layer files (not from the service).
pub fn region_geometry(adcode: &str) -> Value {
    static LAYERS: OnceLock<Vec<Value>> = OnceLock::new();
    let layers = LAYERS.get_or_init(|| {
        territory::app::seed::LAYERS.iter().map(|l| serde_json::from_str(&std::fs::read_to_string(data_dir().join(l)).expect("read")).expect("json")).collect()
    });
    layers
        .iter()
        .flat_map(|l| l["features"].as_array().into_iter().flatten())
        .find(|f| f["properties"]["adcode"] == json!(adcode))
        .map(|f| f["geometry"].clone())
        .unwrap_or_else(|| panic!("no region {adcode} in the data"))
}

/// A small rectangle as a GeoJSON Polygon.
pub fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]})
}

/// A bulk import that bypassed the check: 南山 440305 for smart partner 2, inside grant 1
/// (深圳), written straight into the table with the sequence moved on.
pub async fn insert_conflicting_grant(app: &TestApp) {
    sqlx::query(
        "insert into grants (network, partner_id, adcodes, geometry, area_km2, min_lon, min_lat, max_lon, max_lat, exclusive, valid_from, status, created_at, seq)
         select network, 2, '[\"440305\"]', (select geometry from regions where adcode = '440305'), 187.0, min_lon, min_lat, max_lon, max_lat, 1, valid_from, 'active', created_at, 100
         from grants where id = 1",
    )
    .execute(&app.service.store().pool)
    .await
    .expect("bulk row");
    sqlx::query("update state set value = 100 where key = 'grants_seq'").execute(&app.service.store().pool).await.expect("seq");
}
