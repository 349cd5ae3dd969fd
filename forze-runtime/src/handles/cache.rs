use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::RouteCore;
use crate::codec::decode_current;
use crate::error::Error;
use crate::ports::{CachePort, VersionWrite, VersionedKeys};
use crate::wiring::FailurePolicy;

/// A typed handle to a wired cache route.
///
/// Values are JSON-encoded. With the default [`FailurePolicy::FailOpen`], a backend failure on
/// `get` reads as a miss and on `set` is skipped, both logged with `tracing` at `warn`, so a
/// cache outage never fails the caller's work; [`FailurePolicy::FailClosed`] returns those
/// errors instead. Whatever the policy, a stored value that does not decode as `T` (corrupt
/// bytes, an older shape of the type) is a miss, and invalidations report their errors.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), forze_runtime::Error> {
/// use forze_runtime::{CacheRoute, Forze};
/// let forze = Forze::builder().cache("users", CacheRoute::new("app:users")).build().await?;
/// let users = forze.cache("users")?;
/// users.set("user:1", &"Ada").await?;
/// assert_eq!(users.get::<String>("user:1").await?, Some("Ada".to_owned()));
/// assert!(users.invalidate("user:1").await?);
/// assert_eq!(users.get::<String>("user:1").await?, None);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Cache {
    pub(crate) core: RouteCore,
    pub(crate) port: Arc<dyn CachePort>,
    pub(crate) ttl: Duration,
    pub(crate) max_value_bytes: usize,
    /// How values above a size are compressed, if they are.
    pub(crate) compress: Option<crate::codec::Compression>,
    pub(crate) policy: FailurePolicy,
    pub(crate) flights: Arc<super::singleflight::SingleFlight>,
    /// The route's near tier, if it has one.
    pub(crate) near: Option<Arc<crate::near::NearTier>>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("name", &self.core.name)
            .field("namespace", &self.core.namespace())
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// A value read from the versioned (document) cache, with its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    /// The version the pointer named.
    pub version: u64,
    /// The body of that version.
    pub value: T,
}

/// The undecoded value of a versioned entry's current key: `{version}:{body}`.
pub(crate) struct CurrentRaw {
    pub(crate) version: u64,
    value: Vec<u8>,
    body_at: usize,
}

impl CurrentRaw {
    /// The body's bytes.
    pub(crate) fn body(&self) -> &[u8] {
        &self.value[self.body_at..]
    }
}

/// A fence set on a versioned entry: what it replaced.
pub(crate) struct Fence {
    previous: crate::ports::FencedEntry,
}

/// Versions must survive the trip through Lua's doubles on Redis.
const MAX_VERSION: u64 = 1 << 53;

impl Cache {
    /// The route's name.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// The route's default TTL.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// This handle, scoped to `tenant` (for tenant-aware routes; ignored otherwise).
    pub fn with_tenant(&self, tenant: &str) -> Self {
        Self {
            core: self.core.with_tenant(tenant),
            ..self.clone()
        }
    }

    fn fail_open<T>(&self, key: &str, op: &str, err: Error, fallback: T) -> Result<T, Error> {
        match self.policy {
            FailurePolicy::FailOpen => {
                tracing::warn!(cache = %self.core.name, key, op, error = %err, "cache unavailable; continuing without it");
                Ok(fallback)
            }
            FailurePolicy::FailClosed => Err(err),
        }
    }

    fn decode<T: DeserializeOwned>(&self, key: &str, bytes: &[u8]) -> Option<T> {
        match crate::codec::decode(bytes) {
            Ok(v) => Some(v),
            Err(message) => {
                tracing::warn!(cache = %self.core.name, key, error = %message, "cached value does not decode; treated as a miss");
                None
            }
        }
    }

