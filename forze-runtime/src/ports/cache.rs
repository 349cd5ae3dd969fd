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
    /// The bytes stored at `key`, to be kept in a near tier, and for how long they may be
    /// (what is left of their TTL; `None`: not known; zero: not to be kept): on Redis a read
    /// the server tracks for this process (`CLIENT CACHING yes`, `GET`, `PTTL` on the tracking
    /// connection), so that it tells of the key's next change.
    async fn get_with_ttl(&self, key: &str) -> PortResult<Option<(Vec<u8>, Option<Duration>)>> {
        Ok(self.get(key).await?.map(|b| (b, None)))
    }
    /// Stores `value` at `key` for `ttl`.
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> PortResult<()>;
    /// [`CachePort::set`] for a value to be kept in a near tier; whether it may be: on Redis
    /// the write is sent on the tracking connection and followed by a tracked read of the key
    /// (`false` when tracking does not cover the key now).
    async fn set_kept(&self, key: &str, value: &[u8], ttl: Duration) -> PortResult<bool> {
        self.set(key, value, ttl).await.map(|()| true)
    }
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
    /// existed and, when `list`, the keys the sets listed (for a near tier to drop at once).
    /// Atomic, one round trip.
    async fn invalidate_tags(&self, tags: &[String], list: bool) -> PortResult<(u64, Vec<String>)>;
    /// Stores the body of `version`, moves the pointer to it and copies it to the `current` key,
    /// unless the pointer already names a newer version (then nothing is written). Atomic;
    /// returns whether `version` is current. The body and the copy live for `ttl`, the pointer
    /// for twice that.
    ///
    /// `current` is the value of the `current` key, `{version}:{body}`, as
    /// [`crate::codec::encode_current`] writes it; the body is its tail from `body_at`, so the
    /// body crosses the wire once.
    ///
    /// `write` says who writes ([`VersionWrite::decide`] is the rule): a reader re-warming what
    /// it read, a writer that fenced the entry ([`CachePort::fence`]), or the creator of a new
    /// document.
    async fn set_version(
        &self,
        keys: VersionedKeys<'_>,
        version: u64,
        current: &[u8],
        body_at: usize,
        ttl: Duration,
        write: VersionWrite,
    ) -> PortResult<bool>;
    /// Fences a versioned entry before its store is written: the pointer becomes a fence that
    /// counts the writers in flight (for the pointer's TTL, twice `ttl`) and the current copy is
    /// dropped, so readers miss (and read the store) and no re-warm is taken until the last
    /// writer in flight installs the newest version written. Returns what it replaced, for
    /// [`CachePort::unfence`]. Atomic, one round trip.
    async fn fence(&self, keys: VersionedKeys<'_>, ttl: Duration) -> PortResult<FencedEntry>;
    /// Leaves a fence after a write that changed nothing (the document did not exist): one
    /// writer fewer; when it was the last and nobody wrote, what [`CachePort::fence`] replaced
    /// is put back. Atomic, one round trip.
    async fn unfence(
        &self,
        keys: VersionedKeys<'_>,
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

/// Who writes a version of a versioned entry, and so what it may replace. The pointer holds
/// `{version}`, `t{version}` for a deletion, or, while writes are in flight,
/// `fence:{writers}:{newest version written}:{1 if that one is a deletion}`.
///
/// ```
/// use forze_runtime::ports::{VersionDecision, VersionWrite};
/// let w = VersionWrite::Fenced { deleted: false };
/// // The last writer in flight installs its version when it is the newest written...
/// assert_eq!(w.decide(Some(b"fence:1:0:0"), 7), VersionDecision::Install);
/// // ...one of several only records it, and the fence stays until the last one.
/// assert_eq!(w.decide(Some(b"fence:2:0:0"), 7), VersionDecision::Keep("fence:1:7:0".into()));
/// // A reader never re-warms over a fence or a newer version.
/// assert_eq!(VersionWrite::Rewarm.decide(Some(b"fence:1:0:0"), 9), VersionDecision::Refuse);
/// assert_eq!(VersionWrite::Rewarm.decide(Some(b"8"), 7), VersionDecision::Refuse);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionWrite {
    /// A reader caching what it read from the store: never over a fence, never over a newer
    /// version.
    Rewarm,
    /// A writer that fenced the entry ([`CachePort::fence`]) before writing its store.
    /// `deleted`: the version records a deletion.
    Fenced {
        /// Whether this version is a deletion.
        deleted: bool,
    },
    /// The creator of a new document: replaces a deletion of any version (an older lifetime of
    /// the id), never a fence or a newer live version.
    Create,
}

/// What a [`VersionWrite`] does to a versioned entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionDecision {
    /// Store the body, the current copy and the pointer: this version is current.
    Install,
    /// Store the body; the pointer becomes this value; the current copy is not written (readers
    /// read the store until a version is installed).
    Keep(String),
    /// Write nothing.
    Refuse,
}

