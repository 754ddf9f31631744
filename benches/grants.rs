//! Grant and check throughput on the sample cities and districts.
//!
//! `cargo bench --bench grants [-- SECONDS] [grants]` prints a markdown table (recorded in
//! BENCHMARKS.md); with `grants`, only the rows of grants committed. Scenario, deterministic (no RNG):
//! 1. import the bundled regions into a fresh SQLite file;
//! 2. **grants committed**: network `commit` — every district granted by adcode to its own
//!    partner (876 − 6 grants), then every city by drawn geometry to its own partner in
//!    network `drawn`; each grant is one `BEGIN IMMEDIATE` transaction with an fsync;
//! 3. **checks**: network `bench` holds the 121 cities as exclusive grants; a new partner
//!    asks, for every district and every city, once by adcode and once with the same
//!    polygon sent as GeoJSON (drawn). Every district check finds its city.
//!    Measured in-process (`Registry::propose` + `check`) and over HTTP (the real router
//!    on 127.0.0.1, requests pre-serialised) with 1 and 2 client threads;
//! 4. every city granted again over HTTP by adcode, five times (networks `http0`..`http4`),
//!    one client.

use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use territory::app::App;
use territory::app::catalog::{NewNetwork, NewPartner};
use territory::app::ledger::GrantRequest;
use territory::domain::access::Caller;
use territory::geometry::{CoordSys, GeometryLimits};
use territory::http::{HttpLimits, ServeOptions, auth::AuthConfig, router_with};

struct Stats {
    n: usize,
    secs: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn stats(mut lat: Vec<Duration>, secs: f64) -> Stats {
    lat.sort();
    let q = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3;
    Stats { n: lat.len(), secs, p50_ms: q(0.5), p99_ms: q(0.99) }
}

fn row(what: &str, s: &Stats) {
    println!("| {what} | {} | {:.0} | {:.3} | {:.3} |", s.n, s.n as f64 / s.secs, s.p50_ms, s.p99_ms);
}

fn features(file: &str) -> Vec<Value> {
    let path = format!("{}/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
    v["features"].as_array().expect("features").clone()
}

async fn grant(app: &App, net: &str, body: Value) -> Duration {
    let t = Instant::now();
    let req: GrantRequest = serde_json::from_value(body.clone()).expect("request");
    app.ledger.grant(&Caller::cli(), net, &req, CoordSys::Wgs84, &serde_json::value::to_raw_value(&body).expect("json")).await.expect("granted");
    t.elapsed()
}

async fn network(app: &App, code: &str) {
    app.catalog.create_network(&Caller::cli(), &NewNetwork { code: code.into(), name: code.into(), policy: "smart".into() }).await.expect("network");
}

async fn partner(app: &App, net: &str, name: String) -> i64 {
    app.catalog.create_partner(&Caller::cli(), net, &NewPartner { name, tier: "city_partner".into(), ..Default::default() }).await.expect("partner").id
}

/// Runs whole passes over `bodies` for at least `min_secs`, timing each request.
/// Also returns the overlaps (conflicts + warnings) found in one pass.
async fn in_process(app: &App, bodies: &[Value], min_secs: f64) -> (Stats, usize) {
    let reqs: Vec<GrantRequest> = bodies.iter().map(|b| serde_json::from_value(b.clone()).expect("req")).collect();
    let start = Instant::now();
    let mut lat = Vec::new();
    let mut overlaps = 0;
    while lat.is_empty() || start.elapsed().as_secs_f64() < min_secs {
        let first_pass = lat.is_empty();
        for req in &reqs {
            let t = Instant::now();
            let d = app.ledger.check(&Caller::cli(), "bench", req, CoordSys::Wgs84).await.expect("check");
            lat.push(t.elapsed());
            if first_pass {
                overlaps += d.conflicts.len() + d.warnings.len();
            }
        }
    }
    (stats(lat, start.elapsed().as_secs_f64()), overlaps)
}

/// Rounds of the HTTP grant row: each grants every city once, in a network of its own.
const HTTP_GRANT_ROUNDS: usize = 5;

/// Posts each `(network, body)` once to `base/networks/{network}/grants` from one client
/// thread, expecting `201 Created`.
fn grants_over_http(base: &str, bodies: Vec<(String, String)>) -> Stats {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    rt.block_on(async move {
        let client = reqwest::Client::new();
        let start = Instant::now();
        let mut lat = Vec::new();
        for (net, body) in bodies {
            let t = Instant::now();
            let r = client.post(format!("{base}/networks/{net}/grants")).header("content-type", "application/json").body(body).send().await.expect("send");
            assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap_or_default());
            std::hint::black_box(r.bytes().await.expect("body"));
            lat.push(t.elapsed());
        }
        stats(lat, start.elapsed().as_secs_f64())
    })
}

/// `threads` client threads, each with its own connection, sharing whole passes.
fn over_http(url: &str, bodies: &Arc<Vec<String>>, threads: usize, min_secs: f64) -> Stats {
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|k| {
            let (url, bodies) = (url.to_string(), bodies.clone());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
                rt.block_on(async move {
                    let client = reqwest::Client::new();
                    let mut lat = Vec::new();
                    let begun = Instant::now();
                    while lat.is_empty() || begun.elapsed().as_secs_f64() < min_secs {
                        for body in bodies.iter().skip(k).step_by(threads) {
                            let t = Instant::now();
                            let r = client.post(&url).header("content-type", "application/json").body(body.clone()).send().await.expect("send");
                            assert_eq!(r.status().as_u16(), 200);
                            std::hint::black_box(r.bytes().await.expect("body"));
                            lat.push(t.elapsed());
                        }
                    }
                    lat
                })
            })
        })
        .collect();
    let lat: Vec<Duration> = handles.into_iter().flat_map(|h| h.join().expect("client")).collect();
    stats(lat, start.elapsed().as_secs_f64())
}