    /// The stored form of encoded `bytes`: compressed when the route says so.
    pub(crate) fn pack<'a>(&self, bytes: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        match &self.compress {
            Some(c) => c.pack(bytes),
            None => std::borrow::Cow::Borrowed(bytes),
        }
    }

    /// `value` encoded, packed and checked against `max_value_bytes`: what a write stores.
    fn stored<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<Vec<u8>, Error> {
        let bytes = self.core.encode(key, value)?;
        let bytes = match self.pack(&bytes) {
            std::borrow::Cow::Owned(packed) => packed,
            std::borrow::Cow::Borrowed(_) => bytes,
        };
        self.check_size(key, &bytes)?;
        Ok(bytes)
    }

    fn check_size(&self, key: &str, bytes: &[u8]) -> Result<(), Error> {
        if bytes.len() > self.max_value_bytes {
            return Err(Error::TooLarge {
                kind: self.core.kind,
                route: self.core.name.to_string(),
                key: key.to_owned(),
                size: bytes.len(),
                max: self.max_value_bytes,
            });
        }
        Ok(())
    }

    /// The entry at `key` (a miss when absent, expired, undecodable, or — fail-open — when the
    /// backend fails).
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        let full = self.core.space()?.cache_kv(key);
        match self.port.get(&full).await {
            Ok(Some(bytes)) => Ok(self.decode(key, &bytes)),
            Ok(None) => Ok(None),
            Err(e) => self.fail_open(key, "get", self.core.backend_err(key, e), None),
        }
    }

    /// Stores `value` at `key` for the route's TTL.
    pub async fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), Error> {
        self.set_with_ttl(key, value, self.ttl).await
    }

    /// Stores `value` at `key` for `ttl`. A value above the route's `max_value_bytes` is not
    /// written and gives [`Error::TooLarge`], whatever the failure policy.
    pub async fn set_with_ttl<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<(), Error> {
        if ttl.is_zero() {
            return Err(self.core.invalid("ttl must be above zero"));
        }
        let full = self.core.space()?.cache_kv(key);
        let bytes = self.stored(key, value)?;
        let written = self.port.set(&full, &bytes, ttl).await;
        self.forget(&full);
        if let Some(near) = &self.near {
            // A key this process writes is used: its next read keeps the value.
            near.note_use(&full);
        }
        match written {
            Ok(()) => Ok(()),
            Err(e) => self.fail_open(key, "set", self.core.backend_err(key, e), ()),
        }
    }

    /// Deletes the entry at `key`; returns whether it existed. Errors are always returned: a
    /// lost invalidation would leave stale data behind.
    pub async fn invalidate(&self, key: &str) -> Result<bool, Error> {
        let full = self.core.space()?.cache_kv(key);
        let deleted = self.port.delete(std::slice::from_ref(&full)).await;
        self.forget(&full);
        let n = deleted.map_err(|e| self.core.backend_err(key, e))?;
        Ok(n > 0)
    }

    /// The entry at `key`, shared: on a route with a near cache ([`crate::CacheRoute::near`]),
    /// a value held in this process is returned as it is (an `Arc` clone: no network, no
    /// decoding), and a value read from the backend is kept there from the key's second use
    /// here (see [`crate::NearCache`]); otherwise as [`Cache::get`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), forze_runtime::Error> {
    /// use forze_runtime::{CacheRoute, Forze, NearCache};
    /// let forze = Forze::builder()
    ///     .cache("users", CacheRoute::new("app:users").near(NearCache::new(1 << 20)))
    ///     .build()
    ///     .await?;
    /// let users = forze.cache("users")?;
    /// users.set("user:1", &"Ada".to_owned()).await?;
    /// // Written here, so used: this read keeps the value near.
    /// let first = users.get_shared::<String>("user:1").await?.unwrap();
    /// let again = users.get_shared::<String>("user:1").await?.unwrap(); // from this process
    /// assert!(std::sync::Arc::ptr_eq(&first, &again));
    /// # Ok(()) }
    /// ```
    pub async fn get_shared<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
        key: &str,
    ) -> Result<Option<Arc<T>>, Error> {
        let full = self.core.space()?.cache_kv(key);
        let Some(near) = &self.near else {
            return Ok(self.get::<T>(key).await?.map(Arc::new));
        };
        self.read_near(near, key, &full, |bytes| self.decode::<T>(key, bytes))
            .await
    }

    /// The entry at `full` through the route's near tier `near`: the value held in this
    /// process, else the backend's bytes, `decode`d and kept near when the key was used here
    /// before (read tracked, [`crate::ports::CachePort::get_with_ttl`]). The ticket is taken before
    /// the read is sent, so a reply that an invalidation (the server's, or a write of this
    /// process) overtook is never stored. The one near read of the cache handle, of
    /// [`Cache::get_shared`] and of documents.
    pub(crate) async fn read_near<T: Send + Sync + 'static>(
        &self,
        near: &crate::near::NearTier,
        key: &str,
        full: &str,
        decode: impl Fn(&[u8]) -> Option<T>,
    ) -> Result<Option<Arc<T>>, Error> {
        if let Some(held) = near.get(full) {
            if let Ok(v) = held.clone().downcast::<T>() {
                return Ok(Some(v));
            }
            // Kept as written by a miss (`get_or_compute`): decoded by this first hit.
            let decoded = near.decode_held(full, &held, |bytes| {
                let v = Arc::new(decode(bytes)?);
                Some((v.clone(), Some(v as crate::near::Shared)))
            });
            if let Some(v) = decoded {
                return Ok(Some(v));
            }
        }
        // A value to be kept (its key used here before) is read tracked, with its TTL; the
        // ticket is taken before the read is sent.
        let Some(ticket) = near.claim(full) else {
            return match self.port.get(full).await {
                Ok(found) => Ok(found.and_then(|bytes| decode(&bytes)).map(Arc::new)),
                Err(e) => self.fail_open(key, "get", self.core.backend_err(key, e), None),
            };
        };
        match self.port.get_with_ttl(full).await {
            Ok(Some((bytes, ttl))) => Ok(decode(&bytes).map(|v| {
                let v = Arc::new(v);
                near.fill(
                    full,
                    ticket,
                    v.clone(),
                    crate::codec::compress::plain_len(&bytes),
                    ttl,
                );
                v
            })),
            Ok(None) => Ok(None),
            Err(e) => self.fail_open(key, "get", self.core.backend_err(key, e), None),
        }
    }

    /// The versioned entry `key` through the near tier, its body turned into a `T` by
    /// `decode` (`None`: not a usable body, read elsewhere); `None` without a near tier.
    pub(crate) async fn current_near<T: Send + Sync + 'static>(
        &self,
        key: &str,
        decode: impl Fn(u64, &[u8]) -> Option<T>,
    ) -> Option<Result<Option<Arc<T>>, Error>> {
        let near = self.near.as_ref()?;
        let full = match self.core.space() {
            Ok(space) => space.cache_current(key),
            Err(e) => return Some(Err(e)),
        };
        Some(
            self.read_near(near, key, &full, |value| {
                let (version, body_at) = decode_current(value)?;
                decode(version, &value[body_at..])
            })
            .await,
        )
    }

    /// Drops `full` from the near tier (after a write of this process).
    pub(crate) fn forget(&self, full: &str) {
        if let Some(near) = &self.near {
            near.invalidate(full);
        }
    }

    /// The entries at `keys`, in order, in one round trip.
    pub async fn get_many<T: DeserializeOwned>(
        &self,
        keys: &[&str],
    ) -> Result<Vec<Option<T>>, Error> {
        let space = self.core.space()?;
        let full: Vec<String> = keys.iter().map(|k| space.cache_kv(k)).collect();
        match self.port.get_many(&full).await {
            Ok(found) => Ok(found
                .into_iter()
                .zip(keys)
                .map(|(bytes, k)| bytes.and_then(|b| self.decode(k, &b)))
                .collect()),
            Err(e) => {
                let err = self.core.backend_err(keys.first().map_or("", |k| k), e);
                self.fail_open("", "get_many", err, keys.iter().map(|_| None).collect())
            }
        }
    }

    /// Stores every `(key, value)` for the route's TTL in one round trip. Nothing is written if
    /// any value fails to encode or is too large.
    pub async fn set_many<T: Serialize>(&self, entries: &[(&str, T)]) -> Result<(), Error> {
        let space = self.core.space()?;
        let mut encoded = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let bytes = self.stored(key, value)?;
            encoded.push((space.cache_kv(key), bytes));
        }
        let written = self.port.set_many(&encoded, self.ttl).await;
        for (full, _) in &encoded {
            self.forget(full);
        }
        match written {
            Ok(()) => Ok(()),
            Err(e) => {
                let err = self
                    .core
                    .backend_err(entries.first().map_or("", |(k, _)| k), e);
                self.fail_open("", "set_many", err, ())
            }
        }
    }

    /// The current version of the versioned entry `key` and its body, in one round trip (one
    /// `GET` of `{ns}/cache/current/{{key}}`, which [`Cache::set_version`] writes together with
    /// the pointer `{ns}/cache/pointer/{{key}}` and the body `{ns}/cache/body/{{key}}/{version}`).
    pub async fn get_current<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<Versioned<T>>, Error> {
        let Some(current) = self.get_current_raw(key).await? else {
            return Ok(None);
        };
        Ok(self.decode(key, current.body()).map(|value| Versioned {
            version: current.version,
            value,
        }))
    }

    /// [`Cache::get_current`] without decoding the body.
    pub(crate) async fn get_current_raw(&self, key: &str) -> Result<Option<CurrentRaw>, Error> {
        let current = self.core.space()?.cache_current(key);
        match self.port.get(&current).await {
            // A value that does not start with a version (written by something else) is a miss.
            Ok(found) => Ok(found.and_then(|value| {
                let (version, body_at) = decode_current(&value)?;
                Some(CurrentRaw {
                    version,
                    value,
                    body_at,
                })
            })),
            Err(e) => self.fail_open(key, "get_current", self.core.backend_err(key, e), None),
        }
    }

    /// Stores `value` as `version` of `key` and moves the pointer to it, unless the pointer
    /// already names a newer version: the pointer never moves back. Returns whether `version` is
    /// now current (`false` when a newer one was there, or — fail-open — the backend failed).
    /// Versions go up to 2^53.
    pub async fn set_version<T: Serialize + ?Sized>(
        &self,
        key: &str,
        version: u64,
        value: &T,
    ) -> Result<bool, Error> {
        let bytes = self.core.encode(key, value)?;
        self.set_version_raw(key, version, &bytes, VersionWrite::Rewarm)
            .await
    }

    /// [`Cache::set_version`] with already-encoded bytes, by `write`.
    pub(crate) async fn set_version_raw(
        &self,
        key: &str,
        version: u64,
        bytes: &[u8],
        write: VersionWrite,
    ) -> Result<bool, Error> {
        if version > MAX_VERSION {
            return Err(self
                .core
                .invalid(format!("version {version} is above 2^53")));
        }
        let [pointer, body_prefix, current] = self.versioned_keys(key)?;
        let bytes = &*self.pack(bytes);
        self.check_size(key, bytes)?;
        let copy = crate::codec::encode_current(version, bytes);
        let body_at = copy.len() - bytes.len();
        let keys = VersionedKeys {
            pointer: &pointer,
            body_prefix: &body_prefix,
            current: &current,
        };
        let written = self
            .port
            .set_version(keys, version, &copy, body_at, self.ttl, write)
            .await;
        self.forget(&current);
        match written {
            Ok(moved) => Ok(moved),
            Err(e) => self.fail_open(key, "set_version", self.core.backend_err(key, e), false),
        }
    }

    fn versioned_keys(&self, key: &str) -> Result<[String; 3], Error> {
        let space = self.core.space()?;
        Ok([
            space.cache_pointer(key),
            space.cache_body_prefix(key),
            space.cache_current(key),
        ])
    }

    /// Fences the versioned entry `key` before its store is written (see [`CachePort::fence`]).
    /// Errors are always returned: a write that cannot fence the cache must not go on
    /// unnoticed.
    pub(crate) async fn fence(&self, key: &str) -> Result<Fence, Error> {
        let [pointer, body_prefix, current] = self.versioned_keys(key)?;
        let keys = VersionedKeys {
            pointer: &pointer,
            body_prefix: &body_prefix,
            current: &current,
        };
        let fenced = self.port.fence(keys, self.ttl).await;
        self.forget(&current);
        let previous = fenced.map_err(|e| self.core.backend_err(key, e))?;
        Ok(Fence { previous })
    }

    /// Leaves `fence` on `key` after a write that changed nothing (the last writer out puts
    /// back what it replaced); failures are logged (the fence then expires on its own, and until then readers
    /// read the store).
    pub(crate) async fn unfence(&self, key: &str, fence: &Fence) {
        let lifted = match self.versioned_keys(key) {
            Ok([pointer, body_prefix, current]) => {
                let keys = VersionedKeys {
                    pointer: &pointer,
                    body_prefix: &body_prefix,
                    current: &current,
                };
                let lifted = self.port.unfence(keys, &fence.previous, self.ttl).await;
                self.forget(&current);
                lifted.map_err(|e| self.core.backend_err(key, e))
            }
            Err(e) => Err(e),
        };
        if let Err(e) = lifted {
            tracing::warn!(cache = %self.core.name, key, error = %e, "fence not lifted; readers use the store until it expires");
        }
    }

    /// Deletes every entry stored with `tag` (see `#[cached(tags = [...])]` and
    /// [`Cache::set_tagged`]) in one round trip, without scanning the keyspace; returns how many
    /// existed. Errors are always returned.
    pub async fn invalidate_tag(&self, tag: &str) -> Result<u64, Error> {
        let tag_key = self.core.space()?.cache_tag(tag);
        self.drop_tags(std::slice::from_ref(&tag_key), tag).await
    }

    /// Invalidates the tag sets `tag_keys`; on a near route, the keys they listed are dropped
    /// from this process's tier at once (not only when the server's invalidations arrive).
    async fn drop_tags(&self, tag_keys: &[String], first: &str) -> Result<u64, Error> {
        let (n, keys) = self
            .port
            .invalidate_tags(tag_keys, self.near.is_some())
            .await
            .map_err(|e| self.core.backend_err(first, e))?;
        for key in &keys {
            self.forget(key);
        }
        Ok(n)
    }

    /// Stores `value` at `key` for the route's TTL, recorded under each of `tags`.
    pub async fn set_tagged<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        tags: &[&str],
    ) -> Result<(), Error> {
        let space = self.core.space()?;
        let full = space.cache_kv(key);
        let bytes = self.stored(key, value)?;
        let tag_keys: Vec<String> = tags.iter().map(|t| space.cache_tag(t)).collect();
        let written = self
            .port
            .set_tagged(&full, &bytes, self.ttl, &tag_keys)
            .await;
        self.forget(&full);
        match written {
            Ok(()) => Ok(()),
            Err(e) => self.fail_open(key, "set_tagged", self.core.backend_err(key, e), ()),
        }
    }

    /// How many calls in this process joined the in-progress computation of the `#[cached]`
    /// entry `key` as followers, waiting for its result instead of running the function
    /// themselves (0 when nothing is in progress). A diagnostic, e.g. for stampede metrics.
    pub fn followers(&self, key: &str) -> usize {
        self.storage_key(key)
            .map(|k| self.flights.followers(&k))
            .unwrap_or(0)
    }

    /// This handle, storing entries for `ttl` instead of the route's TTL.
    pub fn with_ttl(&self, ttl: Duration) -> Self {
        Self {
            ttl,
            ..self.clone()
        }
    }

    pub(crate) fn storage_key(&self, key: &str) -> Result<String, Error> {
        Ok(self.core.space()?.cache_kv(key))
    }

    pub(crate) fn tag_keys(&self, tags: &[String]) -> Result<Vec<String>, Error> {
        let space = self.core.space()?;
        Ok(tags.iter().map(|t| space.cache_tag(t)).collect())
    }

    /// Deletes the entries at `keys` and every entry tagged with one of `tags` (the flow of
    /// `#[cache_invalidate]`); returns how many existed. Errors are always returned.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), forze_runtime::Error> {
    /// use forze_runtime::{CacheRoute, Forze};
    /// let forze = Forze::builder().cache("teams", CacheRoute::new("app:teams")).build().await?;
    /// let teams = forze.cache("teams")?;
    /// teams.set("team:1", &1).await?;
    /// teams.set_tagged("team:1:page:0", &"p0", &["team:1"]).await?;
    /// let dropped = teams.invalidate_entries(&["team:1".into()], &["team:1".into()]).await?;
    /// assert_eq!(dropped, 2);
    /// # Ok(()) }
    /// ```
    pub async fn invalidate_entries(&self, keys: &[String], tags: &[String]) -> Result<u64, Error> {
        let space = self.core.space()?;
        let full: Vec<String> = keys.iter().map(|k| space.cache_kv(k)).collect();
        let first = keys.first().map_or("", String::as_str);
        let mut dropped = 0;
        if !full.is_empty() {
            let deleted = self.port.delete(&full).await;
            for k in &full {
                self.forget(k);
            }
            dropped += deleted.map_err(|e| self.core.backend_err(first, e))?;
        }
        if !tags.is_empty() {
            let tag_keys = self.tag_keys(tags)?;
            dropped += self.drop_tags(&tag_keys, &tags[0]).await?;
        }
        Ok(dropped)
    }

    /// Drops the pointer and the current copy of the versioned entry `key` (its bodies expire
    /// on their own), in one round trip. Errors are always returned.
    pub async fn invalidate_current(&self, key: &str) -> Result<bool, Error> {
        let space = self.core.space()?;
        let keys = [space.cache_pointer(key), space.cache_current(key)];
        let deleted = self.port.delete(&keys).await;
        self.forget(&keys[1]);
        let n = deleted.map_err(|e| self.core.backend_err(key, e))?;
        Ok(n > 0)
    }
}
