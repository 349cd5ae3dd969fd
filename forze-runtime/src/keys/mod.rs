//! The one place where storage keys are built and escaped.
//!
//! Every key that forze writes, on Redis or in memory, comes from this module. The grammar is a
//! `/`-separated path whose first segment is the route's namespace (from the wiring, trusted and
//! validated) and whose other segments are either fixed words or *escaped* parts coming from
//! callers:
//!
//! | what | key |
//! |---|---|
//! | plain cache entry | `{prefix}/cache/kv/{key}` |
//! | document cache pointer | `{prefix}/cache/pointer/{{key}}` → current version |
//! | document cache body | `{prefix}/cache/body/{{key}}/{version}` |
//! | document cache current copy | `{prefix}/cache/current/{{key}}` → `{version}:{body}` |
//! | cache tag (group of entries) | `{prefix}/cache/tag/{tag}` |
//! | cache tag on a Redis Cluster | `{prefix}/cache/tag/{tag}/slots` → the slots used, `{prefix}/cache/tag/{tag}/{{s}}` per slot |
//! | counter | `{prefix}[/{suffix}]` |
//! | idempotency record | `{prefix}/{operation}/{idempotency_key}` |
//! | rate limiter state | `{prefix}/ratelimit/{key}`, `/{window}` added for a fixed window, `/gcra-{limit}-{period ms}` for GCRA |
//! | lock | `{prefix}/lock/{key}` |
//! | cache fill lock (`#[cached(lock = ...)]`) | `{lock prefix}/fill/{cache entry's storage key}` |
//!
//! A versioned entry's key stands between braces as written (`{{key}}` above): a Redis Cluster
//! hash tag, so that its pointer, bodies and current copy are in one hash slot and one script
//! can move them together (see [`entity_tag`]). No other caller-supplied part can form a hash
//! tag.
//!
//! where `{prefix}` is `{namespace}` for ordinary routes and `{namespace}/tenant/{tenant}` for
//! routes wired with `tenant_aware`. The wiring refuses two routes (of any kind) whose
//! namespaces are equal or nest (`app` and `app:users`), so no two routes share a key.
//!
//! # Escaping: once, where a caller's value becomes a key part
//! A caller's key (the `key` of a typed call, or what a `#[cached]` template produced) is a
//! *logical key*: plain text, shown as it is in errors and logs. It becomes a storage key part
//! here, and only here: `A-Z a-z 0-9 - _ . :` stay as they are and every other byte (of its
//! UTF-8 form) is written `%XX`, so a part never contains `/`, `{`, `}`, `*`, `?`, `[`, `]`,
//! spaces or control bytes: no input can step into another namespace, operation, suffix or
//! tenant, form a Redis Cluster hash tag of its own or act as a glob. The mapping is injective, so two
//! different inputs never share a key. A part whose escaped form is longer than
//! [`MAX_PART_LEN`] bytes is stored as `~` followed by the SHA-256 of the raw input (`~` is
//! itself always escaped, so no short input can produce such a part). An operation or a counter
//! suffix that would spell one of the layout's fixed words (`cache`, `ratelimit`, `lock`,
//! `tenant`, `fill`) has its first byte written `%XX`, so it cannot reach another kind's keys.
//!
//! ```
//! use forze_runtime::keys::{escape_part, KeySpace};
//! assert_eq!(escape_part("user:ada-l@example.com"), "user:ada-l%40example.com");
//! assert_eq!(escape_part("a/b"), "a%2Fb");
//! assert_eq!(escape_part("{x}*"), "%7Bx%7D%2A");
//! let ks = KeySpace::new("app:idem", None);
//! assert_eq!(ks.idempotency("pay", "pay-1"), "app:idem/pay/pay-1");
//! assert_eq!(ks.idempotency("lock", "k"), "app:idem/%6Cock/k");
//! ```

mod slots;
mod space;
mod writer;

#[cfg(test)]
mod tests;

pub use slots::{entity_tag, hash_slot, slot_tag, HASH_SLOTS};
pub(crate) use space::space_body_key;
pub use space::{gcra_key, tag_slot_key, tag_slots_key, window_key, DocumentKeyPatterns, KeySpace};
pub use writer::{client_key, document_key, scoped_key, KeyPart, KeyWriter};

use std::borrow::Cow;
use std::fmt::Write as _;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

