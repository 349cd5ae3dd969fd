use std::sync::Arc;
use std::time::Duration;

use super::RouteCore;
use crate::error::Error;
use crate::ports::LockPort;

/// A handle to a wired lock route: leased locks at `{namespace}/lock/{key}`.
///
/// A lock is held by a random token for a lease; only that token can extend or release it.
/// If the holder stalls past its lease, another caller may take the lock, and the stale
/// holder's `extend` / `release` then fail with [`Error::NotOwner`] instead of touching the new
/// holder's lock. A guard dropped without `release` keeps the lock until its lease ends.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), forze_runtime::Error> {
/// use forze_runtime::{Forze, LockRoute};
/// let forze = Forze::builder().lock("jobs", LockRoute::new("app:locks")).build().await?;
/// let locks = forze.lock("jobs")?;
/// let guard = locks.try_acquire("nightly").await?.expect("free");
/// assert!(locks.try_acquire("nightly").await?.is_none());
/// guard.release().await?;
/// assert!(locks.try_acquire("nightly").await?.is_some());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Locks {
    pub(crate) core: RouteCore,
    pub(crate) port: Arc<dyn LockPort>,
    pub(crate) lease: Duration,
}

impl std::fmt::Debug for Locks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Locks")
            .field("name", &self.core.name)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

/// Ownership of one lock (see [`Locks`]).
#[derive(Debug)]
#[must_use = "a lock that is never released is held until its lease ends"]
pub struct LockGuard {
    locks: Locks,
    /// The lock's name as the caller gave it (errors show it).
    name: String,
    key: String,
    token: String,
}

impl Locks {
    /// This handle, scoped to `tenant` (for tenant-aware routes; ignored otherwise).
    pub fn with_tenant(&self, tenant: &str) -> Self {
        Self {
            core: self.core.with_tenant(tenant),
            ..self.clone()
        }
    }

    /// Takes the lock `key` for the route's lease, or `None` if someone holds it.
    pub async fn try_acquire(&self, key: &str) -> Result<Option<LockGuard>, Error> {
        self.try_acquire_for(key, self.lease).await
    }

    /// Takes the lock `key` for `lease`, or `None` if someone holds it.
    pub async fn try_acquire_for(
        &self,
        key: &str,
        lease: Duration,
    ) -> Result<Option<LockGuard>, Error> {
        let full = self.core.space()?.lock(key);
        self.acquire_at(key, full, lease).await
    }

    /// Takes the fill lock of the cache entry stored at `entry` (`{prefix}/fill/{entry}`), for
    /// the route's lease.
    pub(crate) async fn try_acquire_fill(&self, entry: &str) -> Result<Option<LockGuard>, Error> {
        let full = self.core.space()?.fill_lock(entry);
        self.acquire_at(entry, full, self.lease).await
    }

    async fn acquire_at(
        &self,
        key: &str,
        full: String,
        lease: Duration,
    ) -> Result<Option<LockGuard>, Error> {
        if lease < Duration::from_millis(1) {
            return Err(self.core.invalid("lock lease must be at least 1ms"));
        }
        let token = crate::codec::random_token();
        let got = self
            .port
            .acquire(&full, &token, lease)
            .await
            .map_err(|e| self.core.backend_err(key, e))?;
        Ok(got.then(|| LockGuard {
            locks: self.clone(),
            name: key.to_owned(),
            key: full,
            token,
        }))
    }
}

impl LockGuard {
    /// The storage key of the lock.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The owner token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The lock route's lease.
    pub fn lease(&self) -> Duration {
        self.locks.lease
    }

    /// Renews the lease; [`Error::NotOwner`] if the lock was lost.
    pub async fn extend(&self, lease: Duration) -> Result<(), Error> {
        let l = &self.locks;
        match l.port.extend(&self.key, &self.token, lease).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(l.core.not_owner(&self.name)),
            Err(e) => Err(l.core.backend_err(&self.name, e)),
        }
    }

    /// Frees the lock; [`Error::NotOwner`] if it was lost meanwhile (then nothing changes).
    pub async fn release(self) -> Result<(), Error> {
        let l = &self.locks;
        match l.port.release(&self.key, &self.token).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(l.core.not_owner(&self.name)),
            Err(e) => Err(l.core.backend_err(&self.name, e)),
        }
    }
}
