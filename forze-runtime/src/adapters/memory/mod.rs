//! The in-memory backend: every port, in this process, bounded and TTL-aware.
//!
//! The cache is a [`moka`] cache bounded by total bytes with a per-entry TTL; counters,
//! idempotency records, limiter state and locks live in one map behind a mutex (never held across
//! an `.await`), with lazy expiry and a bounded number of entries. Every operation is atomic
//! within the process, which is the whole world of this backend.

mod rate_limit;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::error::{BackendError, BackendErrorKind};
use crate::ports::cache::encode_current;
use crate::ports::{
    Algorithm, BeginOutcome, CachePort, CounterPort, Decision, IdempotencyPort, LockPort,
    PortResult, Quota, RateLimitPort, VersionedKeys,
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
        let cache = moka::sync::Cache::builder()
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
            },
        );
    }
}

#[async_trait]
impl CachePort for MemoryBackend {
    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        Ok(self.cache_get(key))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> PortResult<()> {
        self.cache_put(key, value, ttl);
        Ok(())
    }

    async fn delete(&self, keys: &[String]) -> PortResult<u64> {
        Ok(keys
            .iter()
            .filter(|k| self.inner.cache.remove(k.as_str()).is_some())
            .count() as u64)
    }

    async fn get_many(&self, keys: &[String]) -> PortResult<Vec<Option<Vec<u8>>>> {
        Ok(keys.iter().map(|k| self.cache_get(k)).collect())
    }

    async fn set_many(&self, entries: &[(String, Vec<u8>)], ttl: Duration) -> PortResult<()> {
        for (k, v) in entries {
            self.cache_put(k, v, ttl);
        }
        Ok(())
    }

    async fn set_tagged(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        tags: &[String],
    ) -> PortResult<()> {
        let now = Instant::now();
        let mut state = self.state();
        // Check room for every tag first, so that a full backend writes nothing.
        let new_tags = tags.iter().filter(|t| state.live(t, now).is_none()).count();
        state.make_room(new_tags, now, key)?;
        for tag in tags {
            let until = now + ttl;
            match state.live(tag, now) {
                Some(Slot {
                    value: Value::Tag(members),
                    expires_at,
                }) => {
                    members.insert(key.to_owned());
                    if expires_at.is_some_and(|t| t < until) {
                        *expires_at = Some(until);
                    }
                }
                Some(_) => return Err(wrong_type(tag)),
                None => state.put(
                    tag,
                    Slot {
                        value: Value::Tag([key.to_owned()].into()),
                        expires_at: Some(until),
                    },
                    now,
                )?,
            }
        }
        drop(state);
        self.cache_put(key, value, ttl);
        Ok(())
    }

    async fn invalidate_tags(&self, tags: &[String]) -> PortResult<u64> {
        let now = Instant::now();
        let mut state = self.state();
        let mut removed = 0;
        for tag in tags {
            match state.live(tag, now).map(|s| &s.value) {
                Some(Value::Tag(_)) => {}
                Some(_) => return Err(wrong_type(tag)),
                None => continue,
            }
            if let Some(Slot {
                value: Value::Tag(members),
                ..
            }) = state.slots.remove(tag.as_str())
            {
                for m in members {
                    if self.inner.cache.remove(m.as_str()).is_some() {
                        removed += 1;
                    }
                }
            }
        }
        Ok(removed)
    }

    async fn set_version(
        &self,
        keys: VersionedKeys<'_>,
        version: u64,
        body: &[u8],
        ttl: Duration,
    ) -> PortResult<bool> {
        let _writer = unpoison(self.inner.versions.lock());
        let current = self.cache_get(keys.pointer).and_then(|v| parse_version(&v));
        if current.is_some_and(|c| c > version) {
            return Ok(false);
        }
        self.cache_put(&keys.body(version), body, ttl);
        self.cache_put(keys.current, &encode_current(version, body), ttl);
        let pointer_ttl = ttl.saturating_mul(crate::ports::POINTER_TTL_FACTOR);
        self.cache_put(keys.pointer, version.to_string().as_bytes(), pointer_ttl);
        Ok(true)
    }
}

fn parse_version(bytes: &[u8]) -> Option<u64> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

#[async_trait]
impl CounterPort for MemoryBackend {
    async fn incr(&self, key: &str, by: i64) -> PortResult<i64> {
        let now = Instant::now();
        let mut state = self.state();
        if let Some(slot) = state.live(key, now) {
            if let Value::Counter(v) = &mut slot.value {
                *v = v.checked_add(by).ok_or_else(|| {
                    BackendError::new(
                        BackendErrorKind::Overflow,
                        format!("counter {key:?} at {v} cannot change by {by}"),
                    )
                })?;
                return Ok(*v);
            }
            return Err(wrong_type(key));
        }
        state.put(
            key,
            Slot {
                value: Value::Counter(by),
                expires_at: None,
            },
            now,
        )?;
        Ok(by)
    }

    async fn reset(&self, key: &str, value: i64) -> PortResult<()> {
        let now = Instant::now();
        let mut state = self.state();
        if let Some(slot) = state.live(key, now) {
            if !matches!(slot.value, Value::Counter(_)) {
                return Err(wrong_type(key));
            }
        }
        state.put(
            key,
            Slot {
                value: Value::Counter(value),
                expires_at: None,
            },
            now,
        )
    }

