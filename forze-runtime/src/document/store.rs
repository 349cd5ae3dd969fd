use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use std::future::Future;

use super::{ApplyUpdate, DocumentSpec};

/// What a store may fail with.
pub type StoreError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The source of truth of documents of type `D` (a database table, a service, memory).
///
/// Contract: every write returns the document with a version higher than any version this id
/// had before — including across a delete and a re-create — so that the cache can tell newer
/// from older.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), forze_runtime::document::StoreError> {
/// use forze_runtime::document::{DocumentStore, MemoryDocumentStore};
/// use forze_runtime::DocumentSpec;
///
/// #[derive(Clone, Debug, serde::Serialize, serde::Deserialize, DocumentSpec)]
/// #[document(name = "notes")]
/// struct Note { #[document(id)] id: u32, #[document(version)] v: u64, text: String }
///
/// let store = MemoryDocumentStore::<Note>::new();
/// let n = store.create(Note { id: 1, v: 0, text: "hi".into() }).await?;
/// assert_eq!(n.v, 1);
/// # Ok(()) }
/// ```
///
/// Implement it with plain `async fn`s — no `#[async_trait]` and no other crate (the futures
/// must be `Send`: hold no `std::sync::MutexGuard` across an `.await`):
///
/// ```
/// use forze_runtime::document::{DocumentStore, MemoryDocumentStore, StoreError};
/// use forze_runtime::DocumentSpec;
///
/// #[derive(Clone, Debug, serde::Serialize, serde::Deserialize, DocumentSpec)]
/// #[document(name = "notes")]
/// struct Note { #[document(id)] id: u32, #[document(version)] v: u64, text: String }
///
/// /// A store that refuses empty notes and keeps the rest in memory.
/// struct NonEmpty(MemoryDocumentStore<Note>);
///
/// impl DocumentStore<Note> for NonEmpty {
///     async fn get(&self, id: &u32) -> Result<Option<Note>, StoreError> {
///         self.0.get(id).await
///     }
///     async fn create(&self, note: Note) -> Result<Note, StoreError> {
///         if note.text.is_empty() {
///             return Err("a note needs text".into());
///         }
///         self.0.create(note).await
///     }
///     async fn update(&self, id: &u32, note: Note) -> Result<Option<Note>, StoreError> {
///         self.0.update(id, note).await
///     }
///     async fn delete(&self, id: &u32) -> Result<Option<u64>, StoreError> {
///         self.0.delete(id).await
///     }
/// }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = NonEmpty(MemoryDocumentStore::new());
/// assert!(store.create(Note { id: 1, v: 0, text: String::new() }).await.is_err());
/// assert_eq!(store.create(Note { id: 1, v: 0, text: "hi".into() }).await.unwrap().v, 1);
/// # }
/// ```
pub trait DocumentStore<D: DocumentSpec>: Send + Sync + 'static {
    /// The document `id`, if it exists.
    fn get(&self, id: &D::Id) -> impl Future<Output = Result<Option<D>, StoreError>> + Send;
    /// Creates a document; returns it with its id and first version.
    fn create(&self, cmd: D::Create) -> impl Future<Output = Result<D, StoreError>> + Send;
    /// Updates document `id`; returns it with its new version, `None` if it does not exist.
    fn update(
        &self,
        id: &D::Id,
        cmd: D::Update,
    ) -> impl Future<Output = Result<Option<D>, StoreError>> + Send;
    /// Deletes document `id`; returns the version it had, `None` if it did not exist.
    fn delete(&self, id: &D::Id) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;
}

struct Rows<D: DocumentSpec> {
    docs: HashMap<D::Id, D>,
    /// The last version given to each id, kept across deletes.
    versions: HashMap<D::Id, u64>,
}

/// An in-memory [`DocumentStore`] (for quick starts, tests and single-process use). Creating
/// takes the document itself (`D::Create = D`, the default) or anything `Into<D>`; updating
/// applies `D::Update` with [`ApplyUpdate`]. Cheap to clone; clones share their documents.
pub struct MemoryDocumentStore<D: DocumentSpec> {
    rows: Arc<Mutex<Rows<D>>>,
    _d: PhantomData<fn() -> D>,
}

impl<D: DocumentSpec> Clone for MemoryDocumentStore<D> {
    fn clone(&self) -> Self {
        Self {
            rows: Arc::clone(&self.rows),
            _d: PhantomData,
        }
    }
}

impl<D: DocumentSpec> Default for MemoryDocumentStore<D> {
    fn default() -> Self {
        Self::new()
    }
}

impl<D: DocumentSpec> MemoryDocumentStore<D> {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            rows: Arc::new(Mutex::new(Rows {
                docs: HashMap::new(),
                versions: HashMap::new(),
            })),
            _d: PhantomData,
        }
    }

    fn rows(&self) -> std::sync::MutexGuard<'_, Rows<D>> {
        self.rows.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn next_version<D: DocumentSpec>(rows: &mut Rows<D>, id: &D::Id) -> u64 {
    let v = rows.versions.entry(id.clone()).or_insert(0);
    *v += 1;
    *v
}

impl<D> DocumentStore<D> for MemoryDocumentStore<D>
where
    D: DocumentSpec + ApplyUpdate<D::Update>,
    D::Create: Into<D>,
{
    async fn get(&self, id: &D::Id) -> Result<Option<D>, StoreError> {
        Ok(self.rows().docs.get(id).cloned())
    }

    async fn create(&self, cmd: D::Create) -> Result<D, StoreError> {
        let mut doc: D = cmd.into();
        let mut rows = self.rows();
        let id = doc.id().clone();
        if rows.docs.contains_key(&id) {
            return Err(format!("{} {id:?} already exists", D::NAME).into());
        }
        let v = next_version(&mut rows, &id);
        doc.set_version(v);
        rows.docs.insert(id, doc.clone());
        Ok(doc)
    }

    async fn update(&self, id: &D::Id, cmd: D::Update) -> Result<Option<D>, StoreError> {
        let mut rows = self.rows();
        let Some(mut doc) = rows.docs.get(id).cloned() else {
            return Ok(None);
        };
        doc.apply_update(cmd);
        if doc.id() != id {
            return Err(format!("an update of {} {id:?} may not change its id", D::NAME).into());
        }
        let v = next_version(&mut rows, id);
        doc.set_version(v);
        rows.docs.insert(id.clone(), doc.clone());
        Ok(Some(doc))
    }

    async fn delete(&self, id: &D::Id) -> Result<Option<u64>, StoreError> {
        Ok(self.rows().docs.remove(id).map(|d| d.version()))
    }
}
