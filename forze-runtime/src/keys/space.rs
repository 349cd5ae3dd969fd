//! The layout: which storage key each kind of entry has, under a route's prefix.

use std::fmt::Write as _;

use super::{entity_tag, escape_part, escape_segment, slot_tag};

/// The key space of one wired route: its namespace and, for tenant-aware routes, the tenant.
///
/// ```
/// use forze_runtime::keys::KeySpace;
/// let ks = KeySpace::new("app:users", None);
/// assert_eq!(ks.cache_kv("user:1"), "app:users/cache/kv/user:1");
/// let tenant = KeySpace::new("app:users", Some("acme/evil"));
/// assert_eq!(tenant.counter(None), "app:users/tenant/acme%2Fevil");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpace {
    prefix: String,
}

impl KeySpace {
    /// The key space of `namespace` (already validated by the wiring), scoped to `tenant` if any.
    pub fn new(namespace: &str, tenant: Option<&str>) -> Self {
        let mut prefix = String::with_capacity(namespace.len() + 32);
        prefix.push_str(namespace);
        if let Some(tenant) = tenant {
            prefix.push_str("/tenant/");
            prefix.push_str(&escape_part(tenant));
        }
        Self { prefix }
    }

    /// `{prefix}`: the namespace, plus the tenant on tenant-aware routes.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `{prefix}{section}{part}`, with `section` a fixed `/word/.../` path and `part` already
    /// escaped, in one allocation.
    fn under(&self, section: &str, part: &str) -> String {
        let mut key = String::with_capacity(self.prefix.len() + section.len() + part.len());
        key.push_str(&self.prefix);
        key.push_str(section);
        key.push_str(part);
        key
    }

    /// `{prefix}/cache/kv/{key}`: a plain cache entry.
    pub fn cache_kv(&self, key: &str) -> String {
        let mut out = String::new();
        self.write_cache_kv(key, &mut out);
        out
    }

    /// [`KeySpace::cache_kv`], written into `out` (cleared first, then grown once): for a
    /// lookup that needs no key of its own (a near-cache hit).
    pub(crate) fn write_cache_kv(&self, key: &str, out: &mut String) {
        let part = escape_part(key);
        out.clear();
        out.reserve(self.prefix.len() + "/cache/kv/".len() + part.len());
        out.push_str(&self.prefix);
        out.push_str("/cache/kv/");
        out.push_str(&part);
    }

    /// `{prefix}/cache/pointer/{{key}}`: the current version of a versioned (document) entry.
    /// The key stands between braces, a Redis Cluster hash tag (see [`entity_tag`]), so the
    /// pointer, the bodies and the current copy of one entry share a hash slot.
    pub fn cache_pointer(&self, key: &str) -> String {
        self.under("/cache/pointer/", &entity_tag(key))
    }

    /// `{prefix}/cache/body/{{key}}`: the prefix of the bodies of a versioned entry; a body's
    /// key is this prefix, `/` and the version number (see [`KeySpace::cache_body`]).
    pub fn cache_body_prefix(&self, key: &str) -> String {
        self.under("/cache/body/", &entity_tag(key))
    }

    /// `{prefix}/cache/body/{{key}}/{version}`: one version's body.
    pub fn cache_body(&self, key: &str, version: u64) -> String {
        space_body_key(&self.cache_body_prefix(key), version)
    }

    /// `{prefix}/cache/current/{{key}}`: `{version}:{body}`, a copy of the current version's
    /// body of a versioned entry, read with one plain `GET`.
    pub fn cache_current(&self, key: &str) -> String {
        self.under("/cache/current/", &entity_tag(key))
    }

    /// `{prefix}/cache/tag/{tag}`: the set of entries that carry a tag (one server; on a Redis
    /// Cluster a tag has a set per hash slot, see [`KeySpace::cache_tag_in_slot`]).
    pub fn cache_tag(&self, tag: &str) -> String {
        self.under("/cache/tag/", &escape_part(tag))
    }

    /// `{prefix}/cache/tag/{tag}/slots` (Redis Cluster): the hash slots in which `tag` has a
    /// set of entries ([`KeySpace::cache_tag_in_slot`]). A slot is added before the first entry
    /// of the tag is written in it, and never removed (the set expires with the tag's
    /// longest-lived entry), so an invalidation that reads it finds every slot to clear.
    pub fn cache_tag_slots(&self, tag: &str) -> String {
        tag_slots_key(&self.cache_tag(tag))
    }

    /// `{prefix}/cache/tag/{tag}/{{s}}` (Redis Cluster): the entries carrying `tag` that live in
    /// hash slot `slot`, where `s` is a short string of that slot ([`slot_tag`]), so the set
    /// and its entries are written by one script on one node.
    ///
    /// ```
    /// use forze_runtime::keys::{hash_slot, KeySpace};
    /// let ks = KeySpace::new("app", None);
    /// let entry = ks.cache_kv("user:1");
    /// let set = ks.cache_tag_in_slot("team:7", hash_slot(entry.as_bytes()));
    /// assert!(set.starts_with("app/cache/tag/team:7/{"));
    /// assert_eq!(hash_slot(set.as_bytes()), hash_slot(entry.as_bytes()));
    /// ```
    pub fn cache_tag_in_slot(&self, tag: &str, slot: u16) -> String {
        tag_slot_key(&self.cache_tag(tag), slot)
    }

    /// `{prefix}` or `{prefix}/{suffix}`: a counter.
    pub fn counter(&self, suffix: Option<&str>) -> String {
        match suffix {
            None => self.prefix.clone(),
            Some(suffix) => self.under("/", &escape_segment(suffix)),
        }
    }

