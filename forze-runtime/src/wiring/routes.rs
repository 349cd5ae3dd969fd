//! Route configs: what a logical name maps to.

use std::time::Duration;

use crate::ports::Quota;

/// What a cache does when its backend fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailurePolicy {
    /// Reads miss and writes are skipped, with a `warn` trace: the caller's work goes on.
    #[default]
    FailOpen,
    /// Errors are returned to the caller.
    FailClosed,
}

/// What a limiter answers when its backend is unreachable or times out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LimiterFailure {
    /// Admit the call (fail open, logged at `warn`): availability over strictness.
    #[default]
    Allow,
    /// Deny the call (fail closed), as if the quota were used up.
    Deny,
    /// Return the backend error to the caller.
    Error,
}

/// A cache route: namespace, default TTL, size limit, tenant-awareness and failure policy.
///
/// ```
/// use std::time::Duration;
/// use forze_runtime::{CacheRoute, FailurePolicy};
/// let route = CacheRoute::new("app:users")
///     .ttl(Duration::from_secs(600))
///     .tenant_aware(true)
///     .on_error(FailurePolicy::FailClosed);
/// assert_eq!(route.ttl, Duration::from_secs(600));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheRoute {
    /// Key prefix (`A-Z a-z 0-9 - _ . :`).
    pub namespace: String,
    /// Default TTL of entries (default 5 minutes).
    pub ttl: Duration,
    /// Largest stored value accepted (default 1 MiB; after compression, when the route
    /// compresses); larger ones are refused, not stored.
    pub max_value_bytes: usize,
    /// Put the current tenant into every key.
    pub tenant_aware: bool,
    /// Behaviour on backend failure (default fail-open).
    pub on_error: FailurePolicy,
    /// A near cache of decoded values in this process, invalidated by the server (default
    /// none; see [`crate::NearCache`]).
    pub near: Option<crate::NearCache>,
    /// Values whose JSON is above a size stored compressed (default none; feature
    /// `compression`; see [`crate::codec::Compression`]).
    pub compress: Option<crate::codec::Compression>,
}

impl CacheRoute {
    /// A route with the defaults under `namespace`.
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            ttl: Duration::from_secs(300),
            max_value_bytes: 1 << 20,
            tenant_aware: false,
            on_error: FailurePolicy::FailOpen,
            near: None,
            compress: None,
        }
    }

    /// Stores values whose JSON is longer than `bytes` as zstd frames (level 3), when that is
    /// smaller; reads take plain and compressed entries alike, so turning it on, off, or
    /// changing the threshold leaves every entry readable. Needs the feature `compression`
    /// (without it, building the runtime says so). `max_value_bytes` bounds the stored size.
    pub fn compress_above(self, bytes: usize) -> Self {
        self.compression(crate::codec::Compression::above(bytes))
    }

    /// Stores values as [`crate::codec::Compression`] says (threshold and zstd level).
    pub fn compression(mut self, c: crate::codec::Compression) -> Self {
        self.compress = Some(c);
        self
    }

    /// Puts a near cache in front of the route: reads through `#[cached]` and
    /// [`crate::Cache::get_shared`] are served from decoded values in this process while the
    /// server's invalidations reach it.
    pub fn near(mut self, near: crate::NearCache) -> Self {
        self.near = Some(near);
        self
    }

    /// Sets the default TTL.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Sets the largest accepted value.
    pub fn max_value_bytes(mut self, n: usize) -> Self {
        self.max_value_bytes = n;
        self
    }

    /// Makes the route tenant-aware.
    pub fn tenant_aware(mut self, yes: bool) -> Self {
        self.tenant_aware = yes;
        self
    }

    /// Sets the failure policy.
    pub fn on_error(mut self, policy: FailurePolicy) -> Self {
        self.on_error = policy;
        self
    }
}

