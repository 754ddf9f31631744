//! When a request is let in to work. Its body is received first, outside any slot: at the
//! pace [`super::body_rate`] demands, within a byte budget of its client's and one of all.
//! Only then does it take a slot (one of its client's, one of all) and its time start, so
//! that slots are for work, never for waiting on a client. A streamed upload, whose reading
//! is its work, takes one of the few upload slots instead and never holds the API's.
//!
//! A client is its token, or its address when it has none. Every limit answers 503 with
//! Retry-After at once: nothing queues.

use crate::error::Error;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How many requests, uploads and body bytes are let in.
#[derive(Debug, Clone, Copy)]
pub struct AdmissionLimits {
    /// Requests at work at most, in all and from one client.
    pub work: Share,
    /// Streamed uploads (`PUT /networks/{net}/demand`) being read at most.
    pub uploads: Share,
    /// Bytes of request bodies being received or held at most.
    pub body_bytes: Share,
    /// Largest body of a request that is received first, bytes.
    pub max_body_bytes: usize,
    /// Longest a request may work once let in.
    pub timeout: Duration,
}

/// A limit in all and the part of it one client may have.
#[derive(Debug, Clone, Copy)]
pub struct Share {
    /// The limit in all.
    pub total: usize,
    /// The most one client may have of it.
    pub per_client: usize,
}

/// The pools requests are let in from; one per router, shared by its requests.
#[derive(Debug, Clone)]
pub struct Admission(Arc<Pools>);

#[derive(Debug)]
struct Pools {
    work: Pool,
    uploads: Pool,
    body_bytes: Pool,
    max_body_bytes: usize,
    timeout: Duration,
}

impl Admission {
    /// Empty pools of these sizes.
    pub fn new(limits: AdmissionLimits) -> Admission {
        Admission(Arc::new(Pools {
            work: Pool::new(limits.work),
            uploads: Pool::new(limits.uploads),
            body_bytes: Pool::new(limits.body_bytes),
            max_body_bytes: limits.max_body_bytes,
            timeout: limits.timeout,
        }))
    }

    /// The body of `req`, received whole within the client's byte budget, with the budget
    /// it holds (given back when the request is done).
    async fn receive(&self, client: u64, req: Request) -> Result<(Request, Taken), Error> {
        use http_body_util::BodyExt;
        let max = self.0.max_body_bytes;
        let too_large = || Error::TooLarge(format!("the request body is larger than the limit of {} bytes", max));
        let announced = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
        if announced.is_some_and(|n| n > max) {
            return Err(too_large());
        }
        // An announced length is held at once, so that a client cannot start more bodies
        // than its budget holds and then starve them all.
        let mut held = self.0.body_bytes.take(client, announced.unwrap_or(0)).map_err(|full| full.busy("bytes of request bodies"))?;
        let (parts, mut body) = req.into_parts();
        let mut buffer = bytes::BytesMut::with_capacity(announced.unwrap_or(0));
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| Error::BadRequest(format!("the request body could not be read: {e}")))?;
            let Ok(data) = frame.into_data() else { continue };
            if buffer.len() + data.len() > max {
                return Err(too_large());
            }
            if buffer.len() + data.len() > held.count {
                let more = self.0.body_bytes.take(client, buffer.len() + data.len() - held.count).map_err(|full| full.busy("bytes of request bodies"))?;
                held.merge(more);
            }
            buffer.extend_from_slice(&data);
        }
        let body: Bytes = buffer.freeze();
        Ok((Request::from_parts(parts, Body::from(body)), held))
    }
}

/// The middleware, inside [`super::auth::authenticate`]: receives the body, takes a slot,
/// then runs the request under its deadline (503 after it).
pub async fn admit(req: Request, next: Next) -> Response {
    let Some(admission) = req.extensions().get::<Admission>().cloned() else { return next.run(req).await };
    let client = client_key(&req);
    let (req, _body_bytes, pool, what) = if is_streamed(&req) {
        (req, None, &admission.0.uploads, "uploads")
    } else {
        match admission.receive(client, req).await {
            Ok((req, held)) => (req, Some(held), &admission.0.work, "requests"),
            Err(e) => return e.into_response(),
        }
    };
    let _slot = match pool.take(client, 1) {
        Ok(slot) => slot,
        Err(full) => return full.busy(what).into_response(),
    };
    let timeout = admission.0.timeout;
    let deadline = std::time::Instant::now() + timeout;
    match tokio::time::timeout(timeout, crate::budget::scope(deadline, next.run(req))).await {
        Ok(res) => res,
        Err(_) => Error::Busy {
            detail: format!("the request took longer than {} s and was stopped; nothing it started was kept", timeout.as_secs_f64()),
            retry_after: 5,
        }
        .into_response(),
    }
}