    /// `{prefix}/{operation}/{idempotency_key}`: an idempotency record.
    pub fn idempotency(&self, operation: &str, key: &str) -> String {
        let (operation, key) = (escape_segment(operation), escape_part(key));
        let mut out = String::with_capacity(self.prefix.len() + operation.len() + key.len() + 2);
        out.push_str(&self.prefix);
        out.push('/');
        out.push_str(&operation);
        out.push('/');
        out.push_str(&key);
        out
    }

    /// `{prefix}/ratelimit/{key}`: a rate limiter's state (see [`window_key`] for a fixed
    /// window's counters).
    pub fn rate_limit(&self, key: &str) -> String {
        self.under("/ratelimit/", &escape_part(key))
    }

    /// `{prefix}/lock/{key}`: a lock.
    pub fn lock(&self, key: &str) -> String {
        self.under("/lock/", &escape_part(key))
    }

    /// `{prefix}/fill/{entry}`: the lock that guards the fill of the cache entry whose storage
    /// key is `entry`, on a lock route (`#[cached(lock = "...")]`). A section of its own, so no
    /// lock a caller names can be a fill lock.
    pub fn fill_lock(&self, entry: &str) -> String {
        self.under("/fill/", &escape_part(entry))
    }
}

/// `{tag}/slots`: the hash slots used by the tag whose set is `tag` (made by
/// [`KeySpace::cache_tag`]), on a Redis Cluster.
///
/// ```
/// let tag = forze_runtime::keys::KeySpace::new("app", None).cache_tag("t");
/// assert_eq!(forze_runtime::keys::tag_slots_key(&tag), "app/cache/tag/t/slots");
/// ```
pub fn tag_slots_key(tag: &str) -> String {
    let mut key = String::with_capacity(tag.len() + 6);
    key.push_str(tag);
    key.push_str("/slots");
    key
}

/// `{tag}/{{s}}`: the set of the entries of hash slot `slot` that carry the tag whose set is
/// `tag` (made by [`KeySpace::cache_tag`]), on a Redis Cluster; in slot `slot` itself.
///
/// ```
/// use forze_runtime::keys::{hash_slot, tag_slot_key, KeySpace};
/// let tag = KeySpace::new("app", None).cache_tag("t");
/// assert_eq!(hash_slot(tag_slot_key(&tag, 42).as_bytes()), 42);
/// ```
pub fn tag_slot_key(tag: &str, slot: u16) -> String {
    let s = slot_tag(slot);
    let mut key = String::with_capacity(tag.len() + s.len() + 3);
    key.push_str(tag);
    key.push_str("/{");
    key.push_str(s);
    key.push('}');
    key
}

/// `{state}/{window}`: the counter of one fixed window of the limiter state key `state` (made by
/// [`KeySpace::rate_limit`], which never contains `/` after its prefix, so no other limiter key
/// can spell it).
///
/// ```
/// use forze_runtime::keys::{window_key, KeySpace};
/// let state = KeySpace::new("app:rl", None).rate_limit("u:1");
/// assert_eq!(window_key(&state, 29_935_933), "app:rl/ratelimit/u:1/29935933");
/// ```
pub fn window_key(state: &str, window: u64) -> String {
    space_body_key(state, window)
}

/// `{state}/gcra-{limit}-{period in ms}`: the state of a GCRA limiter key under one quota. The
/// state (a theoretical arrival time) only means something for the quota it was made with, so a
/// changed quota starts from a state of its own: the new quota takes effect at once, and no
/// count made under the old one is read with the new interval. (A fixed window's count carries
/// over a changed limit: it is a count of units.)
///
/// ```
/// use forze_runtime::keys::{gcra_key, KeySpace};
/// let state = KeySpace::new("app:rl", None).rate_limit("u:1");
/// assert_eq!(gcra_key(&state, 100, 60_000), "app:rl/ratelimit/u:1/gcra-100-60000");
/// ```
pub fn gcra_key(state: &str, limit: u64, period_ms: u64) -> String {
    let mut out = String::with_capacity(state.len() + 48);
    out.push_str(state);
    let _ = write!(out, "/gcra-{limit}-{period_ms}");
    out
}

/// `{prefix}/{n}`.
pub(crate) fn space_body_key(prefix: &str, n: u64) -> String {
    let mut out = String::with_capacity(prefix.len() + 21);
    out.push_str(prefix);
    out.push('/');
    let _ = write!(out, "{n}");
    out
}

/// The key patterns of a document type's cache entries, for documentation and tooling
/// (`DocumentSpec::key_patterns`): `{namespace}/cache/pointer/{{name}:{id}}` and so on (the
/// outer braces are written as they stand: a hash tag).
///
/// ```
/// let p = forze_runtime::keys::DocumentKeyPatterns::of("projects");
/// assert_eq!(p.pointer, "{namespace}/cache/pointer/{projects:{id}}");
/// assert_eq!(p.body, "{namespace}/cache/body/{projects:{id}}/{version}");
/// assert_eq!(p.current, "{namespace}/cache/current/{projects:{id}}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentKeyPatterns {
    /// The pointer: current version.
    pub pointer: String,
    /// One version's body.
    pub body: String,
    /// The current version's copy, `{version}:{body}`.
    pub current: String,
}

impl DocumentKeyPatterns {
    /// The patterns of the document type `name`.
    pub fn of(name: &str) -> Self {
        let ks = KeySpace {
            prefix: "{namespace}".to_owned(),
        };
        // The placeholders are shown as placeholders, not escaped.
        let entry = format!("{{{name}:{{id}}}}");
        Self {
            pointer: ks.under("/cache/pointer/", &entry),
            body: format!("{}/{{version}}", ks.under("/cache/body/", &entry)),
            current: ks.under("/cache/current/", &entry),
        }
    }
}
