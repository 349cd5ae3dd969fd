//! The get-or-compute flow of a cache route: what `#[cached]` runs, public for hand-written
//! code.

use std::future::Future;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::singleflight::{self, Role};
use super::{lease, reentrant, Cache, LockGuard, Locks};

/// Encodes the stored part of a value (`None`: nothing to store).
type EncodeFn<R> = fn(&R) -> Option<Result<Vec<u8>, String>>;

/// How a computed value of type `R` is stored in a cache and read back: which values are
/// stored (all, `Ok` only, `Some` only) and in which form.
///
/// ```
/// use forze_runtime::ValueCodec;
/// let whole = ValueCodec::<u32>::whole();
/// let ok_only = ValueCodec::<Result<u32, String>>::ok_only();
/// let some_only = ValueCodec::<Option<u32>>::some_only();
/// # let _ = (whole, ok_only, some_only);
/// ```
pub struct ValueCodec<R> {
    encode: EncodeFn<R>,
    decode: fn(&[u8]) -> Result<R, String>,
    near: Option<NearFns<R>>,
}

thread_local! {
    /// The buffer a cache read's storage key is first built in (see `get_or_compute_with`).
    static NEAR_KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// What a cache read's first look found when it was not a near hit (the answer then).
pub(crate) enum Look {
    /// No storage key (a tenant-aware route without a tenant): call through.
    NoKey(crate::Error),
    /// The key is being computed by this very task: call through.
    Reentered,
    /// Go on to the backend with this storage key.
    Read(String),
}

/// How a value of type `R` is kept in a near tier and taken out again.
struct NearFns<R> {
    /// The shared form of the stored part (`None`: not stored).
    keep: fn(&R) -> Option<crate::near::Shared>,
    /// A return value from a shared form (`None`: another type's).
    load: fn(&(dyn std::any::Any + Send + Sync)) -> Option<R>,
}

impl<R> Clone for NearFns<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for NearFns<R> {}

impl<R> Clone for ValueCodec<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for ValueCodec<R> {}

impl<R> std::fmt::Debug for ValueCodec<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValueCodec").finish_non_exhaustive()
    }
}

impl<R> ValueCodec<R> {
    /// A codec from its two halves: `encode` gives the bytes to store (`None`: do not store this
    /// value), `decode` a value from stored bytes.
    pub fn new(encode: EncodeFn<R>, decode: fn(&[u8]) -> Result<R, String>) -> Self {
        Self {
            encode,
            decode,
            near: None,
        }
    }

    /// This codec, keeping values in a route's near tier too: `keep` gives the shared form of
    /// the stored part of a value (`None`: not kept), `load` a value from it (`None`: not of
    /// this codec's type). What `#[cached]` uses when the stored type is `Clone`.
    pub fn with_near(
        mut self,
        keep: fn(&R) -> Option<std::sync::Arc<dyn std::any::Any + Send + Sync>>,
        load: fn(&(dyn std::any::Any + Send + Sync)) -> Option<R>,
    ) -> Self {
        self.near = Some(NearFns { keep, load });
        self
    }

    /// Whether values are kept in a near tier.
    pub fn keeps_near(&self) -> bool {
        self.near.is_some()
    }
}

impl<R: Serialize + DeserializeOwned> ValueCodec<R> {
    /// Every value is stored, as JSON.
    pub fn whole() -> Self {
        Self::new(
            |r| Some(crate::codec::encode(r)),
            |b| crate::codec::decode(b),
        )
    }
}

impl<T: Serialize + DeserializeOwned, E> ValueCodec<Result<T, E>> {
    /// `Ok` values are stored; errors never are.
    pub fn ok_only() -> Self {
        Self::new(
            |r| r.as_ref().ok().map(crate::codec::encode),
            |b| crate::codec::decode(b).map(Ok),
        )
    }
}

impl<T: Serialize + DeserializeOwned> ValueCodec<Option<T>> {
    /// `Some` values are stored; `None` never is.
    pub fn some_only() -> Self {
        Self::new(
            |r| r.as_ref().map(crate::codec::encode),
            |b| crate::codec::decode(b).map(Some),
        )
    }
}

/// Where a fill lock comes from: a [`Locks`] handle, or something that finds one only when a
/// miss needs it (what `#[cached(lock = "...")]` passes, so that a hit never looks it up).
pub trait FillLock: Sync {
    /// The lock route, if there is one to use.
    fn fill_locks(&self) -> Option<Locks>;
}

impl FillLock for Locks {
    fn fill_locks(&self) -> Option<Locks> {
        Some(self.clone())
    }
}

