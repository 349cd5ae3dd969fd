//! The in-memory backend: every port, in this process, bounded and TTL-aware.
//!
//! The cache is a [`moka`] cache bounded by total bytes with a per-entry TTL; counters,
//! idempotency records, limiter state and locks live in one map behind a mutex (never held across
//! an `.await`), with lazy expiry and a bounded number of entries. Every operation is atomic
//! within the process, which is the whole world of this backend.

mod algorithms;
mod cache;
mod counter;
mod idempotency;
mod lock;
mod rate_limit;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{BackendError, BackendErrorKind};
use crate::ports::{
    Algorithm, BeginOutcome, CachePort, CounterPort, Decision, FencedEntry, IdempotencyPort,
    LockPort, PortResult, Quota, RateLimitPort, VersionWrite, VersionedKeys,
};

/// Bounds of the in-memory backend.
///
/// ```
/// use forze_runtime::MemoryConfig;
/// let cfg = MemoryConfig { cache_max_bytes: 16 << 20, ..MemoryConfig::default() };
/// assert_eq!(cfg.max_entries, 1_000_000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryConfig {
    /// Upper bound of the cache's size (keys + values), in bytes; least useful entries are
    /// evicted first. Default 64 MiB.
    pub cache_max_bytes: u64,
    /// Upper bound of counters + idempotency records + limiter states + locks. When full and
    /// nothing has expired, writes of new keys fail with a capacity error (nothing is evicted:
    /// dropping an idempotency record or a lock would break its guarantee). Default 1 000 000.
    pub max_entries: usize,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            cache_max_bytes: 64 << 20,
            max_entries: 1_000_000,
        }
    }
}

#[derive(Clone)]
struct CacheEntry {
    bytes: Arc<[u8]>,
    ttl: Duration,
    expires_at: Instant,
}

struct PerEntryTtl;

impl moka::Expiry<String, CacheEntry> for PerEntryTtl {
    fn expire_after_create(&self, _: &String, v: &CacheEntry, _: Instant) -> Option<Duration> {
        Some(v.ttl)
    }

    fn expire_after_update(
        &self,
        _: &String,
        v: &CacheEntry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(v.ttl)
    }
}

enum Value {
    Counter(i64),
    Idem {
        fingerprint: String,
        token: String,
        snapshot: Option<Vec<u8>>,
    },
    Window((u64, u64)),
    Log(VecDeque<(u64, u64)>),
    Tat(f64),
    Lock(String),
    Tag(std::collections::HashSet<String>),
}

struct Slot {
    value: Value,
    expires_at: Option<Instant>,
}

struct State {
    slots: HashMap<String, Slot>,
    max_entries: usize,
}

impl State {
    /// The live slot at `key`, dropping it first if it has expired.
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut Slot> {
        let expired = self
            .slots
            .get(key)
            .is_some_and(|s| s.expires_at.is_some_and(|t| t <= now));
        if expired {
            self.slots.remove(key);
        }
        self.slots.get_mut(key)
    }

    /// Inserts or replaces `key`, making room from expired entries when full.
    fn put(&mut self, key: &str, slot: Slot, now: Instant) -> PortResult<()> {
        if !self.slots.contains_key(key) {
            self.make_room(1, now, key)?;
        }
        self.slots.insert(key.to_owned(), slot);
        Ok(())
    }

    /// Ensures `n` new entries fit, dropping expired ones if needed; nothing is evicted.
    fn make_room(&mut self, n: usize, now: Instant, for_key: &str) -> PortResult<()> {
        if self.slots.len() + n <= self.max_entries {
            return Ok(());
        }
        self.slots
            .retain(|_, s| s.expires_at.is_none_or(|t| t > now));
        if self.slots.len() + n > self.max_entries {
            return Err(BackendError::new(
                BackendErrorKind::Capacity,
                format!(
                    "in-memory backend holds {} entries (max_entries); cannot add {for_key:?}",
                    self.max_entries
                ),
            ));
        }
        Ok(())
    }
}

