use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::RouteCore;
use crate::error::Error;
use crate::ports::CachePort;
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
    pub(crate) policy: FailurePolicy,
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
            Ok(Some(bytes)) => Ok(self.decode(&full, &bytes)),
            Ok(None) => Ok(None),
            Err(e) => self.fail_open(&full, "get", self.core.backend_err(&full, e), None),
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
        let full = self.core.space()?.cache_kv(key);
        let bytes = self.core.encode(&full, value)?;
        self.check_size(&full, &bytes)?;
        if ttl.is_zero() {
            return Err(self.core.invalid("ttl must be above zero"));
        }
        match self.port.set(&full, &bytes, ttl).await {
            Ok(()) => Ok(()),
            Err(e) => self.fail_open(&full, "set", self.core.backend_err(&full, e), ()),
        }
    }

    /// Deletes the entry at `key`; returns whether it existed. Errors are always returned: a
    /// lost invalidation would leave stale data behind.
    pub async fn invalidate(&self, key: &str) -> Result<bool, Error> {
        let full = self.core.space()?.cache_kv(key);
        let n = self
            .port
            .delete(std::slice::from_ref(&full))
            .await
            .map_err(|e| self.core.backend_err(&full, e))?;
        Ok(n > 0)
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
                .zip(&full)
                .map(|(bytes, k)| bytes.and_then(|b| self.decode(k, &b)))
                .collect()),
            Err(e) => {
                let err = self.core.backend_err(full.first().map_or("", |k| k), e);
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
            let full = space.cache_kv(key);
            let bytes = self.core.encode(&full, value)?;
            self.check_size(&full, &bytes)?;
            encoded.push((full, bytes));
        }
        match self.port.set_many(&encoded, self.ttl).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let err = self.core.backend_err(encoded.first().map_or("", |(k, _)| k), e);
                self.fail_open("", "set_many", err, ())
            }
        }
    }

    /// The current version of the versioned entry `key` and its body, in one round trip:
    /// pointer `{ns}/cache/pointer/{key}` → body `{ns}/cache/body/{key}/{version}`.
    pub async fn get_current<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<Versioned<T>>, Error> {
        let space = self.core.space()?;
        let pointer = space.cache_pointer(key);
        match self
            .port
            .get_current(&pointer, &space.cache_body_prefix(key))
            .await
        {
            Ok(Some((version, bytes))) => Ok(self
                .decode(&pointer, &bytes)
                .map(|value| Versioned { version, value })),
            Ok(None) => Ok(None),
            Err(e) => self.fail_open(&pointer, "get_current", self.core.backend_err(&pointer, e), None),
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
        if version > MAX_VERSION {
            return Err(self.core.invalid(format!("version {version} is above 2^53")));
        }
        let space = self.core.space()?;
        let pointer = space.cache_pointer(key);
        let bytes = self.core.encode(&pointer, value)?;
        self.check_size(&pointer, &bytes)?;
        match self
            .port
            .set_version(&pointer, &space.cache_body_prefix(key), version, &bytes, self.ttl)
            .await
        {
            Ok(moved) => Ok(moved),
            Err(e) => self.fail_open(&pointer, "set_version", self.core.backend_err(&pointer, e), false),
        }
    }

    /// Drops the pointer of the versioned entry `key` (its bodies expire on their own). Errors
    /// are always returned.
    pub async fn invalidate_current(&self, key: &str) -> Result<bool, Error> {
        let pointer = self.core.space()?.cache_pointer(key);
        let n = self
            .port
            .delete(std::slice::from_ref(&pointer))
            .await
            .map_err(|e| self.core.backend_err(&pointer, e))?;
        Ok(n > 0)
    }
}