/// The settings of one [`Cache::get_or_compute_with`] call.
///
/// ```
/// use std::time::Duration;
/// use forze_runtime::Fill;
/// let tags = ["team:7".to_owned()];
/// let fill = Fill::new().ttl(Duration::from_secs(60)).tags(&tags);
/// # let _ = fill;
/// ```
#[derive(Clone, Copy, Default)]
pub struct Fill<'a> {
    ttl: Option<Duration>,
    tags: &'a [String],
    lock: Option<&'a dyn FillLock>,
}

impl std::fmt::Debug for Fill<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fill")
            .field("ttl", &self.ttl)
            .field("tags", &self.tags)
            .field("lock", &self.lock.is_some())
            .finish()
    }
}

impl<'a> Fill<'a> {
    /// The route's TTL, no tags, no lock across processes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores the value for `ttl` (`None`: the route's TTL).
    pub fn ttl(mut self, ttl: impl Into<Option<Duration>>) -> Self {
        self.ttl = ttl.into();
        self
    }

    /// Records the entry under each of `tags` (see [`Cache::invalidate_tag`]).
    pub fn tags(mut self, tags: &'a [String]) -> Self {
        self.tags = tags;
        self
    }

    /// Guards the fill across processes with a lock of this route: one process computes, the
    /// others poll the cache (with backoff, up to the lock's lease) for its value.
    pub fn lock(mut self, locks: &'a dyn FillLock) -> Self {
        self.lock = Some(locks);
        self
    }
}

enum Filled {
    /// Another process filled the entry meanwhile: its bytes.
    Bytes(Vec<u8>),
    /// This call holds the fill lock: compute, store, release.
    Ours(LockGuard),
    /// No lock could be had in time (or the lock backend failed): compute without it.
    Unguarded,
}