struct Inner {
    cache: moka::sync::Cache<String, CacheEntry>,
    versions: Mutex<()>,
    state: Mutex<State>,
    epoch: Instant,
    config: MemoryConfig,
    /// The near tiers told of every entry that goes (replaced, deleted, expired, evicted).
    near: Arc<std::sync::OnceLock<Arc<crate::near::NearHub>>>,
}

/// The in-memory backend. Cheap to clone; clones share their data.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), forze_runtime::BackendError> {
/// use forze_runtime::adapters::memory::MemoryBackend;
/// use forze_runtime::ports::CounterPort;
/// let mem = MemoryBackend::new(Default::default());
/// assert_eq!(mem.incr("ns/c", 2).await?, 2);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MemoryBackend {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBackend")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

fn unpoison<'a, T>(
    r: Result<MutexGuard<'a, T>, std::sync::PoisonError<MutexGuard<'a, T>>>,
) -> MutexGuard<'a, T> {
    // No code path panics while holding these locks; if one ever did, the data is still a
    // consistent map, so keep serving rather than propagate the panic.
    r.unwrap_or_else(|e| e.into_inner())
}

impl MemoryBackend {
    /// A new, empty backend with the given bounds.
    pub fn new(config: MemoryConfig) -> Self {
        let near: Arc<std::sync::OnceLock<Arc<crate::near::NearHub>>> = Arc::default();
        let told = near.clone();
        let cache = moka::sync::Cache::builder()
            .eviction_listener(move |key: Arc<String>, _, _| {
                if let Some(hub) = told.get() {
                    hub.invalidate(key.as_bytes());
                }
            })
            .max_capacity(config.cache_max_bytes)
            .weigher(|k: &String, v: &CacheEntry| {
                u32::try_from(k.len() + v.bytes.len() + 64).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            .build();
        Self {
            inner: Arc::new(Inner {
                cache,
                versions: Mutex::new(()),
                state: Mutex::new(State {
                    slots: HashMap::new(),
                    max_entries: config.max_entries,
                }),
                epoch: Instant::now(),
                config,
                near,
            }),
        }
    }

    /// The bounds this backend was built with.
    pub fn config(&self) -> &MemoryConfig {
        &self.inner.config
    }

    /// Number of live counter / idempotency / limiter / lock entries (expired ones may be
    /// counted until they are next touched or swept).
    pub fn state_entries(&self) -> usize {
        unpoison(self.inner.state.lock()).slots.len()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        unpoison(self.inner.state.lock())
    }

    /// Tells the near tiers of `hub` of every entry that goes; they serve from now on.
    pub(crate) fn track(&self, hub: Arc<crate::near::NearHub>) {
        if hub.is_used() && self.inner.near.set(hub.clone()).is_ok() {
            hub.flush();
        }
    }

    fn cache_get_with_ttl(&self, key: &str) -> Option<(Vec<u8>, Option<Duration>)> {
        self.inner.cache.get(key).map(|e| {
            let left = e.expires_at.saturating_duration_since(Instant::now());
            (e.bytes.to_vec(), Some(left))
        })
    }

    fn cache_get(&self, key: &str) -> Option<Vec<u8>> {
        self.inner.cache.get(key).map(|e| e.bytes.to_vec())
    }

    fn cache_put(&self, key: &str, value: &[u8], ttl: Duration) {
        if ttl.is_zero() {
            self.inner.cache.invalidate(key);
            return;
        }
        self.inner.cache.insert(
            key.to_owned(),
            CacheEntry {
                bytes: Arc::from(value),
                ttl,
                expires_at: Instant::now() + ttl,
            },
        );
    }
}

fn unreachable_state(key: &str) -> PortResult<(Decision, u64)> {
    Err(wrong_type(key))
}

fn wrong_type(key: &str) -> BackendError {
    BackendError::new(
        BackendErrorKind::Protocol,
        format!("key {key:?} holds a value of another kind (two routes share a namespace?)"),
    )
}
