//! The map page: every asset it loads is served by the binary itself (router test), and
//! the page works in a real headless Chromium against the real binary (tests/e2e/).

use crate::api_scoring::fixture_cells;
use crate::binary::{serve, sigterm};
use crate::common::{app, test_db};
use std::path::PathBuf;
use std::process::Command;
use territory::http::web::{ASSETS, INDEX_HTML};

/// The local URLs a text refers to: `src="/..."`, `href="/..."` and quoted `"/assets/..."`
/// or `"/map/..."` strings.
fn local_refs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for quote in ['"', '\'', '`'] {
        for part in text.split(quote).skip(1).step_by(2) {
            if (part.starts_with("/assets/") || part.starts_with("/map/")) && !part.contains(' ') {
                out.push(part.to_string());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[tokio::test]
async fn every_asset_the_page_loads_is_served_by_the_binary_and_nothing_comes_from_elsewhere() {
    let app = app().await;
    let page = app.get("/").await;
    page.expect(200);
    assert!(page.content_type.starts_with("text/html"));
    assert_eq!(page.text, INDEX_HTML);
    let mut refs = local_refs(INDEX_HTML);
    for a in ASSETS.iter().filter(|a| a.path.ends_with(".js") && !a.path.starts_with("vendor/")) {
        refs.extend(local_refs(std::str::from_utf8(a.bytes).expect("utf-8")));
    }
    for must in [
        "/assets/app.js",
        "/assets/i18n.js",
        "/assets/app.css",
        "/assets/vendor/maplibre-gl/maplibre-gl.js",
        "/assets/vendor/maplibre-gl/maplibre-gl.css",
        "/map/config",
    ] {
        assert!(refs.iter().any(|r| r == must), "the page does not load {must}: {refs:?}");
    }
    for r in &refs {
        let reply = app.get(r).await;
        reply.expect(200);
        assert!(!reply.text.is_empty(), "{r} is empty");
    }
    // Our own files name no other host: no CDN, no fonts, no basemap by default.
    for a in ASSETS.iter().filter(|a| !a.path.starts_with("vendor/")) {
        let text = std::str::from_utf8(a.bytes).expect("utf-8");
        assert!(!text.contains("http://") && !text.contains("https://"), "{} refers to another host", a.path);
    }
    assert!(!INDEX_HTML.contains("http://") && !INDEX_HTML.contains("https://"));
    // The vendored library ships with its licence.
    let licence = app.get("/assets/vendor/maplibre-gl/LICENSE.txt").await;
    assert!(licence.text.contains("MapLibre contributors"));
    app.get("/assets/nothing.js").await.expect_problem(404);
    let config = app.get("/map/config").await;
    assert_eq!(config.body["basemap"], serde_json::Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_map_page_works_in_headless_chromium() {
    let e2e = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/e2e");
    assert!(
        e2e.join("node_modules/playwright-core").exists() && std::path::Path::new("/usr/bin/chromium").exists(),
        "the browser test needs Debian's chromium and playwright-core: run tests/run, which installs both"
    );
    let db = test_db();
    let (mut child, base) = serve(&db.path);
    let client = reqwest::Client::new();
    let mut csv = String::from("h3,demand\n");
    for (h, d) in fixture_cells() {
        csv.push_str(&format!("{h},{d}\n"));
    }
    let r = client.put(format!("{base}/networks/smart/demand")).header("content-type", "text/csv").body(csv).send().await.expect("put demand");
    assert_eq!(r.status(), 200);
    let mut cmd = Command::new("node");
    cmd.current_dir(&e2e).arg("map.test.mjs").arg(&base);
    // `UPDATE_SCREENSHOT=1` refreshes the README's picture.
    if std::env::var_os("UPDATE_SCREENSHOT").is_some() {
        cmd.arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/map.png"));
    }
    let out = cmd.output().expect("node (the README's test command installs it)");
    sigterm(&child);
    let _ = child.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(out.status.success(), "the browser test failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("summary JSON");
    assert_eq!(summary["ok"], serde_json::json!(true));
    assert!(summary["findings"]["grants_rendered"].as_u64().unwrap_or(0) > 0);
}
