use std::sync::Arc;

use super::RouteCore;
use crate::error::Error;
use crate::ports::CounterPort;

/// A handle to a wired counter route: atomic integers at `{namespace}[/{suffix}]`.
///
/// The seed's `incr(suffix?, by?)` family maps to `incr()`, `incr_by(by)`, `decr()`,
/// `decr_by(by)`, `incr_batch(count)`, `reset()`, `reset_to(value)`, each available on the
/// route itself or on a suffixed view from [`Counter::at`]. Counters fail closed: a backend
/// error is returned, never a made-up number.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), forze_runtime::Error> {
/// use forze_runtime::{CounterRoute, Forze};
/// let forze = Forze::builder().counter("projects", CounterRoute::new("app:seq")).build().await?;
/// let seq = forze.counter("projects")?;
/// assert_eq!(seq.incr().await?, 1);
/// let last = seq.incr_batch(10).await?; // reserves 2..=11
/// assert_eq!(last, 11);
/// assert_eq!(seq.at("2026").incr_by(5).await?, 5);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Counter {
    pub(crate) core: RouteCore,
    pub(crate) port: Arc<dyn CounterPort>,
    pub(crate) suffix: Option<Arc<str>>,
}

impl std::fmt::Debug for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counter")
            .field("name", &self.core.name)
            .field("suffix", &self.suffix)
            .finish_non_exhaustive()
    }
}

impl Counter {
    /// The same route, at `{namespace}/{suffix}` (the suffix is escaped).
    pub fn at(&self, suffix: &str) -> Self {
        Self {
            suffix: Some(suffix.into()),
            ..self.clone()
        }
    }

    /// This handle, scoped to `tenant` (for tenant-aware routes; ignored otherwise).
    pub fn with_tenant(&self, tenant: &str) -> Self {
        Self {
            core: self.core.with_tenant(tenant),
            ..self.clone()
        }
    }

    fn key(&self) -> Result<String, Error> {
        Ok(self.core.space()?.counter(self.suffix.as_deref()))
    }

    /// Adds 1; returns the new value (a missing counter starts at 0).
    pub async fn incr(&self) -> Result<i64, Error> {
        self.incr_by(1).await
    }

    /// Adds `by` (may be negative); returns the new value. Overflow is an error and changes
    /// nothing.
    pub async fn incr_by(&self, by: i64) -> Result<i64, Error> {
        let key = self.key()?;
        self.port.incr(&key, by).await.map_err(|e| {
            self.core
                .backend_err(self.suffix.as_deref().unwrap_or(""), e)
        })
    }

    /// Reserves a block of `count` consecutive values atomically and returns its last one: the
    /// block is `last - count + 1 ..= last`, and no other caller gets any of it.
    pub async fn incr_batch(&self, count: u64) -> Result<i64, Error> {
        let by = i64::try_from(count)
            .ok()
            .filter(|c| *c >= 1)
            .ok_or_else(|| {
                self.core
                    .invalid(format!("incr_batch count {count} is not in 1..=i64::MAX"))
            })?;
        self.incr_by(by).await
    }

    /// Subtracts 1; returns the new value.
    pub async fn decr(&self) -> Result<i64, Error> {
        self.incr_by(-1).await
    }

    /// Subtracts `by`; returns the new value.
    pub async fn decr_by(&self, by: i64) -> Result<i64, Error> {
        let neg = by
            .checked_neg()
            .ok_or_else(|| self.core.invalid(format!("cannot decrement by {by}")))?;
        self.incr_by(neg).await
    }

    /// Sets the counter to 0.
    pub async fn reset(&self) -> Result<(), Error> {
        self.reset_to(0).await
    }

    /// Sets the counter to `value`.
    pub async fn reset_to(&self, value: i64) -> Result<(), Error> {
        let key = self.key()?;
        self.port.reset(&key, value).await.map_err(|e| {
            self.core
                .backend_err(self.suffix.as_deref().unwrap_or(""), e)
        })
    }

    /// The current value, `None` if the counter was never set.
    pub async fn get(&self) -> Result<Option<i64>, Error> {
        let key = self.key()?;
        self.port.get(&key).await.map_err(|e| {
            self.core
                .backend_err(self.suffix.as_deref().unwrap_or(""), e)
        })
    }
}