/// Whether the route reads its body as a stream, as its work (the demand upload).
fn is_streamed(req: &Request) -> bool {
    let route = req.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
    req.method() == Method::PUT && route == Some(super::scoring::DEMAND_ROUTE)
}

/// The client a request comes from: a hash of its token, else of its address.
fn client_key(req: &Request) -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    static KEYS: std::sync::OnceLock<std::collections::hash_map::RandomState> = std::sync::OnceLock::new();
    let mut h = KEYS.get_or_init(Default::default).build_hasher();
    match super::auth::bearer(req) {
        Some(token) => token.hash(&mut h),
        None => req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip()).hash(&mut h),
    }
    h.finish()
}

/// Units (requests, or bytes) shared by all clients, each client having at most its share.
#[derive(Debug)]
struct Pool {
    all: Arc<Semaphore>,
    share: Share,
    clients: Mutex<HashMap<u64, Arc<Semaphore>>>,
}

/// Units taken from a [`Pool`], given back when dropped.
#[derive(Debug)]
struct Taken {
    count: usize,
    _client: Option<OwnedSemaphorePermit>,
    _all: Option<OwnedSemaphorePermit>,
    more: Vec<Taken>,
}

impl Taken {
    /// Holds `other` too, until this is dropped.
    fn merge(&mut self, other: Taken) {
        self.count += other.count;
        self.more.push(other);
    }
}

/// Which limit a [`Pool`] would have gone past.
#[derive(Debug, Clone, Copy)]
enum Full {
    /// The client's share.
    Client(usize),
    /// The pool's total.
    All(usize),
}

impl Full {
    /// The 503 that says so, for a pool of `what`.
    fn busy(self, what: &str) -> Error {
        let detail = match self {
            Full::Client(n) => format!("this client has {n} {what} in flight, the most one client may; try again shortly"),
            Full::All(n) => format!("the service has {n} {what} in flight, the most it takes; try again shortly"),
        };
        Error::Busy { detail, retry_after: 1 }
    }
}

impl Pool {
    fn new(share: Share) -> Pool {
        let total = share.total.min(Semaphore::MAX_PERMITS);
        Pool { all: Arc::new(Semaphore::new(total)), share: Share { total, per_client: share.per_client.min(total) }, clients: Mutex::default() }
    }

    /// `n` units for `client`, if its share and the pool both have them.
    fn take(&self, client: u64, n: usize) -> Result<Taken, Full> {
        if n == 0 {
            return Ok(Taken { count: 0, _client: None, _all: None, more: Vec::new() });
        }
        let units = u32::try_from(n).map_err(|_| Full::Client(self.share.per_client))?;
        let own = self.client(client).try_acquire_many_owned(units).map_err(|_| Full::Client(self.share.per_client))?;
        let all = self.all.clone().try_acquire_many_owned(units).map_err(|_| Full::All(self.share.total))?;
        Ok(Taken { count: n, _client: Some(own), _all: Some(all), more: Vec::new() })
    }

    /// The share of `client`.
    fn client(&self, client: u64) -> Arc<Semaphore> {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if clients.len() > 10_000 {
            // Forget the clients with nothing in flight.
            clients.retain(|_, s| s.available_permits() < self.share.per_client);
        }
        clients.entry(client).or_insert_with(|| Arc::new(Semaphore::new(self.share.per_client))).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_takes_its_share_and_no_more_and_others_keep_theirs() {
        let pool = Pool::new(Share { total: 5, per_client: 3 });
        let held: Vec<Taken> = (0..3).map(|_| pool.take(1, 1).expect("within the share")).collect();
        assert!(matches!(pool.take(1, 1), Err(Full::Client(3))));
        let other = pool.take(2, 2).expect("another client's share");
        assert!(matches!(pool.take(3, 1), Err(Full::All(5))));
        drop(held);
        drop(other);
        assert_eq!(pool.take(1, 3).expect("given back").count, 3);
    }

    #[test]
    fn merged_units_are_given_back_together() {
        let pool = Pool::new(Share { total: 10, per_client: 10 });
        let mut held = pool.take(1, 4).expect("4");
        held.merge(pool.take(1, 5).expect("5"));
        assert_eq!(held.count, 9);
        assert!(pool.take(1, 2).is_err());
        drop(held);
        assert!(pool.take(1, 10).is_ok());
    }
}
