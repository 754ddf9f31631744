//! A request body must keep coming: a client that announces a body and sends it a byte at
//! a time would hold a request slot for as long as it likes. After a grace period, the
//! bytes so far must have come at `min_bytes_per_sec` on average, or the body fails (the
//! handler reading it answers 400 and writes nothing) and the slot is free again.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// How fast a request body must come.
#[derive(Debug, Clone, Copy)]
pub struct BodyRate {
    /// Time any body may take before the rate counts.
    pub grace: Duration,
    /// Least average rate after it, bytes a second.
    pub min_bytes_per_sec: u64,
}

impl Default for BodyRate {
    fn default() -> Self {
        BodyRate { grace: Duration::from_secs(10), min_bytes_per_sec: 16 * 1024 }
    }
}

/// The middleware: wraps every request body in a [`SteadyBody`] with the router's [`BodyRate`].
pub async fn steady_bodies(req: Request, next: Next) -> Response {
    let rate = req.extensions().get::<BodyRate>().copied().unwrap_or_default();
    next.run(req.map(|body| Body::new(SteadyBody::new(body, rate)))).await
}

/// A body that fails when it comes slower than its [`BodyRate`].
struct SteadyBody {
    inner: Body,
    rate: BodyRate,
    started: Instant,
    received: u64,
    /// Set once the body first keeps the reader waiting (a body already in never does).
    deadline: Option<Pin<Box<Sleep>>>,
}

impl SteadyBody {
    fn new(inner: Body, rate: BodyRate) -> SteadyBody {
        SteadyBody { inner, rate, started: Instant::now(), received: 0, deadline: None }
    }

    /// When the next bytes are due: the grace, plus the time the bytes so far may take.
    fn due(&self) -> Instant {
        let allowed = Duration::from_secs_f64(self.received as f64 / self.rate.min_bytes_per_sec.max(1) as f64);
        self.started + self.rate.grace + allowed
    }
}

impl http_body::Body for SteadyBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    let due = this.due();
                    if let Some(deadline) = this.deadline.as_mut() {
                        deadline.as_mut().reset(due);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                let due = this.due();
                match this.deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due))).as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        let detail = format!(
                            "the request body came too slowly: {} bytes in {:.1} s; after {} s a body must come at {} bytes/s at least",
                            this.received,
                            this.started.elapsed().as_secs_f64(),
                            this.rate.grace.as_secs(),
                            this.rate.min_bytes_per_sec
                        );
                        Poll::Ready(Some(Err(axum::Error::new(detail))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
