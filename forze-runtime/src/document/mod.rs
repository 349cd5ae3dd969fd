//! Documents: specs derived with `#[derive(DocumentSpec)]`, a store that is the source of
//! truth ([`DocumentStore`], with [`MemoryDocumentStore`] included), and [`Documents`], the
//! repository that reads through the versioned cache and keeps it right on writes.
//!
//! The cache follows the key layout of the seed: pointer `{namespace}/cache/pointer/{{key}}` →
//! current version, body `{namespace}/cache/body/{{key}}/{version}`, with `{key}` =
//! `{document name}:{id}` written between braces (a Redis Cluster hash tag: the three keys of a
//! document share a slot), plus `{namespace}/cache/current/{{key}}` → `{version}:{body}`, a copy of
//! the current body that the same atomic write keeps. A hit is one plain `GET` of that copy; a
//! writer never moves the pointer back, so a slow reader that re-warms the cache with an older
//! version after a newer write changes nothing; old bodies expire with their TTL.

mod repository;
mod store;

use std::fmt::Debug;
use std::hash::Hash;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use repository::{DocumentError, Documents};
pub use store::{DocumentStore, MemoryDocumentStore, StoreError};

use crate::keys::KeyPart;

/// The cache of a document type, as declared by `#[document(cache(name = "...", ttl = "..."))]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSpec {
    /// The wired cache route's name.
    pub name: &'static str,
    /// The bodies' TTL (`None`: the route's).
    pub ttl: Option<std::time::Duration>,
}

/// A document type: its name, id and version, its command types and its cache.
///
/// Derive it (the derive generates this impl):
///
/// ```
/// use forze_runtime::document::DocumentSpec as _;
/// use forze_runtime::DocumentSpec;
///
/// #[derive(Clone, Debug, serde::Serialize, serde::Deserialize, DocumentSpec)]
/// #[document(name = "projects", cache(name = "projects", ttl = "5m"))]
/// struct Project {
///     #[document(id)]
///     id: u64,
///     #[document(version)]
///     rev: u64,
///     name: String,
/// }
///
/// assert_eq!(Project::NAME, "projects");
/// assert_eq!(Project::key_patterns().pointer, "{namespace}/cache/pointer/{projects:{id}}");
/// let p = Project { id: 7, rev: 3, name: "forze".into() };
/// assert_eq!((*p.id(), p.version()), (7, 3));
/// ```
pub trait DocumentSpec: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The id's type.
    type Id: KeyPart + Clone + Eq + Hash + Debug + Send + Sync + 'static;
    /// What `create` takes (default: the document itself).
    type Create: Send + 'static;
    /// What `update` takes (default: the whole new document).
    type Update: Send + 'static;
    /// What `read` returns (default: the document itself).
    type Read: From<Self> + Send + 'static;
    /// The document's name (also the prefix of its cache keys).
    const NAME: &'static str;
    /// The cache, if the document is cached.
    const CACHE: Option<CacheSpec>;
    /// The key patterns of this type's cache entries (pointer, body, current copy), from
    /// [`crate::keys`].
    fn key_patterns() -> crate::keys::DocumentKeyPatterns {
        crate::keys::DocumentKeyPatterns::of(Self::NAME)
    }
    /// The id.
    fn id(&self) -> &Self::Id;
    /// The version (revision); grows with every write.
    fn version(&self) -> u64;
    /// Sets the version (stores do, on every write).
    fn set_version(&mut self, version: u64);
}

/// A version field: an unsigned or signed integer (negative values read as 0).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a document version",
    label = "a version field must be an integer (u64, u32, i64, ...)"
)]
pub trait VersionField: Copy {
    /// As `u64`.
    fn to_u64(self) -> u64;
    /// From `u64` (saturating at the type's maximum).
    fn from_u64(v: u64) -> Self;
}

macro_rules! version_field {
    ($($t:ty),*) => {$(
        impl VersionField for $t {
            fn to_u64(self) -> u64 {
                u64::try_from(self).unwrap_or(0)
            }
            fn from_u64(v: u64) -> Self {
                <$t>::try_from(v).unwrap_or(<$t>::MAX)
            }
        }
    )*};
}
version_field!(u8, u16, u32, u64, usize, i16, i32, i64, isize, u128, i128);

/// Applying an update command to a document (used by [`MemoryDocumentStore`]). A whole new
/// document replaces the old one.
pub trait ApplyUpdate<U> {
    /// Applies `update`.
    fn apply_update(&mut self, update: U);
}

impl<D: DocumentSpec> ApplyUpdate<D> for D {
    fn apply_update(&mut self, update: D) {
        *self = update;
    }
}

/// The cache key of document `id` of type `D`: `{name}:{id}` (see [`crate::keys::document_key`]).
pub fn cache_key<D: DocumentSpec>(id: &D::Id) -> String {
    crate::keys::document_key(D::NAME, id)
}
