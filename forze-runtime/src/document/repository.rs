use std::marker::PhantomData;

use super::{cache_key, DocumentSpec, DocumentStore, StoreError};
use crate::error::Error;
use crate::handles::Cache;
use crate::handles::Fence;
use crate::ports::VersionWrite;
use crate::wiring::Forze;

/// The body stored for a deleted document: not JSON, so no document can look like it.
const TOMBSTONE: &[u8] = b"\x00forze:deleted";

/// What a repository call may fail with. Cache failures never appear here: the cache fails
/// open to the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentError {
    /// The document does not exist (update).
    #[error("{name} {id} does not exist")]
    NotFound {
        /// The document type's name.
        name: &'static str,
        /// The id, as shown by `Debug`.
        id: String,
    },
    /// The store failed; nothing was cached.
    #[error("{name} store failed: {source}")]
    Store {
        /// The document type's name.
        name: &'static str,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// The cache could not be fenced before a write, so the write was refused and the store
    /// was not touched: writing anyway could leave readers an older version once the cache is
    /// back. Retry, or opt in to bounded staleness with [`Documents::tolerate_cache_outage`].
    #[error(
        "{name} not written: its cache cannot be fenced ({source}); the store was not touched"
    )]
    CacheUnavailable {
        /// The document type's name.
        name: &'static str,
        /// The cache's error.
        #[source]
        source: Error,
    },
}

/// A repository of documents of type `D` over the store `S`, reading through the versioned
/// cache of `D::CACHE` (when it has one) and keeping it right on every write.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use forze_runtime::document::MemoryDocumentStore;
/// use forze_runtime::{CacheRoute, DocumentSpec, Forze};
///
/// #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, DocumentSpec)]
/// #[document(name = "projects", cache(name = "projects", ttl = "5m"))]
/// struct Project { #[document(id)] id: u64, #[document(version)] rev: u64, name: String }
///
/// let forze = Forze::builder().cache("projects", CacheRoute::new("app:projects")).build().await?;
/// let projects = forze.documents(MemoryDocumentStore::<Project>::new())?;
/// let p = projects.create(Project { id: 1, rev: 0, name: "forze".into() }).await?;
/// assert_eq!(p.rev, 1);
/// assert_eq!(projects.get(&1).await?, Some(p.clone()));          // one round trip on a hit
/// let renamed = projects.update(&1, Project { name: "forze 2".into(), ..p }).await?;
/// assert_eq!(projects.get(&1).await?.unwrap().name, "forze 2");   // never stale after a write
/// assert_eq!(renamed.rev, 2);
/// projects.delete(&1).await?;
/// assert_eq!(projects.get(&1).await?, None);
/// # Ok(()) }
/// ```
pub struct Documents<D: DocumentSpec, S> {
    store: S,
    cache: Option<Cache>,
    tolerate_outage: bool,
    _d: PhantomData<fn() -> D>,
}

impl<D: DocumentSpec, S: Clone> Clone for Documents<D, S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            cache: self.cache.clone(),
            tolerate_outage: self.tolerate_outage,
            _d: PhantomData,
        }
    }
}

impl Forze {
    /// The repository of `D` over `store`, with the cache `D::CACHE` names (an error if that
    /// cache is not wired).
    pub fn documents<D: DocumentSpec, S: DocumentStore<D>>(
        &self,
        store: S,
    ) -> Result<Documents<D, S>, Error> {
        let cache = match D::CACHE {
            None => None,
            Some(spec) => {
                let cache = self.cache(spec.name)?;
                Some(match spec.ttl {
                    Some(ttl) => cache.with_ttl(ttl),
                    None => cache,
                })
            }
        };
        Ok(Documents {
            store,
            cache,
            tolerate_outage: false,
            _d: PhantomData,
        })
    }
}

impl<D: DocumentSpec, S: DocumentStore<D>> Documents<D, S> {
    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    fn store_err(source: StoreError) -> DocumentError {
        DocumentError::Store {
            name: D::NAME,
            source,
        }
    }

    /// This repository, letting writes go on when the cache cannot be fenced (Redis down):
    /// availability over freshness. After such an outage, readers may be served the version
    /// cached before it until the entry's TTL runs out (the store stays right). By default
    /// such a write is refused with [`DocumentError::CacheUnavailable`].
    pub fn tolerate_cache_outage(mut self, yes: bool) -> Self {
        self.tolerate_outage = yes;
        self
    }

    /// Fences the cache entry of `id` before a write of the store. `Ok(None)`: no cache, or
    /// (tolerated) a cache that could not be fenced.
    async fn fence(&self, id: &D::Id) -> Result<Option<Fence>, DocumentError> {
        let Some(cache) = &self.cache else {
            return Ok(None);
        };
        let key = cache_key::<D>(id);
        match cache.fence(&key).await {
            Ok(fence) => Ok(Some(fence)),
            Err(e) if self.tolerate_outage => {
                tracing::warn!(document = D::NAME, key, error = %e, "cache not fenced; writing anyway (tolerate_cache_outage): readers may see the previous version until its TTL");
                Ok(None)
            }
            Err(source) => Err(DocumentError::CacheUnavailable {
                name: D::NAME,
                source,
            }),
        }
    }

    /// Caches `bytes` as `version` of document `id`, as `write` may. The cache fails open to
    /// the store: its errors are logged, never returned (a fence left behind keeps readers on
    /// the store until it expires).
    async fn remember(&self, id: &D::Id, version: u64, bytes: &[u8], write: VersionWrite) {
        let Some(cache) = &self.cache else { return };
        let key = cache_key::<D>(id);
        if let Err(e) = cache.set_version_raw(&key, version, bytes, write).await {
            tracing::warn!(document = D::NAME, key, error = %e, "document not cached; the store stays the source");
        }
    }

