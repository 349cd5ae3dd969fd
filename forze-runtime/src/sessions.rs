//! Sessions (feature `sessions`): a [`tower_sessions_core::SessionStore`] on a forze cache
//! route, so `tower-sessions` keeps its sessions in Redis (or in memory), each for as long as
//! its expiry says, and a user can be logged out everywhere at once.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use forze_runtime::{sessions::ForzeSessionStore, CacheRoute, Forze};
//! use tower_sessions_core::{session::{Id, Record}, SessionStore};
//! let forze = Forze::builder().cache("sessions", CacheRoute::new("app:sessions")).build().await?;
//! let store = ForzeSessionStore::new(forze.cache("sessions")?).user_field("user_id");
//! let mut record = Record {
//!     id: Id::default(),
//!     data: [("user_id".to_owned(), serde_json::json!(42))].into(),
//!     expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
//! };
//! store.create(&mut record).await?;
//! assert!(store.load(&record.id).await?.is_some());
//! assert_eq!(store.log_out_everywhere("42").await?, 1);
//! assert!(store.load(&record.id).await?.is_none());
//! # Ok(()) }
//! ```

use std::time::Duration;

use async_trait::async_trait;
use tower_sessions_core::session::{Id, Record};
use tower_sessions_core::session_store::{Error as StoreError, Result as StoreResult};
use tower_sessions_core::SessionStore;

use crate::{Cache, Error};

/// A `tower-sessions` store on a cache route: a session is one entry, keyed by its id, stored
/// for the time left until its `expiry_date` (so `Expiry::OnInactivity`, which saves each
/// session again with a later date, slides in Redis too), and dropped at once when it is
/// deleted. With [`ForzeSessionStore::user_field`], each session is tagged with its user, and
/// [`ForzeSessionStore::log_out_everywhere`] drops all of a user's sessions in one call.
#[derive(Debug, Clone)]
pub struct ForzeSessionStore {
    cache: Cache,
    user_field: Option<String>,
}

impl ForzeSessionStore {
    /// Sessions on the cache route of `cache`.
    pub fn new(cache: Cache) -> Self {
        Self {
            cache,
            user_field: None,
        }
    }

    /// Tags each session with the value of its data field `field` (a string or a number: the
    /// user's id), for [`ForzeSessionStore::log_out_everywhere`].
    pub fn user_field(mut self, field: impl Into<String>) -> Self {
        self.user_field = Some(field.into());
        self
    }

    /// Drops every session of `user` (whose user field held `user`); returns how many there
    /// were. Called from a request of that user, also flush that request's session
    /// (`Session::flush`): `tower-sessions` saves a loaded session again when the request ends
    /// if it changed, or always with `with_always_save(true)`.
    pub async fn log_out_everywhere(&self, user: &str) -> Result<u64, Error> {
        self.cache.invalidate_tag(&user_tag(user)).await
    }

    /// The tag of the user of `record`, if it names one.
    fn tag_of(&self, record: &Record) -> Option<String> {
        let value = record.data.get(self.user_field.as_deref()?)?;
        match value {
            serde_json::Value::String(s) => Some(user_tag(s)),
            serde_json::Value::Number(n) => Some(user_tag(&n.to_string())),
            _ => None,
        }
    }
}

/// The tag of a user's sessions.
fn user_tag(user: &str) -> String {
    format!("user:{user}")
}

/// How long `record` has left, if any.
fn time_left(record: &Record) -> Option<Duration> {
    let left = record.expiry_date - time::OffsetDateTime::now_utc();
    Duration::try_from(left).ok().filter(|d| !d.is_zero())
}

fn backend(e: Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

#[async_trait]
impl SessionStore for ForzeSessionStore {
    /// Saves `record` under a new id: one no stored session has (a 128-bit random id is drawn
    /// again while one is found).
    async fn create(&self, record: &mut Record) -> StoreResult<()> {
        while self.load(&record.id).await?.is_some() {
            record.id = Id::default();
        }
        self.save(record).await
    }

    async fn save(&self, record: &Record) -> StoreResult<()> {
        let key = record.id.to_string();
        let Some(ttl) = time_left(record) else {
            // Already expired: nothing to keep.
            return self.delete(&record.id).await;
        };
        let cache = self.cache.with_ttl(ttl);
        match self.tag_of(record) {
            Some(tag) => cache.set_tagged(&key, record, &[&tag]).await,
            None => cache.set(&key, record).await,
        }
        .map_err(backend)
    }

    async fn load(&self, id: &Id) -> StoreResult<Option<Record>> {
        let record: Option<Record> = self.cache.get(&id.to_string()).await.map_err(backend)?;
        Ok(record.filter(|r| time_left(r).is_some()))
    }

    async fn delete(&self, id: &Id) -> StoreResult<()> {
        self.cache
            .invalidate(&id.to_string())
            .await
            .map(|_| ())
            .map_err(backend)
    }
}