/// `{version}` or `t{version}`.
fn pointer_value(version: u64, deleted: bool) -> String {
    if deleted {
        format!("t{version}")
    } else {
        version.to_string()
    }
}

/// `(writers, newest version written, deleted)` of a fence's value.
pub(crate) fn parse_fence(value: &[u8]) -> Option<(u64, u64, bool)> {
    let text = std::str::from_utf8(value.strip_prefix(b"fence:")?).ok()?;
    let mut parts = text.split(':');
    let writers = parts.next()?.parse().ok()?;
    let newest = parts.next()?.parse().ok()?;
    let deleted = parts.next()? == "1";
    Some((writers, newest, deleted))
}

/// A fence's value.
pub(crate) fn fence_value(writers: u64, newest: u64, deleted: bool) -> String {
    format!("fence:{writers}:{newest}:{}", u8::from(deleted))
}

impl VersionWrite {
    /// The pointer's value once `version` is installed.
    pub fn pointer(&self, version: u64) -> String {
        pointer_value(
            version,
            matches!(self, VersionWrite::Fenced { deleted: true }),
        )
    }

    /// What this write of `version` does when the pointer holds `current` (`None`: nothing).
    /// The one rule; the Redis script states it again in Lua.
    pub fn decide(&self, current: Option<&[u8]>, version: u64) -> VersionDecision {
        let Some(current) = current else {
            return VersionDecision::Install;
        };
        if current.starts_with(b"fence:") {
            let VersionWrite::Fenced { deleted } = *self else {
                return VersionDecision::Refuse;
            };
            let (writers, newest, newest_deleted) = parse_fence(current).unwrap_or((1, 0, false));
            let (newest, newest_deleted) = if version >= newest {
                (version, deleted)
            } else {
                (newest, newest_deleted)
            };
            return match writers.saturating_sub(1) {
                0 if newest == version => VersionDecision::Install,
                0 => VersionDecision::Keep(pointer_value(newest, newest_deleted)),
                left => VersionDecision::Keep(fence_value(left, newest, newest_deleted)),
            };
        }
        let (deleted, digits) = match current.strip_prefix(b"t") {
            Some(rest) => (true, rest),
            None => (false, current),
        };
        let Some(n) = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse::<u64>().ok())
        else {
            return VersionDecision::Install; // not a pointer: replaced
        };
        match self {
            VersionWrite::Create if deleted => VersionDecision::Install,
            _ if n <= version => VersionDecision::Install,
            _ => VersionDecision::Refuse,
        }
    }
}

/// The keys of one versioned (document) entry, as laid out by [`crate::keys::KeySpace`]: the
/// entry's key is a hash tag (`{{key}}`), so the three share a Redis Cluster slot.
///
/// ```
/// use forze_runtime::ports::VersionedKeys;
/// let keys = VersionedKeys {
///     pointer: "app/cache/pointer/{doc:1}",
///     body_prefix: "app/cache/body/{doc:1}",
///     current: "app/cache/current/{doc:1}",
/// };
/// assert_eq!(keys.body(7), "app/cache/body/{doc:1}/7");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct VersionedKeys<'a> {
    /// `{prefix}/cache/pointer/{{key}}` → the current version (decimal). The version guard: a write
    /// of an older version is refused while it lives.
    pub pointer: &'a str,
    /// `{prefix}/cache/body/{{key}}`: each version's body is at `{body_prefix}/{version}`.
    pub body_prefix: &'a str,
    /// `{prefix}/cache/current/{{key}}` → `{version}:{body}`, a copy of the current version's body
    /// that a read gets with one plain `GET`.
    pub current: &'a str,
}

impl VersionedKeys<'_> {
    /// The body key of `version`.
    pub fn body(&self, version: u64) -> String {
        crate::keys::space_body_key(self.body_prefix, version)
    }
}