fn main() {
    let min_secs: f64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(5.0);
    let grants_only = std::env::args().any(|a| a == "grants");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async move {
        let dir = tempfile::tempdir().expect("dir");
        let app = Arc::new(App::open(&dir.path().join("bench.db"), GeometryLimits::default()).await.expect("app"));
        let t = Instant::now();
        for layer in territory::app::seed::LAYERS {
            let collection = territory::app::seed::read_json(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join(layer)).expect("layer");
            app.catalog.import_regions(&Caller::cli(), &collection, |_| {}).await.expect("import");
        }
        eprintln!("imported regions in {:.1} s", t.elapsed().as_secs_f64());
        let regions = app.catalog.regions();
        let districts: Vec<Value> = features("districts.geojson")
            .into_iter()
            .filter(|f| regions.get(f["properties"]["adcode"].as_str().unwrap_or("")).is_some_and(|r| r.level == territory::domain::regions::Level::District))
            .collect();
        let cities = features("cities.geojson");
        println!("| scenario | requests | per second | p50 ms | p99 ms |\n| --- | ---: | ---: | ---: | ---: |");

        // Grants committed.
        for net in ["commit", "drawn", "bench"] {
            network(&app, net).await;
        }
        let mut lat = Vec::new();
        let t = Instant::now();
        for (i, f) in districts.iter().enumerate() {
            let p = partner(&app, "commit", format!("d{i}")).await;
            lat.push(grant(&app, "commit", json!({"partner_id": p, "adcodes": [f["properties"]["adcode"]]})).await);
        }
        row("grant committed, district by adcode", &stats(lat, t.elapsed().as_secs_f64()));
        let (mut lat_adcode, mut lat_drawn) = (Vec::new(), Vec::new());
        let (mut t_adcode, mut t_drawn) = (0.0, 0.0);
        for (i, f) in cities.iter().enumerate() {
            let p = partner(&app, "bench", format!("c{i}")).await;
            let d = grant(&app, "bench", json!({"partner_id": p, "adcodes": [f["properties"]["adcode"]]})).await;
            t_adcode += d.as_secs_f64();
            lat_adcode.push(d);
            let q = partner(&app, "drawn", format!("c{i}")).await;
            let d = grant(&app, "drawn", json!({"partner_id": q, "geometry": f["geometry"]})).await;
            t_drawn += d.as_secs_f64();
            lat_drawn.push(d);
        }
        row("grant committed, whole city by adcode", &stats(lat_adcode, t_adcode));
        row("grant committed, whole city drawn (GeoJSON)", &stats(lat_drawn, t_drawn));

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/networks/bench/grants/check", listener.local_addr().expect("addr"));
        // Open, as `serve --open` on loopback.
        let options = ServeOptions { auth: AuthConfig { open: true }, ..ServeOptions::default() };
        let http_router = router_with(app.clone(), HttpLimits::default(), options);
        tokio::spawn(async move { axum::serve(listener, http_router).await });
        // Every city granted over HTTP, in five networks of their own (605 grants).
        let mut city_grants = Vec::new();
        for round in 0..HTTP_GRANT_ROUNDS {
            let net = format!("http{round}");
            network(&app, &net).await;
            for (i, f) in cities.iter().enumerate() {
                let p = partner(&app, &net, format!("c{i}")).await;
                city_grants.push((net.clone(), json!({"partner_id": p, "adcodes": [f["properties"]["adcode"]]}).to_string()));
            }
        }
        let base = url.replace("/networks/bench/grants/check", "");
        let s = tokio::task::spawn_blocking(move || grants_over_http(&base, city_grants)).await.expect("client");
        row("grant committed over HTTP, whole city by adcode", &s);
        if grants_only {
            return;
        }

        // Checks.
        let prober = partner(&app, "bench", "prober".into()).await;
        let by_adcode = |fs: &[Value]| fs.iter().map(|f| json!({"partner_id": prober, "adcodes": [f["properties"]["adcode"]]})).collect::<Vec<_>>();
        let by_geometry = |fs: &[Value]| fs.iter().map(|f| json!({"partner_id": prober, "geometry": f["geometry"]})).collect::<Vec<_>>();
        let sets = [
            ("district by adcode", by_adcode(&districts)),
            ("city by adcode", by_adcode(&cities)),
            ("district drawn", by_geometry(&districts)),
            ("city drawn", by_geometry(&cities)),
        ];
        let mut found = Vec::new();
        for (name, bodies) in &sets {
            let (s, overlaps) = in_process(&app, bodies, min_secs).await;
            row(&format!("check in-process, {name}"), &s);
            found.push(format!("{name}: {overlaps} overlapping city grants found in one pass"));
        }
        for (name, bodies) in sets {
            let bodies = Arc::new(bodies.iter().map(Value::to_string).collect::<Vec<_>>());
            for threads in [1, 2] {
                let (url, b) = (url.clone(), bodies.clone());
                let s = tokio::task::spawn_blocking(move || over_http(&url, &b, threads, min_secs)).await.expect("clients");
                row(&format!("check over HTTP, {name}, {threads} client thread(s)"), &s);
            }
        }
        println!();
        for line in found {
            println!("- {line}");
        }
    });
}
