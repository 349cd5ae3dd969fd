use std::time::Duration;

use async_trait::async_trait;

use super::PortResult;

/// How a limiter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// At most `limit` per aligned window of `period` (cheap; allows a burst of 2×limit across a
    /// window boundary). On Redis: one counter per window, `{key}/{window}`, windows aligned on
    /// the caller's clock; a call of cost 1 is one `INCRBY` (no script), a weighted call a small
    /// script that adds its cost only if it fits.
    FixedWindow,
    /// At most `limit` in *any* interval of length `period`, counted in
    /// [`super::SLIDING_WINDOW_BUCKETS`] buckets per period (bounded state and cost whatever the
    /// quota; a denial may come up to one bucket, `period / 60`, early).
    SlidingWindow,
    /// GCRA (a token bucket of capacity `limit` refilled at `limit/period`): smooth, O(1) state.
    Gcra,
}

impl std::str::FromStr for Algorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fixed_window" | "fixed-window" => Ok(Algorithm::FixedWindow),
            "sliding_window" | "sliding-window" => Ok(Algorithm::SlidingWindow),
            "gcra" | "token_bucket" | "token-bucket" => Ok(Algorithm::Gcra),
            other => Err(format!(
                "unknown algorithm {other:?}; expected fixed_window, sliding_window or gcra"
            )),
        }
    }
}

/// A limit of `limit` units per `period`, counted by `algorithm`.
///
/// ```
/// use std::time::Duration;
/// use forze_runtime::ports::{Algorithm, Quota};
/// let q = Quota::new(100, Duration::from_secs(60), Algorithm::Gcra);
/// assert_eq!(q.limit, 100);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Units admitted per period (at least 1).
    pub limit: u64,
    /// The period (at least 1 ms).
    pub period: Duration,
    /// The counting algorithm.
    pub algorithm: Algorithm,
}

impl Quota {
    /// A quota of `limit` per `period`.
    pub const fn new(limit: u64, period: Duration, algorithm: Algorithm) -> Self {
        Self {
            limit,
            period,
            algorithm,
        }
    }

    /// Why this quota is unusable, if it is.
    pub fn problem(&self) -> Option<String> {
        if self.limit == 0 {
            Some("quota limit must be at least 1".into())
        } else if self.period < Duration::from_millis(1) {
            Some(format!("quota period {:?} is below 1ms", self.period))
        } else if self.period > Duration::from_secs(366 * 24 * 3600) {
            Some(format!("quota period {:?} is above one year", self.period))
        } else if self.limit > (1 << 40) {
            Some(format!("quota limit {} is above 2^40", self.limit))
        } else {
            None
        }
    }
}

/// The answer of a rate limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the call is admitted (its cost was consumed).
    pub allowed: bool,
    /// The quota's limit.
    pub limit: u64,
    /// Units still available right after this decision.
    pub remaining: u64,
    /// Time until the full quota is available again.
    pub reset_after: Duration,
    /// When denied: time until a call of the same cost could be admitted.
    pub retry_after: Option<Duration>,
    /// True when the backend could not be asked and the limiter's failure policy decided.
    pub degraded: bool,
}

/// Rate limit checks: one atomic round trip each; a denied check consumes nothing.
///
/// ```
/// # async fn demo(port: &dyn forze_runtime::ports::RateLimitPort) -> Result<(), forze_runtime::BackendError> {
/// use std::time::Duration;
/// use forze_runtime::ports::{Algorithm, Quota};
/// let q = Quota::new(1, Duration::from_secs(60), Algorithm::FixedWindow);
/// assert!(port.check("ns/ratelimit/u1", &q, 1).await?.allowed);
/// assert!(!port.check("ns/ratelimit/u1", &q, 1).await?.allowed);
/// # Ok(()) }
/// ```
#[async_trait]
pub trait RateLimitPort: Send + Sync + 'static {
    /// Admits `cost` units (1 ≤ cost ≤ limit) against `quota` at `key`, or denies without
    /// consuming anything.
    async fn check(&self, key: &str, quota: &Quota, cost: u64) -> PortResult<Decision>;
}

/// How far past one period a GCRA state may stand and still admit (µs): a microsecond, or half
/// an interval when that is shorter. Times are `f64` microseconds since 1970, whose precision
/// there is a quarter of a microsecond, so an exact burst of `limit` calls can land a fraction
/// of a microsecond past the period; this keeps the last of them admitted (and its `remaining`
/// exact) without ever admitting a unit more. The Lua script uses the same tolerance.
pub(crate) fn gcra_tolerance(interval: f64) -> f64 {
    (interval / 2.0).min(1.0)
}

/// The GCRA decision for a call of `cost` under `quota`, from `ahead`: how far (µs) the state
/// after the call stands ahead of now — the new theoretical arrival time when `allowed`, the
/// unchanged one when not. The one place a GCRA state is turned into a decision (the in-memory
/// limiter and the Redis script, which replies with `ahead`, both come here).
pub(crate) fn gcra_decision(quota: &Quota, cost: u64, allowed: bool, ahead: f64) -> Decision {
    let period = quota.period.as_micros() as f64;
    let interval = period / quota.limit as f64;
    let ahead = ahead.max(0.0);
    let tolerance = gcra_tolerance(interval);
    let remaining = ((period - ahead + tolerance) / interval).floor().max(0.0) as u64;
    let us = |v: f64| Duration::from_micros(v.ceil().max(0.0) as u64);
    Decision {
        allowed,
        limit: quota.limit,
        remaining: remaining.min(quota.limit),
        reset_after: us(ahead),
        retry_after: (!allowed).then(|| us((ahead + cost as f64 * interval - period).max(1.0))),
        degraded: false,
    }
}
