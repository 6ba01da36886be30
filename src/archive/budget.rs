//! An I/O budget for the fixity scrubber: a token bucket of bytes per second, so that
//! re-reading years of objects leaves the disks to the readers who came for them.
//!
//! The bucket holds at most one second's worth of bytes (the burst) and is kept as the
//! "theoretical arrival time" of GCRA: the instant at which the bytes taken so far are paid
//! for. Taking `n` bytes moves it `n / rate` later; a taker sleeps until it is no later than
//! now. A take larger than the burst is allowed and paid for by the sleep. The time source is a
//! [`Clock`], so that tests run on a fake one.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where a [`Budget`] reads the time and how it waits.
pub trait Clock: Send + Sync {
    /// The time elapsed since some fixed instant of this clock's choosing (monotonic).
    fn now(&self) -> Duration;
    /// Waits for `d`.
    fn sleep(&self, d: Duration);
}

/// The real clock: [`Instant`] and [`std::thread::sleep`].
#[derive(Debug)]
pub struct SystemClock {
    start: Instant,
}

impl Default for SystemClock {
    fn default() -> Self {
        Self {
            start: Instant::now(),
        }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// How long the bucket may fill: one second's worth of bytes.
const BURST: Duration = Duration::from_secs(1);

/// A rate limit in bytes per second, shared by threads.
pub struct Budget {
    /// Bytes per second (`None`: unthrottled).
    rate: Option<u64>,
    clock: Box<dyn Clock>,
    /// When the bytes taken so far are paid for, in nanoseconds of `clock` (`None`: nothing
    /// taken yet, the bucket is full).
    paid_at: Mutex<Option<i128>>,
}

impl std::fmt::Debug for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budget")
            .field("bytes_per_sec", &self.rate)
            .finish_non_exhaustive()
    }
}

impl Budget {
    /// A budget of `bytes_per_sec` on the real clock (`None`, or `Some(0)`: unthrottled).
    pub fn new(bytes_per_sec: Option<u64>) -> Self {
        Self::with_clock(bytes_per_sec, Box::new(SystemClock::default()))
    }

    /// A budget of `bytes_per_sec` on `clock`.
    pub fn with_clock(bytes_per_sec: Option<u64>, clock: Box<dyn Clock>) -> Self {
        Self {
            rate: bytes_per_sec.filter(|r| *r > 0),
            clock,
            paid_at: Mutex::new(None),
        }
    }

    /// No limit.
    pub fn unlimited() -> Self {
        Self::new(None)
    }

    /// The rate, in bytes per second (`None`: unthrottled).
    pub fn bytes_per_sec(&self) -> Option<u64> {
        self.rate
    }

    /// Takes `n` bytes from the budget, sleeping until they are allowed.
    pub fn take(&self, n: u64) {
        let Some(rate) = self.rate else { return };
        let now = nanos(self.clock.now());
        let wait = {
            // The state is one number, always valid: a poisoned lock is still good.
            let mut paid_at = self.paid_at.lock().unwrap_or_else(|p| p.into_inner());
            // An idle bucket refills, up to the burst.
            let start = paid_at.map_or(i128::MIN, |p| p).max(now - nanos(BURST));
            let cost = i128::from(n) * 1_000_000_000 / i128::from(rate);
            let end = start + cost;
            *paid_at = Some(end);
            end - now
        };
        if wait > 0 {
            // At most u64::MAX bytes at 1 B/s: about 584 years of nanoseconds, within u64.
            self.clock.sleep(Duration::from_nanos(
                u64::try_from(wait).unwrap_or(u64::MAX),
            ));
        }
    }
}

fn nanos(d: Duration) -> i128 {
    i128::try_from(d.as_nanos()).unwrap_or(i128::MAX)
}

/// A clock that only moves when told to, or when someone sleeps on it (for tests).
#[cfg(test)]
#[derive(Default)]
pub(crate) struct FakeClock {
    now: Mutex<Duration>,
    slept: Mutex<Vec<Duration>>,
}

