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
    ///
    /// `write` says who writes: a reader re-warming what it read, a writer whose fence
    /// ([`CachePort::fence`]) holds the entry, or the creator of a new document.
    async fn set_version(
        &self,
        keys: VersionedKeys<'_>,
        version: u64,
        current: &[u8],
        body_at: usize,
        ttl: Duration,
        write: VersionWrite<'_>,
    ) -> PortResult<bool>;
    /// Fences a versioned entry before its store is written: the pointer becomes
    /// `fence:{token}` (for the pointer's TTL, twice `ttl`) and the current copy is dropped, so
    /// readers miss (and read the store) and no re-warm is taken until the fencing writer's
    /// [`VersionWrite::Fenced`] write replaces the fence. Returns what the fence replaced, for
    /// [`CachePort::unfence`]. Atomic, one round trip.
    async fn fence(
        &self,
        keys: VersionedKeys<'_>,
        token: &str,
        ttl: Duration,
    ) -> PortResult<FencedEntry>;
    /// Puts back what [`CachePort::fence`] replaced, if the fence `token` is still there (a
    /// write that changed nothing: the document did not exist). Atomic, one round trip.
    async fn unfence(
        &self,
        keys: VersionedKeys<'_>,
        token: &str,
        previous: &FencedEntry,
        ttl: Duration,
    ) -> PortResult<bool>;
}

/// What a fence replaced: the pointer's and the current copy's values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FencedEntry {
    /// The pointer's value, if there was one.
    pub pointer: Option<Vec<u8>>,
    /// The current copy, if there was one.
    pub current: Option<Vec<u8>>,
}

/// Who writes a version of a versioned entry, and so what it may replace (the pointer holds
/// `{version}`, `t{version}` for a deletion, or `fence:{token}`).
///
/// ```
/// use forze_runtime::ports::VersionWrite;
/// assert_eq!(VersionWrite::Fenced { token: "t1", deleted: false }.pointer(7), "7");
/// assert_eq!(VersionWrite::Fenced { token: "t1", deleted: true }.pointer(7), "t7");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionWrite<'a> {
    /// A reader caching what it read from the store: never over a fence, never over a newer
    /// version.
    Rewarm,
    /// The writer holding the fence `token`: replaces its own fence whatever the version was
    /// before (a store whose versions restart, a deletion); never another writer's fence, never
    /// a newer version once its fence is gone. `deleted`: the version records a deletion.
    Fenced {
        /// The writer's fence token.
        token: &'a str,
        /// Whether this version is a deletion.
        deleted: bool,
    },
    /// The creator of a new document: replaces a deletion of any version (an older lifetime of
    /// the id), never a fence or a newer live version.
    Create,
}

impl VersionWrite<'_> {
    /// The pointer's value once `version` is written.
    pub fn pointer(&self, version: u64) -> String {
        match self {
            VersionWrite::Fenced { deleted: true, .. } => format!("t{version}"),
            _ => version.to_string(),
        }
    }

    /// Whether this write may replace the pointer `current` (`None`: no pointer) with
    /// `version`. The one rule, which the Redis script states again in Lua.
    pub fn may_replace(&self, current: Option<&[u8]>, version: u64) -> bool {
        let Some(current) = current else { return true };
        if let Some(fence) = current.strip_prefix(b"fence:") {
            return matches!(self, VersionWrite::Fenced { token, .. } if token.as_bytes() == fence);
        }
        let (deleted, digits) = match current.strip_prefix(b"t") {
            Some(rest) => (true, rest),
            None => (false, current),
        };
        let Some(n) = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse::<u64>().ok())
        else {
            return true; // not a pointer: replaced
        };
        match self {
            VersionWrite::Create if deleted => true,
            _ => n <= version,
        }
    }
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