    async fn get(&self, key: &str) -> PortResult<Option<i64>> {
        let mut state = self.state();
        match state.live(key, Instant::now()).map(|s| &s.value) {
            None => Ok(None),
            Some(Value::Counter(v)) => Ok(Some(*v)),
            Some(_) => Err(wrong_type(key)),
        }
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

#[async_trait]
impl IdempotencyPort for MemoryBackend {
    async fn begin(
        &self,
        key: &str,
        fingerprint: &str,
        token: &str,
        lease: Duration,
    ) -> PortResult<BeginOutcome> {
        let now = Instant::now();
        let mut state = self.state();
        if let Some(slot) = state.live(key, now) {
            let Value::Idem {
                fingerprint: stored,
                snapshot,
                ..
            } = &slot.value
            else {
                return Err(wrong_type(key));
            };
            return Ok(if stored != fingerprint {
                BeginOutcome::Mismatch
            } else if let Some(snapshot) = snapshot {
                BeginOutcome::Replay(snapshot.clone())
            } else {
                BeginOutcome::InProgress
            });
        }
        state.put(
            key,
            Slot {
                value: Value::Idem {
                    fingerprint: fingerprint.to_owned(),
                    token: token.to_owned(),
                    snapshot: None,
                },
                expires_at: Some(now + lease),
            },
            now,
        )?;
        Ok(BeginOutcome::Proceed)
    }

    async fn commit(
        &self,
        key: &str,
        token: &str,
        snapshot: &[u8],
        ttl: Duration,
    ) -> PortResult<bool> {
        let now = Instant::now();
        let mut state = self.state();
        let Some(slot) = state.live(key, now) else {
            return Ok(false);
        };
        match &mut slot.value {
            Value::Idem {
                token: held,
                snapshot: stored @ None,
                ..
            } if held == token => {
                *stored = Some(snapshot.to_vec());
                slot.expires_at = Some(now + ttl);
                Ok(true)
            }
            Value::Idem { .. } => Ok(false),
            _ => Err(wrong_type(key)),
        }
    }

    async fn release(&self, key: &str, token: &str) -> PortResult<bool> {
        let now = Instant::now();
        let mut state = self.state();
        let Some(slot) = state.live(key, now) else {
            return Ok(false);
        };
        match &slot.value {
            Value::Idem {
                token: held,
                snapshot: None,
                ..
            } if held == token => {
                state.slots.remove(key);
                Ok(true)
            }
            Value::Idem { .. } => Ok(false),
            _ => Err(wrong_type(key)),
        }
    }
}

#[async_trait]
impl RateLimitPort for MemoryBackend {
    async fn check(&self, key: &str, quota: &Quota, cost: u64) -> PortResult<Decision> {
        let now = Instant::now();
        let now_us = now.duration_since(self.inner.epoch).as_micros() as u64;
        let epoch = self.inner.epoch;
        let at = |us: u64| Some(epoch + Duration::from_micros(us));
        let mut state = self.state();
        let fresh = || match quota.algorithm {
            Algorithm::FixedWindow => Value::Window((u64::MAX, 0)),
            Algorithm::SlidingWindow => Value::Log(VecDeque::new()),
            Algorithm::Gcra => Value::Tat(0.0),
        };
        let mut slot = match state.slots.remove(key) {
            Some(s) if s.expires_at.is_none_or(|t| t > now) => s,
            _ => Slot {
                value: fresh(),
                expires_at: None,
            },
        };
        let same_algorithm = matches!(
            (&slot.value, quota.algorithm),
            (Value::Window(_), Algorithm::FixedWindow)
                | (Value::Log(_), Algorithm::SlidingWindow)
                | (Value::Tat(_), Algorithm::Gcra)
        );
        if !same_algorithm {
            // The quota's algorithm changed (or the key held something else): start afresh,
            // as the Redis scripts do.
            slot.value = fresh();
        }
        let (decision, until) = match &mut slot.value {
            Value::Window(st) => rate_limit::fixed_window(st, now_us, quota, cost),
            Value::Log(log) => rate_limit::sliding_window(log, now_us, quota, cost),
            Value::Tat(tat) => rate_limit::gcra(tat, now_us, quota, cost),
            _ => unreachable_state(key)?,
        };
        slot.expires_at = at(until);
        state.put(key, slot, now)?;
        Ok(decision)
    }
}

#[async_trait]
impl LockPort for MemoryBackend {
    async fn acquire(&self, key: &str, token: &str, lease: Duration) -> PortResult<bool> {
        let now = Instant::now();
        let mut state = self.state();
        if state.live(key, now).is_some() {
            return Ok(false);
        }
        state.put(
            key,
            Slot {
                value: Value::Lock(token.to_owned()),
                expires_at: Some(now + lease),
            },
            now,
        )?;
        Ok(true)
    }

    async fn extend(&self, key: &str, token: &str, lease: Duration) -> PortResult<bool> {
        let now = Instant::now();
        let mut state = self.state();
        match state.live(key, now) {
            Some(slot) if matches!(&slot.value, Value::Lock(t) if t == token) => {
                slot.expires_at = Some(now + lease);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release(&self, key: &str, token: &str) -> PortResult<bool> {
        let now = Instant::now();
        let mut state = self.state();
        match state.live(key, now) {
            Some(slot) if matches!(&slot.value, Value::Lock(t) if t == token) => {
                state.slots.remove(key);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