/// Escaped parts longer than this many bytes are replaced by `~` + SHA-256 of the raw input.
pub const MAX_PART_LEN: usize = 200;

/// Longest accepted namespace, in bytes.
pub const MAX_NAMESPACE_LEN: usize = 128;

/// Bytes that stay as they are in an escaped part: everything else is `%XX`.
const PART: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b':');

/// The bytes that stay as they are in an escaped part (the complement of [`PART`]).
const KEEPS: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':');
        i += 1;
    }
    table
};

/// Whether `b` stays as it is in an escaped part.
fn keeps(b: u8) -> bool {
    KEEPS[b as usize]
}

/// The fixed words of the layout that follow a prefix: an operation or a counter suffix never
/// spells one of them (see [`escape_segment`]).
pub const RESERVED_WORDS: [&str; 5] = ["cache", "ratelimit", "lock", "tenant", "fill"];

/// Escapes a part that stands right after a prefix (an idempotency operation, a counter suffix):
/// like [`escape_part`], and a part that would spell one of [`RESERVED_WORDS`] has its first
/// byte written `%XX`.
///
/// ```
/// use forze_runtime::keys::escape_segment;
/// assert_eq!(escape_segment("create_payment"), "create_payment");
/// assert_eq!(escape_segment("ratelimit"), "%72atelimit");
/// ```
pub fn escape_segment(raw: &str) -> Cow<'_, str> {
    if RESERVED_WORDS.contains(&raw) {
        let mut out = String::with_capacity(raw.len() + 2);
        let _ = write!(out, "%{:02X}", raw.as_bytes()[0]);
        out.push_str(&raw[1..]);
        return Cow::Owned(out);
    }
    escape_part(raw)
}

/// Escapes one caller-supplied part of a key (see the [module docs](self)).
///
/// ```
/// use forze_runtime::keys::escape_part;
/// assert_eq!(escape_part(""), "");
/// assert_eq!(escape_part("é"), "%C3%A9");
/// assert!(escape_part(&"x".repeat(10_000)).starts_with('~'));
/// ```
pub fn escape_part(raw: &str) -> Cow<'_, str> {
    // Most parts need no escaping: one pass over the bytes, no allocation.
    if raw.len() <= MAX_PART_LEN && raw.bytes().all(keeps) {
        return Cow::Borrowed(raw);
    }
    let escaped: Cow<'_, str> = utf8_percent_encode(raw, PART).into();
    if escaped.len() <= MAX_PART_LEN {
        return escaped;
    }
    let digest = Sha256::digest(raw.as_bytes());
    let mut out = String::with_capacity(1 + 64);
    out.push('~');
    for byte in digest {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    Cow::Owned(out)
}

/// Checks a namespace from the wiring: 1 to [`MAX_NAMESPACE_LEN`] bytes of `A-Z a-z 0-9 - _ . :`.
///
/// ```
/// use forze_runtime::keys::validate_namespace;
/// assert!(validate_namespace("app:users").is_ok());
/// assert!(validate_namespace("app/users").is_err());
/// ```
pub fn validate_namespace(namespace: &str) -> Result<(), String> {
    if namespace.is_empty() {
        return Err("namespace is empty".into());
    }
    if namespace.len() > MAX_NAMESPACE_LEN {
        return Err(format!(
            "namespace is {} bytes long, the limit is {MAX_NAMESPACE_LEN}",
            namespace.len()
        ));
    }
    if let Some(bad) = namespace
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
    {
        return Err(format!(
            "namespace {namespace:?} contains {bad:?}; allowed are A-Z a-z 0-9 - _ . :"
        ));
    }
    Ok(())
}

/// Whether two namespaces are equal or nest (one is the other followed by `:` or `.` and
/// more): the wiring refuses such pairs, so that each route's keys have a prefix of
/// their own (which is also what a tracking near cache or an ACL key pattern selects).
///
/// ```
/// use forze_runtime::keys::namespaces_overlap;
/// assert!(namespaces_overlap("app", "app"));
/// assert!(namespaces_overlap("app", "app:users"));
/// assert!(!namespaces_overlap("app:users", "app:user"));
/// assert!(!namespaces_overlap("app", "apple"));
/// assert!(!namespaces_overlap("app:idem", "app:idem-short"));
/// ```
pub fn namespaces_overlap(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    long == short
        || (long.starts_with(short) && matches!(long.as_bytes()[short.len()], b':' | b'.'))
}