#[cfg(test)]
impl FakeClock {
    /// A clock far from zero, as a real monotonic clock would be, shared with a budget of
    /// `rate` on it.
    pub(crate) fn budget(rate: Option<u64>) -> (Budget, std::sync::Arc<FakeClock>) {
        let clock = std::sync::Arc::new(FakeClock::default());
        clock.advance(Duration::from_secs(1000));
        (Budget::with_clock(rate, Box::new(clock.clone())), clock)
    }

    /// Moves the time on.
    pub(crate) fn advance(&self, d: Duration) {
        *self.now.lock().unwrap() += d;
    }

    /// The sleeps since the last call.
    pub(crate) fn slept(&self) -> Vec<Duration> {
        std::mem::take(&mut *self.slept.lock().unwrap())
    }
}

#[cfg(test)]
impl Clock for std::sync::Arc<FakeClock> {
    fn now(&self) -> Duration {
        *self.now.lock().unwrap()
    }
    fn sleep(&self, d: Duration) {
        self.slept.lock().unwrap().push(d);
        self.advance(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn budget(rate: Option<u64>) -> (Budget, Arc<FakeClock>) {
        FakeClock::budget(rate)
    }

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_full_bucket_gives_one_second_at_once_then_the_rate() {
        let (b, clock) = budget(Some(1000));
        b.take(600);
        b.take(400);
        assert!(clock.slept().is_empty(), "the burst is free");
        b.take(500);
        assert_eq!(clock.slept(), [500 * MS]);
        b.take(1);
        assert_eq!(clock.slept(), [MS]);
    }

    #[test]
    fn an_idle_bucket_refills_to_one_second_only() {
        let (b, clock) = budget(Some(1000));
        b.take(1000);
        clock.advance(Duration::from_secs(3600));
        b.take(1000);
        assert!(clock.slept().is_empty());
        b.take(250);
        assert_eq!(
            clock.slept(),
            [250 * MS],
            "an hour idle saves one second only"
        );
        clock.advance(100 * MS);
        b.take(100);
        assert!(clock.slept().is_empty(), "100 ms refilled 100 bytes");
        b.take(100);
        assert_eq!(clock.slept(), [100 * MS]);
    }

    #[test]
    fn a_take_larger_than_the_burst_is_paid_for_by_sleeping() {
        let (b, clock) = budget(Some(1 << 20));
        b.take(5 << 20);
        assert_eq!(clock.slept(), [Duration::from_secs(4)]);
        b.take(1 << 20);
        assert_eq!(clock.slept(), [Duration::from_secs(1)]);
    }

    #[test]
    fn over_many_takes_the_rate_is_kept() {
        let (b, clock) = budget(Some(10 << 20));
        let start = clock.now();
        let total: u64 = 200 << 20;
        for _ in 0..200 {
            b.take(1 << 20);
        }
        let elapsed = clock.now() - start;
        // 200 MiB at 10 MiB/s, the first 10 MiB free: 19 s.
        assert_eq!(elapsed, Duration::from_secs(19), "{total} bytes");
    }

    #[test]
    fn threads_share_one_budget() {
        let (b, clock) = budget(Some(1000));
        let b = Arc::new(b);
        let start = clock.now();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let b = b.clone();
                std::thread::spawn(move || (0..10).for_each(|_| b.take(100)))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        // 4000 bytes at 1000 B/s, 1000 free: every sleep was on a shared account, so the
        // clock moved by at least 3 s (sleeps overlap on a real clock; on this one they add).
        assert!(clock.now() - start >= Duration::from_secs(3));
        let slept: Duration = clock.slept().iter().sum();
        assert!(slept >= Duration::from_secs(3), "{slept:?}");
    }

    #[test]
    fn unthrottled_never_sleeps() {
        for rate in [None, Some(0)] {
            let (b, clock) = budget(rate);
            for _ in 0..1000 {
                b.take(u64::MAX);
            }
            assert!(clock.slept().is_empty());
            assert_eq!(b.bytes_per_sec(), None);
        }
    }
}