/// A counter route.
///
/// ```
/// let route = forze_runtime::CounterRoute::new("app:seq:projects");
/// assert!(!route.tenant_aware);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterRoute {
    /// Key prefix; the counter itself lives at this key (plus `/{suffix}`).
    pub namespace: String,
    /// Put the current tenant into every key.
    pub tenant_aware: bool,
}

impl CounterRoute {
    /// A route under `namespace`.
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            tenant_aware: false,
        }
    }

    /// Makes the route tenant-aware.
    pub fn tenant_aware(mut self, yes: bool) -> Self {
        self.tenant_aware = yes;
        self
    }
}

/// An idempotency store route.
///
/// ```
/// use std::time::Duration;
/// let route = forze_runtime::IdempotencyRoute::new("app:idem").lease(Duration::from_secs(10));
/// assert_eq!(route.ttl, Duration::from_secs(24 * 3600));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRoute {
    /// Key prefix.
    pub namespace: String,
    /// How long a committed result is replayed (default 24 h).
    pub ttl: Duration,
    /// How long a claim holds the key unless its owner renews it (default 5 s).
    /// [`crate::Idempotency::run`] renews it every third of a lease while the work runs, so the
    /// work may take longer; a claim whose owner died (or whose begin timed out) is free again
    /// after one lease.
    pub lease: Duration,
    /// Put the current tenant into every key.
    pub tenant_aware: bool,
}

impl IdempotencyRoute {
    /// A route with the defaults under `namespace`.
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            ttl: Duration::from_secs(24 * 3600),
            lease: Duration::from_secs(5),
            tenant_aware: false,
        }
    }

    /// Sets the snapshot TTL.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Sets the claim lease.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Makes the route tenant-aware.
    pub fn tenant_aware(mut self, yes: bool) -> Self {
        self.tenant_aware = yes;
        self
    }
}

/// A rate limiter route: namespace, optional quota, failure policy.
///
/// ```
/// use std::time::Duration;
/// use forze_runtime::{ports::{Algorithm, Quota}, LimiterFailure, LimiterRoute};
/// let route = LimiterRoute::new("app:rl")
///     .quota(Quota::new(100, Duration::from_secs(60), Algorithm::SlidingWindow))
///     .on_unavailable(LimiterFailure::Deny);
/// assert_eq!(route.quota.unwrap().limit, 100);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimiterRoute {
    /// Key prefix.
    pub namespace: String,
    /// The quota checks use unless they pass their own.
    pub quota: Option<Quota>,
    /// Behaviour when the backend is unreachable (default allow).
    pub on_unavailable: LimiterFailure,
    /// Put the current tenant into every key.
    pub tenant_aware: bool,
}

impl LimiterRoute {
    /// A route without a quota under `namespace`.
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            quota: None,
            on_unavailable: LimiterFailure::Allow,
            tenant_aware: false,
        }
    }

    /// Sets the quota.
    pub fn quota(mut self, quota: Quota) -> Self {
        self.quota = Some(quota);
        self
    }

    /// Sets the failure policy.
    pub fn on_unavailable(mut self, policy: LimiterFailure) -> Self {
        self.on_unavailable = policy;
        self
    }

    /// Makes the route tenant-aware.
    pub fn tenant_aware(mut self, yes: bool) -> Self {
        self.tenant_aware = yes;
        self
    }
}

/// A lock route.
///
/// ```
/// use std::time::Duration;
/// let route = forze_runtime::LockRoute::new("app:locks").lease(Duration::from_secs(5));
/// assert_eq!(route.lease, Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRoute {
    /// Key prefix.
    pub namespace: String,
    /// Default lease (default 30 s).
    pub lease: Duration,
    /// Put the current tenant into every key.
    pub tenant_aware: bool,
}

impl LockRoute {
    /// A route with the defaults under `namespace`.
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            lease: Duration::from_secs(30),
            tenant_aware: false,
        }
    }

    /// Sets the default lease.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Makes the route tenant-aware.
    pub fn tenant_aware(mut self, yes: bool) -> Self {
        self.tenant_aware = yes;
        self
    }
}
