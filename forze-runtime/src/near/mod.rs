//! The near cache: a process-local tier of decoded values in front of a cache route, emptied by
//! the server's invalidations (Redis `CLIENT TRACKING … BCAST`, see
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
/// A value read from the backend is kept at once. A value a miss computed and wrote is kept
/// only when the same key was computed by this process before (recently; a set of key hashes
/// that forgets as it fills): a key computed once and never read again — the common case of a
/// cache's new keys — costs the tier nothing, and a key read again is kept by that read (one
/// round trip, then near hits). [`NearCache::keep_every_fill`] keeps every computed value at
/// once instead.
///
/// ```
/// use std::time::Duration;
/// use forze_runtime::{CacheRoute, NearCache};
/// let route = CacheRoute::new("app:users").near(NearCache::new(32 << 20).max_ttl(Duration::from_secs(30)));
/// let near = route.near.unwrap();
/// assert_eq!(near.max_bytes, 32 << 20);
/// assert!(!near.keep_every_fill);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NearCache {
    /// Upper bound of the tier's size in bytes (encoded values plus keys).
    pub max_bytes: u64,
    /// Upper bound of a value's life in the tier (default 60 s).
    pub max_ttl: Duration,
    /// Whether a value a miss computed is kept at once, even on the first computation of its
    /// key (default: no, see above).
    pub keep_every_fill: bool,
}

impl NearCache {
    /// A near cache of `max_bytes`, values kept at most 60 s.
    pub fn new(max_bytes: u64) -> Self {
        Self {
            max_bytes,
            max_ttl: Duration::from_secs(60),
            keep_every_fill: false,
        }
    }

    /// Sets the longest a value stays in the tier.
    pub fn max_ttl(mut self, max_ttl: Duration) -> Self {
        self.max_ttl = max_ttl;
        self
    }

    /// Keeps every value a miss computed at once, the first computation of a key included:
    /// the next read of the key is a near hit rather than one round trip, and every miss pays
    /// for keeping its value (BENCHMARKS.md: ~12% more instructions, and a tier that grows to
    /// `max_bytes` with keys that may never be read again).
    ///
    /// ```
    /// use forze_runtime::NearCache;
    /// assert!(NearCache::new(1 << 20).keep_every_fill().keep_every_fill);
    /// ```
    pub fn keep_every_fill(mut self) -> Self {
        self.keep_every_fill = true;
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