    async fn remember_doc(&self, doc: &D, write: VersionWrite) {
        if self.cache.is_none() {
            return;
        }
        match crate::codec::encode(doc) {
            Ok(bytes) => self.remember(doc.id(), doc.version(), &bytes, write).await,
            Err(e) => {
                tracing::warn!(document = D::NAME, error = %e, "document does not encode; not cached")
            }
        }
    }

    /// How a writer that fenced with `fence` writes its version.
    fn fenced(fence: &Option<Fence>, deleted: bool) -> VersionWrite {
        match fence {
            Some(_) => VersionWrite::Fenced { deleted },
            None => VersionWrite::Rewarm,
        }
    }

    /// After a write that found no document: the cache is as it was before the fence.
    async fn unfence(&self, id: &D::Id, fence: &Option<Fence>) {
        if let (Some(cache), Some(fence)) = (&self.cache, fence) {
            cache.unfence(&cache_key::<D>(id), fence).await;
        }
    }

    /// The document `id`: from the cache in one round trip when it is there, else from the
    /// store (and then cached, unless a newer version got there first).
    pub async fn get(&self, id: &D::Id) -> Result<Option<D>, DocumentError> {
        let Some(cache) = &self.cache else {
            return self.get_from_store(id).await;
        };
        let key = cache_key::<D>(id);
        // A near tier on the route: the document (or its deletion) held in this process, as
        // decoded when it was read (a clone: no network, no decoding).
        let near = cache
            .current_near(&key, |_, body| Self::cached_body(&key, body))
            .await;
        match near {
            None => self.get_through(cache, &key, id).await,
            Some(Ok(Some(held))) => Ok(Option::clone(&held)),
            Some(Ok(None)) => self.get_from_store(id).await,
            Some(Err(e)) => {
                tracing::warn!(document = D::NAME, key, error = %e, "cache read failed; reading the store");
                self.get_from_store(id).await
            }
        }
    }

    /// What a cached body says: the document, its deletion (`Some(None)`), or nothing usable
    /// (`None`: read the store).
    fn cached_body(key: &str, body: &[u8]) -> Option<Option<D>> {
        if body == TOMBSTONE {
            return Some(None);
        }
        match crate::codec::decode::<D>(body) {
            Ok(doc) => Some(Some(doc)),
            Err(e) => {
                tracing::warn!(document = D::NAME, key, error = %e, "cached document does not decode; reading the store");
                None
            }
        }
    }

    /// [`Documents::get`] on a route without a near tier: one `GET` of the current copy.
    async fn get_through(
        &self,
        cache: &Cache,
        key: &str,
        id: &D::Id,
    ) -> Result<Option<D>, DocumentError> {
        let current = cache.get_current_raw(key).await.unwrap_or_else(|e| {
            tracing::warn!(document = D::NAME, key, error = %e, "cache read failed; reading the store");
            None
        });
        match current.and_then(|c| Self::cached_body(key, c.body())) {
            Some(found) => Ok(found),
            None => self.get_from_store(id).await,
        }
    }

    /// Reads document `id` from the store and caches it.
    async fn get_from_store(&self, id: &D::Id) -> Result<Option<D>, DocumentError> {
        let found = self.store.get(id).await.map_err(Self::store_err)?;
        if let Some(doc) = &found {
            self.remember_doc(doc, VersionWrite::Rewarm).await;
        }
        Ok(found)
    }

    /// The read model of document `id`.
    pub async fn read(&self, id: &D::Id) -> Result<Option<D::Read>, DocumentError> {
        Ok(self.get(id).await?.map(Into::into))
    }

    /// Creates a document in the store and caches it. A deletion cached for an older lifetime
    /// of the same id (a store whose versions restart) does not hide it.
    pub async fn create(&self, cmd: D::Create) -> Result<D, DocumentError> {
        let doc = self.store.create(cmd).await.map_err(Self::store_err)?;
        self.remember_doc(&doc, VersionWrite::Create).await;
        Ok(doc)
    }

    /// Updates document `id` in the store and caches the new version. The cache entry is
    /// fenced first (readers go to the store meanwhile), so readers never see an older version
    /// again, also when the cache fails between the fence and the new version; when it cannot
    /// be fenced, the write is refused ([`DocumentError::CacheUnavailable`]).
    pub async fn update(&self, id: &D::Id, cmd: D::Update) -> Result<D, DocumentError> {
        let fence = self.fence(id).await?;
        // A store error keeps the fence (the write may have happened): readers use the store.
        let Some(doc) = self.store.update(id, cmd).await.map_err(Self::store_err)? else {
            self.unfence(id, &fence).await;
            return Err(DocumentError::NotFound {
                name: D::NAME,
                id: format!("{id:?}"),
            });
        };
        self.remember_doc(&doc, Self::fenced(&fence, false)).await;
        Ok(doc)
    }

    /// Deletes document `id`; returns whether it existed. Fenced like an update; the cache
    /// records the deletion as a newer version, so a slow reader cannot bring the document back.
    pub async fn delete(&self, id: &D::Id) -> Result<bool, DocumentError> {
        let fence = self.fence(id).await?;
        let Some(version) = self.store.delete(id).await.map_err(Self::store_err)? else {
            self.unfence(id, &fence).await;
            return Ok(false);
        };
        self.remember(id, version + 1, TOMBSTONE, Self::fenced(&fence, true))
            .await;
        Ok(true)
    }
}