impl Cache {
    /// The value at `key`, or `compute()`'s, stored for the route's TTL. See
    /// [`Cache::get_or_compute_with`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), forze_runtime::Error> {
    /// use forze_runtime::{CacheRoute, Forze};
    /// let forze = Forze::builder().cache("users", CacheRoute::new("app:users")).build().await?;
    /// let users = forze.cache("users")?;
    /// let a: String = users.get_or_compute("user:1", || async { "Ada".to_owned() }).await;
    /// let b: String = users.get_or_compute("user:1", || async { "not run".to_owned() }).await;
    /// assert_eq!((a.as_str(), b.as_str()), ("Ada", "Ada"));
    /// assert_eq!(users.get::<String>("user:1").await?, Some("Ada".into()));
    /// # Ok(()) }
    /// ```
    pub async fn get_or_compute<T, F, Fut>(&self, key: &str, compute: F) -> T
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        self.get_or_compute_with(key, &ValueCodec::whole(), Fill::new(), compute)
            .await
    }

    /// The value at `key`, or the one `compute()` returns, stored as `codec` says (the flow of
    /// `#[cached]`):
    ///
    /// - a hit is one read and nothing else;
    /// - concurrent misses of `key` in this process share one computation (the others wait for
    ///   its result); with [`Fill::lock`], also across processes;
    /// - a computation that asks for its own `key` again (a recursive call, another function
    ///   with the same key) computes directly instead of waiting for itself;
    /// - the cache never fails the call: when it is down, slow, missing a tenant, or holds an
    ///   entry that does not decode, `compute()` runs, its value returns, a `warn` is traced.
    ///
    /// Each call is a `forze` span (`debug`) with its outcome: `hit`, `fill`, `shared` or
    /// `bypass` (see the README's telemetry section).
    pub async fn get_or_compute_with<R, F, Fut>(
        &self,
        key: &str,
        codec: &ValueCodec<R>,
        fill: Fill<'_>,
        compute: F,
    ) -> R
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = R>,
    {
        match self.first_look(key, codec) {
            Ok(r) => r,
            Err(probe) => self.after_look(key, probe, codec, fill, compute).await,
        }
    }

    /// The first look of [`Cache::get_or_compute_with`], synchronous: a near hit is the answer
    /// (`Ok`), answered before the flow's future is built (measured: building and moving it was
    /// ~10% of a near hit); anything else is what the flow goes on with.
    pub(crate) fn first_look<R>(&self, key: &str, codec: &ValueCodec<R>) -> Result<R, Look> {
        let near = self.probe(key, codec)?;
        crate::telemetry::cache_request(&self.core.name, "near");
        crate::telemetry::flow_span("cache", &self.core.name).record("forze.outcome", "near");
        Ok(near)
    }

    /// The rest of [`Cache::get_or_compute_with`] after its first look, in its span.
    pub(crate) async fn after_look<R, F, Fut>(
        &self,
        key: &str,
        probe: Look,
        codec: &ValueCodec<R>,
        fill: Fill<'_>,
        compute: F,
    ) -> R
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = R>,
    {
        let span = crate::telemetry::flow_span("cache", &self.core.name);
        if span.is_disabled() {
            return self.flow(key, probe, codec, fill, compute).await;
        }
        tracing::Instrument::instrument(self.flow(key, probe, codec, fill, compute), span).await
    }

    /// The first look of a flow: the storage key (built in a per-thread buffer: a near hit, a
    /// lookup and a clone, allocates none of its own), whether this task is computing it, and
    /// the value held near (`Ok`).
    fn probe<R>(&self, key: &str, codec: &ValueCodec<R>) -> Result<R, Look> {
        let space = match self.core.space() {
            Ok(space) => space,
            Err(e) => return Err(Look::NoKey(e)),
        };
        let near = self.near.as_deref().zip(codec.near);
        NEAR_KEY.with_borrow_mut(|full| {
            space.write_cache_kv(key, full);
            if reentrant::holds(full) {
                return Err(Look::Reentered);
            }
            if let Some((tier, fns)) = near {
                if let Some(held) = tier.get(full) {
                    if let Some(r) = (fns.load)(&*held) {
                        return Ok(r);
                    }
                    // Kept as written by a miss: decoded by this first hit.
                    let decoded = tier.decode_held(full, &held, |bytes| {
                        let r = (codec.decode)(bytes).ok()?;
                        let keep = (fns.keep)(&r);
                        Some((r, keep))
                    });
                    if let Some(r) = decoded {
                        return Ok(r);
                    }
                }
            }
            Err(Look::Read(full.clone()))
        })
    }

    /// [`Cache::get_or_compute_with`] within its span.
    async fn flow<R, F, Fut>(
        &self,
        key: &str,
        probe: Look,
        codec: &ValueCodec<R>,
        fill: Fill<'_>,
        compute: F,
    ) -> R
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = R>,
    {
        use crate::telemetry::outcome;
        let near = self.near.as_deref().zip(codec.near);
        let full = match probe {
            Look::NoKey(e) => {
                tracing::warn!(cache = %self.core.name, key, error = %e, "no cache key; calling through");
                outcome("bypass");
                return compute().await;
            }
            Look::Reentered => {
                outcome("bypass");
                return compute().await;
            }
            Look::Read(full) => full,
        };
        // Otherwise a hit is one read and nothing else. A value to be kept near (its key used
        // here before) is read tracked, with its TTL; the ticket is taken before the read is
        // sent.
        let ticket = near.and_then(|(tier, _)| tier.claim(&full));
        let read = match ticket {
            Some(_) => self.port.get_with_ttl(&full).await,
            None => self
                .port
                .get(&full)
                .await
                .map(|found| found.map(|b| (b, None))),
        };
        // A backend that just failed to answer is not asked again by this call: no fill lock,
        // no write (one deadline per call, not two); concurrent misses still share one
        // computation.
        let backend_down = matches!(&read, Err(e) if e.is_unavailable());
        let found = read.unwrap_or_else(|e| {
            tracing::warn!(cache = %self.core.name, key, error = %e, "cache read failed; calling through");
            None
        });
        if let Some((bytes, ttl)) = found {
            if let Some(r) = self.decode_with(codec, key, &bytes) {
                if let (Some((tier, fns)), Some(ticket)) = (near, ticket) {
                    if let Some(shared) = (fns.keep)(&r) {
                        tier.fill(
                            &full,
                            ticket,
                            shared,
                            crate::codec::compress::plain_len(&bytes),
                            ttl,
                        );
                    }
                }
                crate::telemetry::cache_request(&self.core.name, "hit");
                outcome("hit");
                return r;
            }
        }
        crate::telemetry::cache_request(&self.core.name, "miss");
        // A miss: concurrent misses of this key share one computation.
        let leader = match self.flights.join(full) {
            Role::Leader(l) => l,
            Role::Follower(rx) => {
                if let Some(bytes) = singleflight::wait(rx).await {
                    if let Some(r) = self.decode_with(codec, key, &bytes) {
                        outcome("shared");
                        return r;
                    }
                }
                outcome("bypass");
                return compute().await;
            }
        };
        let full = leader.key();
        // Across processes: one filler at a time per key; the others wait for its value.
        let mut guard = None;
        let lock = fill.lock.filter(|_| !backend_down);
        if let Some(locks) = lock.and_then(FillLock::fill_locks) {
            match self.fill_across_processes(&locks, key, full).await {
                Filled::Bytes(bytes) => {
                    if let Some(r) = self.decode_with(codec, key, &bytes) {
                        leader.finish(Some(bytes));
                        outcome("shared");
                        return r;
                    }
                }
                Filled::Ours(g) => guard = Some(g),
                Filled::Unguarded => {}
            }
        }
        let work = reentrant::holding(full, compute());
        let result = match &guard {
            // The fill lock follows the work: renewed while the value is computed.
            Some(g) => lease::renewing(key, g.lease(), || g.extend(g.lease()), work).await,
            None => work.await,
        };
        let encoded = (codec.encode)(&result).and_then(|b| match b {
            Ok(b) => Some(b),
            Err(e) => {
                tracing::warn!(cache = %self.core.name, key, error = %e, "result does not serialize; not cached");
                None
            }
        });
        if let Some(bytes) = encoded.as_ref().filter(|_| !backend_down) {
            // Kept as written (decoded by its first near hit, if one comes) when its read was
            // to keep it.
            let kept = ticket.map(|t| {
                let encoded: crate::near::Shared =
                    std::sync::Arc::new(crate::near::Encoded(bytes.clone()));
                (t, encoded)
            });
            self.write_bytes(key, full, bytes, fill.ttl, fill.tags, kept)
                .await;
            outcome("fill");
        } else {
            outcome("bypass");
        }
        if let Some(guard) = guard {
            if let Err(e) = guard.release().await {
                tracing::warn!(cache = %self.core.name, key, error = %e, "fill lock not released; it expires with its lease");
            }
        }
        leader.finish(encoded);
        result
    }

    fn decode_with<R>(&self, codec: &ValueCodec<R>, key: &str, bytes: &[u8]) -> Option<R> {
        match (codec.decode)(bytes) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(cache = %self.core.name, key, error = %e, "cached value does not decode; treated as a miss");
                None
            }
        }
    }

    /// Takes the fill lock of `full`, or waits (polling the cache with backoff, at most the
    /// lock's lease) for the process that holds it to store the value.
    async fn fill_across_processes(&self, locks: &Locks, key: &str, full: &str) -> Filled {
        let started = Instant::now();
        let mut pause = Duration::from_millis(5);
        let mut waited = false;
        loop {
            match locks.try_acquire_fill(full).await {
                Ok(Some(guard)) => {
                    // Someone may have filled the entry between our miss and this lock.
                    if waited {
                        if let Some(bytes) = self.read_bytes(key, full).await {
                            let _ = guard.release().await;
                            return Filled::Bytes(bytes);
                        }
                    }
                    return Filled::Ours(guard);
                }
                Ok(None) if started.elapsed() < locks.lease => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(100));
                    waited = true;
                    if let Some(bytes) = self.read_bytes(key, full).await {
                        return Filled::Bytes(bytes);
                    }
                }
                Ok(None) => return Filled::Unguarded,
                Err(e) => {
                    tracing::warn!(cache = %self.core.name, key, error = %e, "fill lock failed; filling without it");
                    return Filled::Unguarded;
                }
            }
        }
    }

    /// Reads raw bytes; any failure is a logged miss.
    async fn read_bytes(&self, key: &str, full: &str) -> Option<Vec<u8>> {
        match self.port.get(full).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(cache = %self.core.name, key, error = %e, "cache read failed; calling through");
                None
            }
        }
    }

    /// Stores a computed value's `bytes` (packed, if the route compresses) at `full`; on a near
    /// route, `kept` (the claim of the miss's read, taken before it was sent, and the value as
    /// encoded) is kept near once the write is done, if nothing touched the key since the
    /// claim; otherwise the near value is dropped. Any failure is logged.
    async fn write_bytes(
        &self,
        key: &str,
        full: &str,
        bytes: &[u8],
        ttl: Option<Duration>,
        tags: &[String],
        kept: Option<(crate::near::Ticket, crate::near::Shared)>,
    ) {
        let plain = bytes.len();
        let bytes = &*self.pack(bytes);
        if bytes.len() > self.max_value_bytes {
            tracing::warn!(cache = %self.core.name, key, size = bytes.len(), max = self.max_value_bytes, "result too large to cache; not stored");
            return;
        }
        let ttl = ttl.unwrap_or(self.ttl);
        let (written, kept) = if tags.is_empty() {
            match kept {
                Some(kept) => match self.port.set_kept(full, bytes, ttl).await {
                    Ok(tracked) => (Ok(()), Some(kept).filter(|_| tracked)),
                    Err(e) => (Err(e), None),
                },
                None => (self.port.set(full, bytes, ttl).await, None),
            }
        } else {
            // Written by a script on the data connections: not kept.
            let written = match self.tag_keys(tags) {
                Ok(tag_keys) => self.port.set_tagged(full, bytes, ttl, &tag_keys).await,
                Err(e) => {
                    tracing::warn!(cache = %self.core.name, key, error = %e, "tags not recorded");
                    self.port.set(full, bytes, ttl).await
                }
            };
            (written, None)
        };
        match (written, self.near.as_deref()) {
            (Ok(()), Some(tier)) => tier.after_write(full, kept, plain, Some(ttl)),
            (written, _) => {
                self.forget(full);
                if let Err(e) = written {
                    tracing::warn!(cache = %self.core.name, key, error = %e, "cache write failed; result not stored");
                }
            }
        }
    }
}
