//! `territory serve`: the HTTP API and the map page.

use super::DbArgs;
use crate::app::App;
use crate::geometry::GeometryLimits;
use crate::http::{self, HttpLimits};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// `territory serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Database.
    #[command(flatten)]
    pub db: DbArgs,
    /// Address to listen on.
    #[arg(long, env = "TERRITORY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Folder with the bundled sample data (region layers).
    #[arg(long, env = "TERRITORY_DATA", default_value = default_data_dir())]
    pub data: PathBuf,
    /// Do not load sample data into an empty database.
    #[arg(long)]
    pub no_seed: bool,
    /// Seed the sample networks without synthesising their demand grid (faster).
    #[arg(long)]
    pub no_seed_demand: bool,
    /// Largest request body, bytes.
    #[arg(long, default_value_t = HttpLimits::default().max_body_bytes)]
    pub max_body_bytes: usize,
    /// Most vertices in one input geometry.
    #[arg(long, default_value_t = GeometryLimits::default().max_vertices)]
    pub max_vertices: usize,
    /// Longest a request may run, seconds (then 503 with Retry-After).
    #[arg(long, default_value_t = HttpLimits::default().request_timeout.as_secs_f64())]
    pub request_timeout_secs: f64,
    /// Requests in flight at most (more get 503 with Retry-After).
    #[arg(long, default_value_t = HttpLimits::default().max_concurrent)]
    pub max_concurrent: usize,
    /// Most features one request or import may bring (demand cells, candidates, outlets).
    #[arg(long, default_value_t = HttpLimits::default().max_import_features)]
    pub max_import_features: usize,
    /// XYZ raster basemap URL template for the map page (`https://host/{z}/{x}/{y}.png`);
    /// without it the page draws only the service's own layers.
    #[arg(long, env = "TERRITORY_BASEMAP")]
    pub basemap: Option<String>,
}

fn default_data_dir() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/data")
}

/// Serves until Ctrl-C or SIGTERM.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let limits = GeometryLimits { max_vertices: args.max_vertices };
    let app = App::open(&args.db.db, limits).await?;
    app.warm().await?;
    if !app.access.any_active().await? {
        if args.listen.ip().is_loopback() {
            tracing::warn!(
                "no access token exists: the service runs OPEN to anyone on this machine (create one with `territory token create --role admin --name NAME`)"
            );
            eprintln!("warning: no access token exists; the service runs open on loopback");
        } else {
            anyhow::bail!(
                "refusing to listen on {} without an access token: create one first with `territory token create --role admin --name NAME --db {}`",
                args.listen,
                args.db.db.display()
            );
        }
    }
    if !args.no_seed {
        crate::app::seed::seed(&app, &args.data, !args.no_seed_demand).await?;
    }
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, db = %args.db.db.display(), "territory listening");
    println!("listening on http://{addr}");
    let options = http::ServeOptions {
        map: http::web::MapConfig { basemap: args.basemap.clone() },
        auth: http::auth::AuthConfig { loopback: args.listen.ip().is_loopback() },
    };
    let limits = HttpLimits {
        max_body_bytes: args.max_body_bytes,
        request_timeout: std::time::Duration::from_secs_f64(args.request_timeout_secs),
        max_concurrent: args.max_concurrent,
        max_import_features: args.max_import_features,
    };
    let router = http::router_with(Arc::new(app), limits, options);
    http::serve(listener, router, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}
