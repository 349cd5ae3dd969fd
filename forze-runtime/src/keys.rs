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
//! | document cache pointer | `{prefix}/cache/pointer/{key}` → current version |
//! | document cache body | `{prefix}/cache/body/{key}/{version}` |
//! | document cache current copy | `{prefix}/cache/current/{key}` → `{version}:{body}` |
//! | cache tag (group of entries) | `{prefix}/cache/tag/{tag}` |
//! | counter | `{prefix}[/{suffix}]` |
//! | idempotency record | `{prefix}/{operation}/{idempotency_key}` |
//! | rate limiter state | `{prefix}/ratelimit/{key}`, `/{window}` added for a fixed window |
//! | lock | `{prefix}/lock/{key}` |
//!
//! where `{prefix}` is `{namespace}` for ordinary routes and `{namespace}/tenant/{tenant}` for
//! routes wired with `tenant_aware`.
//!
//! # Escaping
//! A caller's part keeps the characters `A-Z a-z 0-9 - _ . :` as they are and writes every other
//! byte (of its UTF-8 form) as `%XX`, so a part never contains `/`, `{`, `}`, `*`, `?`, `[`, `]`,
//! spaces or control bytes: no input can step into another namespace, operation, suffix or tenant,
//! form a Redis Cluster hash tag or act as a glob. The mapping is injective, so two different
//! inputs never share a key. A part whose escaped form is longer than [`MAX_PART_LEN`] bytes is
//! stored as `~` followed by the SHA-256 of the raw input (`~` is itself always escaped, so no
//! short input can produce such a part).
//!
//! ```
//! use forze_runtime::keys::escape_part;
//! assert_eq!(escape_part("user:42"), "user:42");
//! assert_eq!(escape_part("a/b"), "a%2Fb");
//! assert_eq!(escape_part("{x}*"), "%7Bx%7D%2A");
//! ```

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

    /// `{prefix}/{escaped part}/...`.
    fn join(&self, parts: &[&str]) -> String {
        let mut key = String::with_capacity(
            self.prefix.len() + parts.iter().map(|p| p.len() + 1).sum::<usize>(),
        );
        key.push_str(&self.prefix);
        for part in parts {
            key.push('/');
            key.push_str(&escape_part(part));
        }
        key
    }

    /// `{prefix}{section}{escaped part}`, with `section` a fixed `/word/.../` path, in one
    /// allocation.
    fn under(&self, section: &str, part: &str) -> String {
        let part = escape_part(part);
        let mut key = String::with_capacity(self.prefix.len() + section.len() + part.len());
        key.push_str(&self.prefix);
        key.push_str(section);
        key.push_str(&part);
        key
    }

    /// `{prefix}/cache/kv/{key}`: a plain cache entry.
    pub fn cache_kv(&self, key: &str) -> String {
        self.under("/cache/kv/", key)
    }

    /// `{prefix}/cache/pointer/{key}`: the current version of a versioned (document) entry.
    pub fn cache_pointer(&self, key: &str) -> String {
        self.under("/cache/pointer/", key)
    }

    /// `{prefix}/cache/body/{key}`: the prefix of the bodies of a versioned entry; a body's key
    /// is this prefix, `/` and the version number (see [`KeySpace::cache_body`]).
    pub fn cache_body_prefix(&self, key: &str) -> String {
        self.under("/cache/body/", key)
    }

    /// `{prefix}/cache/body/{key}/{version}`: one version's body.
    pub fn cache_body(&self, key: &str, version: u64) -> String {
        format!("{}/{version}", self.cache_body_prefix(key))
    }

    /// `{prefix}/cache/current/{key}`: `{version}:{body}`, a copy of the current version's body
    /// of a versioned entry, read with one plain `GET`.
    pub fn cache_current(&self, key: &str) -> String {
        self.under("/cache/current/", key)
    }

    /// `{prefix}/cache/tag/{tag}`: the set of entries that carry a tag.
    pub fn cache_tag(&self, tag: &str) -> String {
        self.under("/cache/tag/", tag)
    }

    /// `{prefix}` or `{prefix}/{suffix}`: a counter.
    pub fn counter(&self, suffix: Option<&str>) -> String {
        match suffix {
            None => self.prefix.clone(),
            Some(suffix) => self.join(&[suffix]),
        }
    }

    /// `{prefix}/{operation}/{idempotency_key}`: an idempotency record.
    pub fn idempotency(&self, operation: &str, key: &str) -> String {
        self.join(&[operation, key])
    }

    /// `{prefix}/ratelimit/{key}`: a rate limiter's state.
    pub fn rate_limit(&self, key: &str) -> String {
        self.under("/ratelimit/", key)
    }

    /// `{prefix}/lock/{key}`: a lock.
    pub fn lock(&self, key: &str) -> String {
        self.under("/lock/", key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_parts_use_only_safe_bytes() {
        let hostile = [
            "/", "{", "}", "*", ":", "", "é", "a b", "%2F", "~x", "\n", "?", "[a]", "\\",
        ];
        for raw in hostile {
            let part = escape_part(raw);
            assert!(
                part.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:%".contains(&b)),
                "{raw:?} -> {part:?}"
            );
        }
    }

    #[test]
    fn the_fast_path_keeps_exactly_what_the_escape_set_keeps() {
        for b in 0..=127u8 {
            let raw = (b as char).to_string();
            let slow: String = utf8_percent_encode(&raw, PART).to_string();
            assert_eq!(escape_part(&raw), slow, "byte {b:#x}");
            assert_eq!(keeps(b), slow == raw, "byte {b:#x}");
        }
        let limit = "x".repeat(MAX_PART_LEN);
        assert_eq!(escape_part(&limit), limit);
    }

    #[test]
    fn integers_and_bools_write_their_decimal_form() {
        let key = KeyWriter::new()
            .part(&-12i64)
            .lit(":")
            .part(&u128::MAX)
            .lit(":")
            .part(&true)
            .finish();
        assert_eq!(key, format!("-12:{}:true", u128::MAX));
    }

    #[test]
    fn escaping_is_injective_on_lookalikes() {
        let inputs = [
            "a/b", "a%2Fb", "a%252Fb", "a_b", "a:b", "a.b", "", "~", "%7E",
        ];
        let mut seen = std::collections::HashSet::new();
        for raw in inputs {
            assert!(
                seen.insert(escape_part(raw).into_owned()),
                "{raw:?} collides"
            );
        }
    }

    #[test]
    fn long_parts_are_hashed_and_distinct() {
        let a = "x".repeat(MAX_PART_LEN + 1);
        let b = format!("{}y", "x".repeat(MAX_PART_LEN));
        let (ea, eb) = (escape_part(&a), escape_part(&b));
        assert_eq!(ea.len(), 65);
        assert!(ea.starts_with('~'));
        assert_ne!(ea, eb);
        // An input that merely looks like a hash is escaped, never taken as one.
        assert!(escape_part(&ea).starts_with("%7E"));
    }

    #[test]
    fn tenant_cannot_reach_another_tenant_or_namespace() {
        let evil = KeySpace::new("app", Some("acme/cache/kv"));
        let good = KeySpace::new("app", Some("acme"));
        assert_ne!(evil.cache_kv("x"), good.cache_kv("x"));
        assert!(evil
            .cache_kv("x")
            .starts_with("app/tenant/acme%2Fcache%2Fkv/"));
        let plain = KeySpace::new("app", None);
        assert_ne!(plain.cache_kv("tenant/acme"), good.cache_kv("x"));
    }

    #[test]
    fn layout_matches_the_contract() {
        let ks = KeySpace::new("app:projects", None);
        assert_eq!(ks.cache_pointer("p1"), "app:projects/cache/pointer/p1");
        assert_eq!(ks.cache_current("p1"), "app:projects/cache/current/p1");
        assert_eq!(ks.cache_body("p1", 7), "app:projects/cache/body/p1/7");
        assert_eq!(ks.counter(None), "app:projects");
        assert_eq!(ks.counter(Some("2026")), "app:projects/2026");
        assert_eq!(
            ks.idempotency("create_payment", "k/1"),
            "app:projects/create_payment/k%2F1"
        );
        assert_eq!(
            ks.rate_limit("ip:1.2.3.4"),
            "app:projects/ratelimit/ip:1.2.3.4"
        );
        assert_eq!(ks.lock("job"), "app:projects/lock/job");
        assert_eq!(ks.cache_tag("team:1"), "app:projects/cache/tag/team:1");
    }

    #[test]
    fn namespaces_are_checked() {
        assert!(validate_namespace("").is_err());
        assert!(validate_namespace("a b").is_err());
        assert!(validate_namespace("{a}").is_err());
        assert!(validate_namespace(&"a".repeat(MAX_NAMESPACE_LEN + 1)).is_err());
        assert!(validate_namespace("app:seq-1_v.2").is_ok());
    }
}

/// A value that can be part of a key built from a template (`#[cached(key = "user:{id}")]`),
/// or of the default key (every parameter not skipped).
///
/// Implemented for integers, `bool`, `char`, strings, and references/boxes/`Arc`s/`Option`s of
/// those. Implement it for your own id types (write something that identifies the value and
/// nothing else):
///
/// ```
/// use forze_runtime::keys::{KeyPart, KeyWriter};
/// struct OrgId(u32);
/// impl KeyPart for OrgId {
///     fn write_key(&self, out: &mut KeyWriter) {
///         out.push_part(&self.0);
///     }
/// }
/// let key = KeyWriter::new().lit("org:").part(&OrgId(7)).finish();
/// assert_eq!(key, "org:7");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be part of a key",
    label = "this value has no key form",
    note = "implement `forze_runtime::keys::KeyPart` for it, or keep it out of the key (`skip(...)` or a `key` template)"
)]
pub trait KeyPart {
    /// Writes this value's key form with [`KeyWriter::raw`] / [`KeyWriter::part`].
    fn write_key(&self, out: &mut KeyWriter);
}

