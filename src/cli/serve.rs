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
    /// Most rings (exteriors and holes of all parts) in one input geometry.
    #[arg(long, default_value_t = GeometryLimits::default().max_rings)]
    pub max_rings: usize,
    /// Longest a request may run, seconds (then 503 with Retry-After).
    #[arg(long, default_value_t = HttpLimits::default().request_timeout.as_secs_f64())]
    pub request_timeout_secs: f64,
    /// Requests in flight at most (more get 503 with Retry-After).
    #[arg(long, default_value_t = HttpLimits::default().max_concurrent)]
    pub max_concurrent: usize,
    /// Requests in flight at most from one client (a token, or an address without one).
    #[arg(long, default_value_t = HttpLimits::default().max_concurrent_per_client)]
    pub max_concurrent_per_client: usize,
    /// Bytes of request bodies being received or held at most (more get 503 with Retry-After).
    #[arg(long, default_value_t = HttpLimits::default().max_body_bytes_in_flight)]
    pub max_body_bytes_in_flight: usize,
    /// Bytes of request bodies being received or held at most from one client.
    #[arg(long, default_value_t = HttpLimits::default().max_body_bytes_in_flight_per_client)]
    pub max_body_bytes_in_flight_per_client: usize,
    /// Demand uploads being read at most (more get 503 with Retry-After).
    #[arg(long, default_value_t = HttpLimits::default().max_uploads)]
    pub max_uploads: usize,
    /// Demand uploads being read at most from one client.
    #[arg(long, default_value_t = HttpLimits::default().max_uploads_per_client)]
    pub max_uploads_per_client: usize,
    /// Time any request body may take before its rate counts, seconds.
    #[arg(long, default_value_t = HttpLimits::default().body_rate.grace.as_secs_f64())]
    pub body_grace_secs: f64,
    /// Least average rate of a request body after the grace, bytes a second (slower: 400).
    #[arg(long, default_value_t = HttpLimits::default().body_rate.min_bytes_per_sec)]
    pub min_body_bytes_per_sec: u64,
    /// Connections open at once at most (more wait until one closes).
    #[arg(long, default_value_t = http::ConnectionLimits::default().max_connections)]
    pub max_connections: usize,
    /// Longest a client may take to send a request's headers, seconds; an idle keep-alive
    /// connection is closed after it too.
    #[arg(long, default_value_t = http::ConnectionLimits::default().header_timeout.as_secs_f64())]
    pub header_timeout_secs: f64,
    /// Most features one request or import may bring (demand cells, candidates, outlets).
    #[arg(long, default_value_t = HttpLimits::default().max_import_features)]
    pub max_import_features: usize,
    /// The URL clients reach the service at, the base of the links it writes (OGC API,
    /// TileJSON), e.g. `https://gis.example.com/territory` behind a proxy; default: the
    /// listen address.
    #[arg(long, env = "TERRITORY_PUBLIC_URL", value_parser = http::PublicUrl::parse)]
    pub public_url: Option<http::PublicUrl>,
    /// Serve without tokens (as admin to anyone on this machine): loopback only, and only on
    /// a database that never had a token. Without it every API request needs a token.
    #[arg(long)]
    pub open: bool,
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
    let limits = GeometryLimits { max_vertices: args.max_vertices, max_rings: args.max_rings };
    let app = App::open(&args.db.db, limits).await?;
    app.warm().await?;
    let had_tokens = app.access.any_ever().await?;
    if args.open {
        if !args.listen.ip().is_loopback() {
            anyhow::bail!("--open serves without tokens on a loopback address only, not on {}", args.listen);
        }
        if had_tokens {
            anyhow::bail!(
                "--open: this database has had access tokens, and a service that had tokens never runs open (even with all of them revoked); call it with a token (`territory token create --db {}`)",
                args.db.db.display()
            );
        }
        tracing::warn!("--open: the service runs OPEN, as admin, to anyone on this machine, until a token is made");
        eprintln!("warning: --open: the service runs open on loopback (anyone on this machine is admin) until a token is made");
    } else if !had_tokens {
        eprintln!(
            "note: every request needs an access token, and none exists yet: make one with `territory token create --role admin --name NAME --db {}` (or try the service on this machine with `serve --open`)",
            args.db.db.display()
        );
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
        auth: http::auth::AuthConfig { open: args.open },
        public_url: match &args.public_url {
            Some(url) => url.clone(),
            None => http::PublicUrl::parse(&format!("http://{addr}")).map_err(anyhow::Error::msg)?,
        },
    };
    let limits = HttpLimits {
        max_body_bytes: args.max_body_bytes,
        request_timeout: std::time::Duration::from_secs_f64(args.request_timeout_secs),
        max_concurrent: args.max_concurrent,
        max_concurrent_per_client: args.max_concurrent_per_client,
        max_body_bytes_in_flight: args.max_body_bytes_in_flight,
        max_body_bytes_in_flight_per_client: args.max_body_bytes_in_flight_per_client,
        max_uploads: args.max_uploads,
        max_uploads_per_client: args.max_uploads_per_client,
        body_rate: http::body_rate::BodyRate {
            grace: std::time::Duration::from_secs_f64(args.body_grace_secs),
            min_bytes_per_sec: args.min_body_bytes_per_sec,
        },
        max_import_features: args.max_import_features,
    };
    let router = http::router_with(Arc::new(app), limits, options);
    let connections = http::ConnectionLimits {
        max_connections: args.max_connections,
        header_timeout: std::time::Duration::from_secs_f64(args.header_timeout_secs),
        ..http::ConnectionLimits::default()
    };
    http::serve(listener, router, shutdown_signal(), connections).await?;
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
