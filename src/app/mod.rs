//! The application layer: one service per concern, composed in [`App`]. The front ends
//! (HTTP, CLI) call these services with the [`Caller`](crate::domain::access::Caller) who
//! asks; each service checks what the caller may do where it acts, builds its answer for
//! what the caller may see, and is the only code that touches the store.
//!
//! - [`access`]: tokens, and who a request's token makes its caller.
//! - [`catalog`]: regions, networks, partners (cached; the database consulted on a miss).
//! - [`ledger`]: the grant index, its sync with the database, the one write-transaction
//!   protocol, and propose / check / grant / revoke / conflicts / batch checks.
//! - [`outlets`]: outlets placed by the territory rule, created, updated, closed, imported.
//! - [`demand`]: demand grids, uploaded, synthesised or built from registrations.
//! - [`sales`]: the network's observed sales; [`model`]: the scoring model in force and
//!   its fitted versions (calibration, history, rollback).
//! - [`scoring`]: scenarios, scores and plans, and each caller's last scoring run.
//! - [`compliance`]: the network against its standard.
//! - [`gis`]: every layer as exports, OGC API collections and vector tiles, with its cache.
//! - [`seed`]: the bundled sample data for a fresh database.

pub mod access;
pub mod catalog;
pub mod compliance;
pub mod demand;
pub mod gis;
pub mod ledger;
pub mod model;
pub mod outlets;
pub mod partners;
pub mod sales;
pub mod scoring;
pub mod seed;

use crate::budget;
use crate::error::Result;
use crate::geometry::GeometryLimits;
use crate::store::Store;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The application: its services, sharing one store.
#[derive(Debug)]
pub struct App {
    /// Tokens and callers.
    pub access: access::Access,
    /// Regions, networks, partners.
    pub catalog: Arc<catalog::Catalog>,
    /// Grants and the exclusivity rule.
    pub ledger: Arc<ledger::Ledger>,
    /// Outlets.
    pub outlets: Arc<outlets::Outlets>,
    /// Partners' records: renames, contacts, suspensions, terminations.
    pub partners: partners::Partners,
    /// Demand grids.
    pub demand: Arc<demand::Demand>,
    /// Observed sales.
    pub sales: sales::Sales,
    /// Versions of each network's scoring model.
    pub models: Arc<model::Models>,
    /// Scores and plans.
    pub scoring: Arc<scoring::Scoring>,
    /// Compliance reports.
    pub compliance: compliance::Compliance,
    /// GIS layers.
    pub gis: gis::Gis,
    store: Store,
}

impl App {
    /// Opens (creating and migrating if needed) the database file at `path`. The caches
    /// (regions, the grant index) fill on first use, so a command that needs neither (a
    /// token listing) starts at once; a service warms them first ([`App::warm`]).
    pub async fn open(path: &Path, limits: GeometryLimits) -> Result<App> {
        App::on(Store::open(path).await?, limits).await
    }

    /// The application on an open store.
    pub async fn on(store: Store, limits: GeometryLimits) -> Result<App> {
        let catalog = Arc::new(catalog::Catalog::new(store.clone()));
        let ledger = Arc::new(ledger::Ledger::new(store.clone(), catalog.clone(), limits));
        let outlets = Arc::new(outlets::Outlets::new(store.clone(), catalog.clone(), ledger.clone()));
        let demand = Arc::new(demand::Demand::new(store.clone(), catalog.clone()));
        let models = Arc::new(model::Models::new(store.clone(), catalog.clone(), demand.clone()));
        let scoring = Arc::new(scoring::Scoring::new(store.clone(), catalog.clone(), ledger.clone(), demand.clone(), models.clone()));
        let compliance = compliance::Compliance::new(store.clone(), catalog.clone(), ledger.clone(), scoring.clone());
        let gis = gis::Gis::new(store.clone(), catalog.clone(), ledger.clone(), demand.clone());
        let sales = sales::Sales::new(store.clone(), catalog.clone());
        let partners = partners::Partners::new(store.clone(), catalog.clone(), ledger.clone());
        Ok(App { access: access::Access::new(store.clone()), catalog, ledger, outlets, partners, demand, sales, models, scoring, compliance, gis, store })
    }

