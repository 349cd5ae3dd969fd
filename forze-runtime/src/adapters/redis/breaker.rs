//! The circuit breaker every Redis call passes: after `failures` consecutive calls that found
//! the server unreachable or silent, calls fail at once (no socket, no timeout) instead of each
//! waiting out `socket_timeout`; one call per `probe_interval` goes through as a probe, and the
//! first success closes the breaker again.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::error::{BackendError, BackendErrorKind};

/// The circuit breaker's settings (on by default).
///
/// ```
/// use std::time::Duration;
/// use forze_runtime::adapters::redis::BreakerConfig;
/// let b = BreakerConfig::default();
/// assert_eq!((b.failures, b.probe_interval), (5, Duration::from_millis(200)));
/// let off = BreakerConfig::disabled();
/// assert!(!off.enabled);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Whether calls fail fast while the backend is known to be down.
    pub enabled: bool,
    /// Consecutive unavailability failures (timeouts, refused or dropped connections) that open
    /// the breaker (default 5).
    pub failures: u32,
    /// How often, while open, one call goes through to probe the backend (default 200 ms).
    pub probe_interval: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            failures: 5,
            probe_interval: Duration::from_millis(200),
        }
    }
}

impl BreakerConfig {
    /// A breaker that never opens: every call waits for the backend (up to `socket_timeout`).
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }
}

/// Whether a call may go to the backend, and as what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ticket {
    /// The breaker is closed.
    Closed,
    /// The breaker is open and this call probes the backend.
    Probe,
}

/// The breaker's state as `health()` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BreakerState {
    Closed,
    Open,
}

pub(super) struct Breaker {
    config: BreakerConfig,
    /// Consecutive unavailability failures.
    failures: AtomicU32,
    /// When the next probe may go, in µs since [`epoch`].
    next_probe_us: AtomicU64,
}

/// A fixed point in this process's monotonic time.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_us() -> u64 {
    epoch().elapsed().as_micros() as u64
}

impl Breaker {
    pub(super) fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            failures: AtomicU32::new(0),
            next_probe_us: AtomicU64::new(0),
        }
    }

    fn is_open(&self) -> bool {
        self.config.enabled && self.failures.load(Ordering::Relaxed) >= self.config.failures
    }

    pub(super) fn state(&self) -> BreakerState {
        if self.is_open() {
            BreakerState::Open
        } else {
            BreakerState::Closed
        }
    }

    /// Lets a call through, or fails it at once while the breaker is open (but for one probe
    /// per interval).
    pub(super) fn admit(&self) -> Result<Ticket, BackendError> {
        if !self.is_open() {
            return Ok(Ticket::Closed);
        }
        let now = now_us();
        let next = self.next_probe_us.load(Ordering::Relaxed);
        let interval = self.config.probe_interval.as_micros() as u64;
        if now >= next
            && self
                .next_probe_us
                .compare_exchange(next, now + interval, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            return Ok(Ticket::Probe);
        }
        Err(BackendError::new(
            BackendErrorKind::Unreachable,
            format!(
                "circuit open after {} consecutive failures; failing fast until a probe succeeds",
                self.failures.load(Ordering::Relaxed)
            ),
        ))
    }

    /// Records how a call that was let through ended.
    pub(super) fn record<T>(&self, result: &Result<T, BackendError>) {
        if !self.config.enabled {
            return;
        }
        match result {
            Err(e) if e.is_unavailable() => {
                let n = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
                if n == self.config.failures {
                    let interval = self.config.probe_interval.as_micros() as u64;
                    self.next_probe_us
                        .store(now_us() + interval, Ordering::Release);
                    tracing::warn!(failures = n, error = %e, "redis unavailable: circuit open, calls fail fast");
                    crate::telemetry::breaker_state(true);
                }
            }
            // Any answer, an error reply included, shows the server is there.
            _ => {
                if self.failures.load(Ordering::Relaxed) != 0 {
                    let was = self.failures.swap(0, Ordering::AcqRel);
                    if was >= self.config.failures {
                        tracing::info!("redis answers again: circuit closed");
                        crate::telemetry::breaker_state(false);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down() -> Result<(), BackendError> {
        Err(BackendError::new(BackendErrorKind::Timeout, "silent"))
    }

    #[test]
    fn opens_after_consecutive_failures_probes_then_closes() {
        let b = Breaker::new(BreakerConfig {
            probe_interval: Duration::from_secs(3600),
            ..BreakerConfig::default()
        });
        for _ in 0..4 {
            assert_eq!(b.admit().unwrap(), Ticket::Closed);
            b.record(&down());
        }
        b.record(&down());
        assert_eq!(b.state(), BreakerState::Open);
        // Open: fails fast until the probe interval has passed.
        assert!(b.admit().is_err());
        // A success (a probe's, a health ping's) closes it.
        b.record(&Ok::<(), BackendError>(()));
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.admit().unwrap(), Ticket::Closed);
    }

    #[test]
    fn one_probe_per_interval_while_open() {
        let b = Breaker::new(BreakerConfig {
            probe_interval: Duration::ZERO,
            ..BreakerConfig::default()
        });
        for _ in 0..5 {
            b.record(&down());
        }
        assert_eq!(b.admit().unwrap(), Ticket::Probe);
        b.record(&down());
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn error_replies_and_a_disabled_breaker_never_open_it() {
        let b = Breaker::new(BreakerConfig::default());
        for _ in 0..10 {
            b.record(&Err::<(), _>(BackendError::new(
                BackendErrorKind::Protocol,
                "WRONGTYPE",
            )));
        }
        assert_eq!(b.state(), BreakerState::Closed);
        let off = Breaker::new(BreakerConfig::disabled());
        for _ in 0..10 {
            off.record(&down());
        }
        assert_eq!(off.admit().unwrap(), Ticket::Closed);
    }
}
