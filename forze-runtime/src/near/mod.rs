//! The near cache: a process-local tier of decoded values in front of a cache route, emptied by
//! the server's invalidations (Redis `CLIENT TRACKING … OPTIN`, see
//! `adapters::redis::tracking`) or by the in-memory backend's own writes.
//!
//! - [`NearCache`]: a route's opt-in and bounds.
//! - `tier`: one route's values, and the stamps that keep an invalidation from being lost to a
//!   read in flight.
//! - `hub`: every tier of one runtime, switched on only while invalidations are known to arrive.

mod hub;
mod tier;

pub(crate) use hub::NearHub;
pub(crate) use tier::{Encoded, NearTier, Shared, Ticket};

use std::time::Duration;

/// The near cache of a cache route ([`crate::CacheRoute::near`]): decoded values kept in this
/// process, at most `max_bytes` of them (each counted as its encoded size plus its key) and each
/// for at most `max_ttl`, never past the entry's TTL on the backend.
///
/// A near hit is a map lookup and a clone of the stored value (an `Arc` clone with
/// [`crate::Cache::get_shared`]): no network, no decoding. The near cache serves a value only
/// while the backend's invalidations reach this process; see the README's near-cache section for
/// what that guarantees.
///
/// A key's value is kept from the second time this process reads it, computes it or writes it
/// with `set` (recently: a set of key hashes that forgets once it holds a window of keys): a
/// key used once —
/// the common case of a cache's new keys — costs neither the tier nor the server anything, and
/// its miss is a plain route's. [`NearCache::keep_on_first_use`] keeps values from a key's first
/// use instead.
///
/// ```
/// use std::time::Duration;
/// use forze_runtime::{CacheRoute, NearCache};
/// let route = CacheRoute::new("app:users").near(NearCache::new(32 << 20).max_ttl(Duration::from_secs(30)));
/// let near = route.near.unwrap();
/// assert_eq!(near.max_bytes, 32 << 20);
/// assert!(!near.keep_on_first_use);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NearCache {
    /// Upper bound of the tier's size in bytes (encoded values plus keys).
    pub max_bytes: u64,
    /// Upper bound of a value's life in the tier (default 60 s).
    pub max_ttl: Duration,
    /// Whether values are kept from a key's first use (default: from its second, see above).
    pub keep_on_first_use: bool,
}

impl NearCache {
    /// A near cache of `max_bytes`, values kept at most 60 s.
    pub fn new(max_bytes: u64) -> Self {
        Self {
            max_bytes,
            max_ttl: Duration::from_secs(60),
            keep_on_first_use: false,
        }
    }

    /// Sets the longest a value stays in the tier.
    pub fn max_ttl(mut self, max_ttl: Duration) -> Self {
        self.max_ttl = max_ttl;
        self
    }

    /// Keeps values from a key's first use: the first read of a key is tracked and kept, and
    /// the value its first computation wrote is kept, so the next read is a near hit rather
    /// than one round trip; every miss then pays for it (BENCHMARKS.md: the tracked reads,
    /// the kept copy, and a tier that grows to `max_bytes` with keys that may never be read
    /// again).
    ///
    /// ```
    /// use forze_runtime::NearCache;
    /// assert!(NearCache::new(1 << 20).keep_on_first_use().keep_on_first_use);
    /// ```
    pub fn keep_on_first_use(mut self) -> Self {
        self.keep_on_first_use = true;
        self
    }
}

/// What the near caches of a runtime did, for [`crate::Health`].
///
/// ```
/// let stats = forze_runtime::NearStats::default();
/// assert!(!stats.on && stats.hits == 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NearStats {
    /// Whether the near caches serve values now (invalidations are known to arrive).
    pub on: bool,
    /// Values held, over every near tier.
    pub entries: u64,
    /// Their weight in bytes.
    pub bytes: u64,
    /// Reads served by a near tier.
    pub hits: u64,
    /// Reads a near tier could not serve.
    pub misses: u64,
    /// Keys invalidated (by the server or by this process's own writes).
    pub invalidations: u64,
    /// Times every tier was emptied (tracking lost or re-established, `FLUSHALL`, an open
    /// breaker).
    pub flushes: u64,
}