/// Builds the key of one call from template literals and escaped values.
///
/// Values are escaped (every byte outside `A-Z a-z 0-9 _` becomes `%XX`), so that a value can
/// never forge a template's separators: `"{a}:{b}"` with `a = "x:y"` differs from `a = "x"`,
/// `b = "y"`. The whole key is then escaped once more as a key part by [`KeySpace`].
///
/// ```
/// use forze_runtime::keys::KeyWriter;
/// let k = KeyWriter::new().lit("user:").part(&"a:b").lit(":").part(&42u64).finish();
/// assert_eq!(k, "user:a%3Ab:42");
/// ```
#[derive(Debug, Default, Clone)]
pub struct KeyWriter {
    buf: String,
}

impl KeyWriter {
    /// An empty key.
    pub fn new() -> Self {
        Self {
            buf: String::with_capacity(48),
        }
    }

    /// Appends template text as it is.
    pub fn lit(mut self, text: &str) -> Self {
        self.buf.push_str(text);
        self
    }

    /// Appends template text as it is (in place).
    pub fn push_lit(&mut self, text: &str) {
        self.buf.push_str(text);
    }

    /// Appends a value's key form.
    pub fn part<T: KeyPart + ?Sized>(mut self, value: &T) -> Self {
        value.write_key(&mut self);
        self
    }

