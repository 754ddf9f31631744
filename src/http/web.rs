//! The map page at `/`: HTML, script and styles embedded in the binary (MapLibre GL JS
//! vendored under `web/vendor/`, with its licence), and `/map/config` (the optional
//! basemap). Nothing is fetched from anywhere but this service.

use axum::Router;
use axum::extract::{Extension, Path};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// Settings of the map page.
#[derive(Debug, Clone, Default)]
pub struct MapConfig {
    /// An XYZ raster basemap URL template (`https://.../{z}/{x}/{y}.png`), if the
    /// deployment has one; the page has no basemap otherwise.
    pub basemap: Option<String>,
}

/// One embedded file.
pub struct Asset {
    /// Path under `/assets/`.
    pub path: &'static str,
    /// Media type.
    pub content_type: &'static str,
    /// Contents.
    pub bytes: &'static [u8],
}

/// The page itself.
pub const INDEX_HTML: &str = include_str!("../../web/index.html");

/// Every file under `/assets/`.
pub const ASSETS: &[Asset] = &[
    Asset { path: "app.js", content_type: "text/javascript; charset=utf-8", bytes: include_bytes!("../../web/app.js") },
    Asset { path: "i18n.js", content_type: "text/javascript; charset=utf-8", bytes: include_bytes!("../../web/i18n.js") },
    Asset { path: "app.css", content_type: "text/css; charset=utf-8", bytes: include_bytes!("../../web/app.css") },
    Asset {
        path: "vendor/maplibre-gl/maplibre-gl.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../web/vendor/maplibre-gl/maplibre-gl.js"),
    },
    Asset {
        path: "vendor/maplibre-gl/maplibre-gl.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../web/vendor/maplibre-gl/maplibre-gl.css"),
    },
    Asset {
        path: "vendor/maplibre-gl/LICENSE.txt",
        content_type: "text/plain; charset=utf-8",
        bytes: include_bytes!("../../web/vendor/maplibre-gl/LICENSE.txt"),
    },
];

pub(super) fn router<S: Clone + Send + Sync + 'static>(config: MapConfig) -> Router<S> {
    Router::new().route("/", get(index)).route("/assets/{*path}", get(asset)).route("/map/config", get(map_config)).layer(Extension(config))
}

async fn index() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))], INDEX_HTML).into_response()
}

async fn asset(Path(path): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.path == path) {
        Some(a) => ([(header::CONTENT_TYPE, HeaderValue::from_static(a.content_type)), (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))], a.bytes)
            .into_response(),
        None => crate::error::Error::NotFound(format!("no asset `{path}`")).into_response(),
    }
}

async fn map_config(Extension(config): Extension<MapConfig>) -> Response {
    (StatusCode::OK, axum::Json(serde_json::json!({"basemap": config.basemap}))).into_response()
}
