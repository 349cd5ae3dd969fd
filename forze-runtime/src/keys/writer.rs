//! Logical keys from templates: `#[cached(key = "user:{id}")]` and the typed calls' keys.

use std::borrow::Cow;
use std::fmt::Write as _;

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
    /// Writes this value's key form with [`KeyWriter::raw`] (text) or [`KeyWriter::push_part`].
    fn write_key(&self, out: &mut KeyWriter);
}

/// Builds the logical key of one call from template literals and values: what a typed call
/// takes as its `key` (the storage key is made from it by [`super::KeySpace`], which escapes it
/// once).
///
/// A value is written as its text (`42`, `ada-l@example.com`), so `#[cached(key = "user:{id}")]`
/// and `cache.invalidate(&format!("user:{id}"))` name the same entry. A value followed by
/// another placeholder (`{a}` in `"{a}:{b}"`, every parameter but the last of a default key) has
/// `%`, `-`, `.` and `:` written as `%XX` (see [`KeyWriter::push_inner`]): the literal between two
/// placeholders always holds one of those (the macros check it), so no two lists of values give
/// one key. The last value is written as it is.
///
/// ```
/// use forze_runtime::keys::KeyWriter;
/// let k = KeyWriter::new().lit("user:").part(&"ada-l@example.com").finish();
/// assert_eq!(k, "user:ada-l@example.com");
/// let mut w = KeyWriter::new();
/// w.push_inner(&"x:y");
/// w.push_lit(":");
/// w.push_part(&"z");
/// assert_eq!(w.finish(), "x%3Ay:z");
/// ```
#[derive(Debug, Default, Clone)]
pub struct KeyWriter {
    buf: String,
    inner: bool,
}

impl KeyWriter {
    /// An empty key.
    pub fn new() -> Self {
        Self {
            buf: String::with_capacity(48),
            inner: false,
        }
    }

    /// A key written into `buf` (emptied first; its capacity is kept).
    pub(crate) fn with_buffer(mut buf: String) -> Self {
        buf.clear();
        Self { buf, inner: false }
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

    /// Appends a value's key form (the last value of a template, or its only one).
    pub fn part<T: KeyPart + ?Sized>(mut self, value: &T) -> Self {
        self.push_part(value);
        self
    }

    /// Appends a value's key form (in place).
    pub fn push_part<T: KeyPart + ?Sized>(&mut self, value: &T) {
        value.write_key(self);
    }

    /// Appends a value that another placeholder follows: its `%`, `-`, `.` and `:` are written
    /// `%XX`, so that it cannot run into the separator after it.
    pub fn push_inner<T: KeyPart + ?Sized>(&mut self, value: &T) {
        let outer = std::mem::replace(&mut self.inner, true);
        value.write_key(self);
        self.inner = outer;
    }

    /// Appends text as a value (what [`KeyPart`] impls call).
    pub fn raw(&mut self, text: &str) {
        if !self.inner || !text.bytes().any(is_separator) {
            self.buf.push_str(text);
            return;
        }
        for c in text.chars() {
            if c.is_ascii() && is_separator(c as u8) {
                let _ = write!(self.buf, "%{:02X}", c as u8);
            } else {
                self.buf.push(c);
            }
        }
    }

    /// The key.
    pub fn finish(self) -> String {
        self.buf
    }
}

/// What a value in an inner position must not contain as it is.
fn is_separator(b: u8) -> bool {
    matches!(b, b'%' | b'-' | b'.' | b':')
}

/// The logical key of a client seen by an HTTP layer: `{label}:{value}` (`ip:10.0.0.1`,
/// `h:{header value}`).
///
/// ```
/// assert_eq!(forze_runtime::keys::client_key("ip", "10.0.0.1"), "ip:10.0.0.1");
/// ```
pub fn client_key(label: &str, value: &str) -> String {
    KeyWriter::new().lit(label).lit(":").part(value).finish()
}

/// A client-given key scoped to the caller `scope` (a credential, a user id):
/// `{first 32 hex digits of SHA-256(scope)}|{key}`. The scope is hashed, so a credential never
/// reaches the store in clear; the digest has a fixed length and no `|`, so two (scope, key)
/// pairs never meet.
///
/// ```
/// let k = forze_runtime::keys::scoped_key("Bearer abc", "pay-1");
/// assert!(k.ends_with("|pay-1") && k.len() == 32 + 1 + 5);
/// ```
pub fn scoped_key(scope: &str, key: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = crate::codec::hex(&Sha256::digest(scope.as_bytes()));
    let mut out = String::with_capacity(33 + key.len());
    out.push_str(&digest[..32]);
    out.push('|');
    out.push_str(key);
    out
}

/// The logical key of document `id` of the type named `name`: `{name}:{id}`.
///
/// ```
/// assert_eq!(forze_runtime::keys::document_key("projects", &7u64), "projects:7");
/// ```
pub fn document_key<Id: KeyPart + ?Sized>(name: &str, id: &Id) -> String {
    KeyWriter::new().lit(name).lit(":").part(id).finish()
}

macro_rules! key_part_int {
    ($($t:ty),*) => {$(
        impl KeyPart for $t {
            fn write_key(&self, out: &mut KeyWriter) {
                out.raw(itoa::Buffer::new().format(*self));
            }
        }
    )*};
}
key_part_int!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);

impl KeyPart for bool {
    fn write_key(&self, out: &mut KeyWriter) {
        out.raw(if *self { "true" } else { "false" });
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

/// `None` is written as nothing, `Some(v)` as `v`.
impl<T: KeyPart> KeyPart for Option<T> {
    fn write_key(&self, out: &mut KeyWriter) {
        match self {
            None => {}
            Some(v) => v.write_key(out),
        }
    }
}

#[cfg(test)]
mod key_writer_tests {
    use super::*;

    #[test]
    fn inner_values_cannot_forge_separators() {
        let key = |a: &str, b: &str| {
            let mut w = KeyWriter::new();
            w.push_inner(&a);
            w.push_lit(":");
            w.push_part(&b);
            w.finish()
        };
        assert_ne!(key("x:y", "z"), key("x", "y:z"));
        assert_ne!(key("x%3Ay", "z"), key("x:y", "z"));
        assert_eq!(key("a-1", "b-2"), "a%2D1:b-2");
        let mut w = KeyWriter::new();
        w.push_inner(&-5i32);
        w.push_lit("-");
        w.push_part(&-5i32);
        assert_eq!(w.finish(), "%2D5--5");
        assert_eq!(KeyWriter::new().part(&-5i32).part(&true).finish(), "-5true");
        assert_eq!(KeyWriter::new().lit("u:").part(&None::<u32>).finish(), "u:");
    }
}