    /// Appends a value's key form (in place).
    pub fn push_part<T: KeyPart + ?Sized>(&mut self, value: &T) {
        value.write_key(self);
    }

    /// Appends text as a value: escaped.
    pub fn raw(&mut self, text: &str) {
        for b in text.bytes() {
            if b.is_ascii_alphanumeric() || b == b'_' {
                self.buf.push(b as char);
            } else {
                let _ = write!(self.buf, "%{b:02X}");
            }
        }
    }

    /// The key.
    pub fn finish(self) -> String {
        self.buf
    }
}

macro_rules! key_part_int {
    ($($t:ty),*) => {$(
        impl KeyPart for $t {
            fn write_key(&self, out: &mut KeyWriter) {
                out.buf.push_str(itoa::Buffer::new().format(*self));
            }
        }
    )*};
}
key_part_int!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);

impl KeyPart for bool {
    fn write_key(&self, out: &mut KeyWriter) {
        out.buf.push_str(if *self { "true" } else { "false" });
    }
}

impl KeyPart for char {
    fn write_key(&self, out: &mut KeyWriter) {
        out.raw(self.encode_utf8(&mut [0; 4]));
    }
}

impl KeyPart for str {
    fn write_key(&self, out: &mut KeyWriter) {
        out.raw(self);
    }
}

impl KeyPart for String {
    fn write_key(&self, out: &mut KeyWriter) {
        out.raw(self);
    }
}

impl<T: KeyPart + ?Sized> KeyPart for &T {
    fn write_key(&self, out: &mut KeyWriter) {
        (**self).write_key(out);
    }
}

impl<T: KeyPart + ?Sized> KeyPart for &mut T {
    fn write_key(&self, out: &mut KeyWriter) {
        (**self).write_key(out);
    }
}

impl<T: KeyPart + ?Sized> KeyPart for Box<T> {
    fn write_key(&self, out: &mut KeyWriter) {
        (**self).write_key(out);
    }
}

impl<T: KeyPart + ?Sized> KeyPart for std::sync::Arc<T> {
    fn write_key(&self, out: &mut KeyWriter) {
        (**self).write_key(out);
    }
}

impl<T: KeyPart + ?Sized + ToOwned> KeyPart for Cow<'_, T> {
    fn write_key(&self, out: &mut KeyWriter) {
        self.as_ref().write_key(out);
    }
}

/// `None` is written `~` (which no escaped value contains), `Some(v)` as `v`.
impl<T: KeyPart> KeyPart for Option<T> {
    fn write_key(&self, out: &mut KeyWriter) {
        match self {
            None => out.buf.push('~'),
            Some(v) => v.write_key(out),
        }
    }
}

#[cfg(test)]
mod key_writer_tests {
    use super::*;

    #[test]
    fn values_cannot_forge_separators() {
        let a = KeyWriter::new().part(&"x:y").lit(":").part(&"z").finish();
        let b = KeyWriter::new().part(&"x").lit(":").part(&"y:z").finish();
        assert_ne!(a, b);
        let none = KeyWriter::new().part(&None::<u32>).finish();
        let tilde = KeyWriter::new().part(&Some("~")).finish();
        assert_ne!(none, tilde);
        assert_eq!(KeyWriter::new().part(&-5i32).part(&true).finish(), "-5true");
    }
}