    /// Reads the regions and builds the grant index now, so that the first request does
    /// not pay for it.
    pub async fn warm(&self) -> Result<()> {
        self.ledger.reload().await
    }

    /// Writes a consistent copy of the database to the new file `to`, while this and other
    /// processes keep using it (`Store::backup`). Admins with no scope.
    pub async fn backup(&self, caller: &crate::domain::access::Caller, to: &Path) -> Result<u64> {
        caller.governs_all()?;
        self.store.backup(to).await
    }

    /// The store, for tests and benchmarks that look at the database directly. The front
    /// ends never use it (ARCHITECTURE.md; `tests/integration/architecture.rs` checks).
    #[doc(hidden)]
    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// The reason of a revoke or a close, within the length limit (422 at `/reason` beyond).
pub fn check_reason(reason: &str) -> Result<()> {
    match crate::input::too_long("/reason", reason, crate::input::MAX_NOTE_CHARS) {
        Some(e) => Err(crate::error::Error::Invalid(vec![e])),
        None => Ok(()),
    }
}

/// Runs CPU work off the async threads, on the CPU pool ([`cpu_slot`]) and within the
/// request's deadline ([`crate::budget`]): work that runs out of time stops and is a 503.
pub async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let deadline = budget::of_task();
    let slot = cpu_slot(deadline).await?;
    let out = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        budget::run(deadline, work)
    })
    .await?;
    Ok(out?)
}

/// Runs work that reads a stream (an upload as it comes) on a thread of its own, within
/// the request's deadline but not on the CPU pool: it waits for the client mostly.
pub async fn reading<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let deadline = budget::of_task();
    Ok(tokio::task::spawn_blocking(move || budget::run(deadline, work)).await??)
}

/// Work on at most this much input (a district's GeoJSON is ~14 KB, a city's up to
/// ~200 KB) runs on the request's own thread ([`cpu_unless_light`]).
pub const INLINE_INPUT_BYTES: usize = 256 * 1024;

/// [`cpu`] for work that may be light: light work runs right here, where a thread
/// hand-off would cost more than the work.
pub async fn cpu_unless_light<T>(light: bool, work: impl FnOnce() -> T) -> Result<T> {
    if light { Ok(work()) } else { cpu(work).await }
}

/// [`blocking`] for work that borrows: on this thread, after handing the async work
/// queued here to another ([`tokio::task::block_in_place`]; inline on a single-threaded
/// runtime, which only tests and the CLI use).
pub async fn cpu<T>(work: impl FnOnce() -> T) -> Result<T> {
    let deadline = budget::of_task();
    let _slot = cpu_slot(deadline).await?;
    let run = || budget::run(deadline, work);
    let out = match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::CurrentThread => run(),
        _ => tokio::task::block_in_place(run),
    };
    Ok(out?)
}

/// A place on the CPU pool: as many as the machine has cores, so CPU work queues for a
/// core instead of crowding the async threads out, until the request's deadline.
async fn cpu_slot(deadline: Option<std::time::Instant>) -> Result<tokio::sync::OwnedSemaphorePermit> {
    static POOL: std::sync::OnceLock<Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
    let pool = POOL.get_or_init(|| Arc::new(tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())))).clone();
    let acquire = pool.acquire_owned();
    let permit = match deadline {
        Some(at) => tokio::time::timeout_at(at.into(), acquire).await.map_err(|_| budget::OutOfTime)?,
        None => acquire.await,
    };
    permit.map_err(|_| crate::Error::Internal("the CPU pool is closed".into()))
}

/// Locks a mutex; a panic of another holder leaves data that is still whole (every
/// critical section here replaces values, never half-writes them), so poisoning is ignored.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reads under a lock (see [`lock`] on poisoning).
pub(crate) fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

/// Writes under a lock (see [`lock`] on poisoning).
pub(crate) fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}
