use std::time::Duration;

use async_trait::async_trait;

use super::PortResult;

/// Byte-level cache storage with per-entry TTL, plus the versioned entries (pointer, bodies and
/// a current copy; see [`VersionedKeys`]) used by the document cache.
///
/// Adapters: [`crate::adapters::redis::RedisBackend`] and [`crate::adapters::memory::MemoryBackend`].
/// Users work with the typed [`crate::Cache`] handle instead.
///
/// ```
/// # async fn demo(port: &dyn forze_runtime::ports::CachePort) -> Result<(), forze_runtime::BackendError> {
/// use std::time::Duration;
/// port.set("ns/cache/kv/a", b"1", Duration::from_secs(60)).await?;
/// assert_eq!(port.get("ns/cache/kv/a").await?, Some(b"1".to_vec()));
/// # Ok(()) }
/// ```
#[async_trait]
pub trait CachePort: Send + Sync + 'static {
    /// The bytes stored at `key`, if any and not expired.
    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>>;
    /// Stores `value` at `key` for `ttl`.
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> PortResult<()>;
    /// Deletes the given keys; returns how many existed.
    async fn delete(&self, keys: &[String]) -> PortResult<u64>;
    /// The bytes stored at each key, in order (one round trip on Redis).
    async fn get_many(&self, keys: &[String]) -> PortResult<Vec<Option<Vec<u8>>>>;
    /// Stores every entry for `ttl` (one round trip on Redis).
    async fn set_many(&self, entries: &[(String, Vec<u8>)], ttl: Duration) -> PortResult<()>;
    /// Stores `value` at `key` for `ttl` and adds `key` to each tag set in `tags` (kept at least
    /// as long as the entry), atomically, in one round trip.
    async fn set_tagged(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        tags: &[String],
    ) -> PortResult<()>;
    /// Deletes every entry listed in the tag sets `tags`, and the sets; returns how many entries
    /// existed. Atomic, one round trip.
    async fn invalidate_tags(&self, tags: &[String]) -> PortResult<u64>;
    /// Stores the body of `version`, moves the pointer to it and copies it to the `current` key,
    /// unless the pointer already names a newer version (then nothing is written). Atomic;
    /// returns whether `version` is current. The body and the copy live for `ttl`, the pointer
    /// for twice that.
    ///
    /// `current` is the value of the `current` key, `{version}:{body}`, as
    /// [`crate::codec::encode_current`] writes it; the body is its tail from `body_at`, so the
    /// body crosses the wire once.
    async fn set_version(
        &self,
        keys: VersionedKeys<'_>,
        version: u64,
        current: &[u8],
        body_at: usize,
        ttl: Duration,
    ) -> PortResult<bool>;
}

/// The keys of one versioned (document) entry, as laid out by [`crate::keys::KeySpace`].
///
/// ```
/// use forze_runtime::ports::VersionedKeys;
/// let keys = VersionedKeys {
///     pointer: "app/cache/pointer/doc:1",
///     body_prefix: "app/cache/body/doc:1",
///     current: "app/cache/current/doc:1",
/// };
/// assert_eq!(keys.body(7), "app/cache/body/doc:1/7");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct VersionedKeys<'a> {
    /// `{prefix}/cache/pointer/{key}` → the current version (decimal). The version guard: a write
    /// of an older version is refused while it lives.
    pub pointer: &'a str,
    /// `{prefix}/cache/body/{key}`: each version's body is at `{body_prefix}/{version}`.
    pub body_prefix: &'a str,
    /// `{prefix}/cache/current/{key}` → `{version}:{body}`, a copy of the current version's body
    /// that a read gets with one plain `GET`.
    pub current: &'a str,
}

impl VersionedKeys<'_> {
    /// The body key of `version`.
    pub fn body(&self, version: u64) -> String {
        crate::keys::space_body_key(self.body_prefix, version)
    }
}
