use std::time::Duration;

use async_trait::async_trait;

use super::PortResult;

/// Byte-level cache storage with per-entry TTL, plus the versioned (pointer → body) pair used by
/// the document cache.
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
    /// Follows `pointer` to its version `v` and returns `(v, body at {body_prefix}/{v})`, in one
    /// round trip; `None` when the pointer or that body is missing.
    async fn get_current(
        &self,
        pointer: &str,
        body_prefix: &str,
    ) -> PortResult<Option<(u64, Vec<u8>)>>;
    /// Stores the body of `version` and moves `pointer` to it, unless the pointer already names
    /// a newer version (then nothing is written). Atomic; returns whether `version` is current.
    /// The body lives for `ttl`, the pointer for twice that.
    async fn set_version(
        &self,
        pointer: &str,
        body_prefix: &str,
        version: u64,
        body: &[u8],
        ttl: Duration,
    ) -> PortResult<bool>;
}
