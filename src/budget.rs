//! The time a request may spend on CPU work. The HTTP layer gives each request a deadline
//! ([`scope`]); the application runs CPU work under it ([`run`], called by
//! `app::cpu`); long loops ask [`check`] (or a [`Deadline`] carried into rayon's
//! threads) now and then, and once the deadline has passed the work unwinds with
//! [`OutOfTime`] to [`run`], which returns it as a value. This is cooperative
//! cancellation as salsa and rust-analyzer do it: the unwinding payload is not a panic
//! message (`resume_unwind` skips the panic hook), and nothing is written before the CPU
//! work ends, so stopping it leaves nothing half-done. A bottom layer: it imports nothing
//! of the crate.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::time::Instant;

/// The work ran out of time and was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfTime;

thread_local! {
    /// The deadline of the work running on this thread, if any.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

tokio::task_local! {
    /// The deadline of the request served by this task.
    static REQUEST_DEADLINE: Instant;
}

/// Runs `fut` (a request's handling) with `deadline` for the CPU work it starts.
pub async fn scope<F: Future>(deadline: Instant, fut: F) -> F::Output {
    REQUEST_DEADLINE.scope(deadline, fut).await
}

/// The deadline of the request this task serves (`None` outside a request: the CLI).
pub fn of_task() -> Option<Instant> {
    REQUEST_DEADLINE.try_with(|d| *d).ok()
}

/// A deadline to carry into threads that do not inherit this one's (rayon's workers).
#[derive(Debug, Clone, Copy, Default)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// The deadline of the work on this thread.
    pub fn current() -> Deadline {
        Deadline(DEADLINE.get())
    }

    /// Unwinds with [`OutOfTime`] if the deadline has passed. About 20 ns: call it per
    /// item of work worth a microsecond or more, not per pair of edges.
    pub fn check(self) {
        if let Some(deadline) = self.0
            && Instant::now() >= deadline
        {
            resume_unwind(Box::new(OutOfTime));
        }
    }
}

/// Unwinds with [`OutOfTime`] if the deadline of the work on this thread has passed.
pub fn check() {
    Deadline::current().check();
}

/// Runs `work` on this thread under `deadline`: `Err(OutOfTime)` if a check found it
/// passed (on this thread or on a rayon thread the work joined). Other panics go on.
pub fn run<T>(deadline: Option<Instant>, work: impl FnOnce() -> T) -> Result<T, OutOfTime> {
    let outer = DEADLINE.replace(deadline);
    let result = catch_unwind(AssertUnwindSafe(work));
    DEADLINE.set(outer);
    match result {
        Ok(value) => Ok(value),
        Err(payload) if payload.is::<OutOfTime>() => Err(OutOfTime),
        Err(payload) => resume_unwind(payload),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn work_past_its_deadline_stops_at_the_next_check() {
        let deadline = Instant::now() + Duration::from_millis(20);
        let rounds = std::cell::Cell::new(0u64);
        let out = run(Some(deadline), || {
            loop {
                rounds.set(rounds.get() + 1);
                std::thread::sleep(Duration::from_millis(1));
                check();
            }
        });
        assert_eq!(out, Err::<(), _>(OutOfTime));
        assert!((10..200).contains(&rounds.get()), "{} rounds", rounds.get());
        // The thread's deadline is put back: later work is not stopped.
        check();
    }

    #[test]
    fn work_without_a_deadline_runs_to_its_end_and_other_panics_go_on() {
        assert_eq!(run(None, || 7), Ok(7));
        assert_eq!(run(Some(Instant::now()), || 8), Ok(8), "no check, no stop");
        let panicked = catch_unwind(|| run(None, || panic!("a bug")));
        assert!(panicked.is_err());
    }

    #[test]
    fn a_deadline_carried_into_rayon_stops_the_work_there() {
        use rayon::prelude::*;
        let out = run(Some(Instant::now()), || {
            let deadline = Deadline::current();
            (0..1000).into_par_iter().for_each(|_| deadline.check());
        });
        assert_eq!(out, Err(OutOfTime));
    }
}
