//! # forze-runtime
//!
//! Caching, counters, idempotency, rate limiting and locks on Redis / Valkey or in memory,
//! wired by logical name, with the key layout, escaping and failure policies done once, right.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), forze_runtime::Error> {
//! use std::time::Duration;
//! use forze_runtime::{BackendConfig, CacheRoute, Forze};
//!
//! let forze = Forze::builder()
//!     .backend(BackendConfig::from_env()) // REDIS_URL set: Redis; else in memory
//!     .cache("users", CacheRoute::new("app:users").ttl(Duration::from_secs(600)))
//!     .build()
//!     .await?;
//! let users = forze.cache("users")?;
//! users.set("user:42", &("Ada", 36)).await?;
//! assert_eq!(users.get::<(String, u32)>("user:42").await?, Some(("Ada".into(), 36)));
//! # Ok(()) }
//! ```
//!
//! ## Layers
//! - [`ports`]: one small async trait per capability.
//! - [`adapters`]: Redis and in-memory implementations of every port.
//! - [`keys`] and [`codec`]: the one place keys are built/escaped and values encoded.
//! - [`wiring`]: names → routes → typed handles ([`Cache`], [`Counter`], [`Idempotency`],
//!   [`Limiter`], [`Locks`]); [`health`] reports on the backend.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod adapters;
pub mod codec;
pub mod document;
mod error;
mod handles;
pub mod health;
#[cfg(feature = "axum")]
pub mod http;
pub mod keys;
mod near;
mod outcomes;
pub mod ports;
#[cfg(feature = "sessions")]
pub mod sessions;
pub mod telemetry;
pub mod tenant;
pub mod wiring;

#[doc(hidden)]
pub mod __private;

pub use adapters::memory::MemoryConfig;
pub use adapters::redis::{RedisConfig, TlsConfig};
/// `#[async_trait]`, re-exported: implementing a port (the object-safe traits in [`ports`], for a
/// backend of your own) needs it, and this way no other crate does. [`document::DocumentStore`]
/// needs nothing: implement it with plain `async fn`s.
///
/// ```
/// use forze_runtime::async_trait;
/// #[async_trait]
/// trait Greet {
///     async fn hello(&self) -> String;
/// }
/// ```
pub use async_trait::async_trait;
pub use error::{BackendError, BackendErrorKind, Error, RouteKind};
pub use handles::{
    Begin, Cache, Claim, Counter, Fill, FillLock, Idempotency, Limiter, LockGuard, Locks, Recorded,
    Snapshot, ValueCodec, Versioned,
};
pub use health::Health;
pub use near::{NearCache, NearStats};
pub use outcomes::{IdempotencyError, RateLimited};
pub use wiring::{
    BackendConfig, CacheRoute, CounterRoute, FailurePolicy, Forze, ForzeBuilder, IdempotencyRoute,
    LimiterFailure, LimiterRoute, LockRoute,
};

/// Caches an async function's result in a wired cache.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use forze_runtime::{cache_invalidate, cached, CacheRoute, Forze};
///
/// #[derive(Clone, serde::Serialize, serde::Deserialize)]
/// struct User { id: u64, name: String }
///
/// #[cached(cache = "users", key = "user:{id}", ttl = "10m")]
/// async fn get_user(id: u64) -> Result<User, std::io::Error> {
///     Ok(User { id, name: "Ada".into() })   // e.g. a database query
/// }
///
/// #[cache_invalidate(cache = "users", key = "user:{id}")]
/// async fn rename_user(id: u64, name: String) -> Result<(), std::io::Error> {
///     let _ = (id, name);                    // e.g. an UPDATE
///     Ok(())
/// }
///
/// let forze = Forze::builder().cache("users", CacheRoute::new("app:users")).build().await?;
/// forze.install()?; // the process-wide runtime annotated functions use
/// assert_eq!(get_user(42).await?.name, "Ada"); // miss: runs, stores
/// assert_eq!(get_user(42).await?.name, "Ada"); // hit: one GET
/// rename_user(42, "Grace".into()).await?;      // drops user:42 after success
/// # Ok(()) }
/// ```
///
/// Arguments:
/// - `cache = "name"` (required): the wired cache route.
/// - `key = "user:{id}"`: the key template; `{param}` or `{param.field}` insert arguments as
///   their text, so the entry is the one the typed calls name with the same string
///   (`cache.invalidate("user:42")`); a value that another placeholder follows has `%`, `-`,
///   `.` and `:` written `%XX`, so no argument can forge the template's separators (see
///   [`keys::KeyWriter`]). Checked at compile time. Without it the key is the function's path
///   and every parameter not in `skip(a, b)`, `:`-separated; `self` is never part of a default
///   key.
/// - `ttl = "10m"` (`"500ms"`, `"1h30m"`, ...): checked at compile time; default: the route's.
/// - `via = expr`: the runtime (`Forze`, `&Forze`, `Arc<Forze>`); default: the task's
///   ([`Forze::scope`]), else the process-wide one ([`Forze::install`]). Without any, the call
///   runs uncached (a cache is an optimisation) and a `warn` is logged once per function.
/// - `returns = "result" | "option" | "plain"`: how to cache the return type when it is a
///   generic parameter. Otherwise it is seen through aliases: a `Result` (or an alias of one)
///   caches `Ok` only, an `Option` caches `Some` only (`cache_none` caches `None` too), anything
///   else is cached as it is. The stored value must be `Serialize + DeserializeOwned`.
/// - `tags = ["team:{team_id}"]`: groups to drop at once with [`Cache::invalidate_tag`] or
///   `#[cache_invalidate(tags = [...])]`.
/// - `lock = "name"`: a wired lock route that guards fills across processes: of a miss storm
///   over several processes, one fills and the others wait for its value (in one process,
///   concurrent misses always share one computation).
/// - `crate = path`: where `forze_runtime` is, when renamed.
///
/// The flow is [`Cache::get_or_compute_with`], which hand-written code calls too: a hit is one
/// read; concurrent misses share one computation; a computation that calls the same key of the
/// same cache inside itself (another function with the same template, a recursion) computes
/// directly instead of waiting for itself. Writing `#[cached]` twice on one function is a
/// compile error. Failures never fail the call: a cache that is down, slow, full or holds an
/// undecodable entry means the function runs and its value is returned (logged with
/// `tracing`).
pub use forze_macros::cached;

/// Drops cache entries after an async function succeeds (`Ok` for `Result`s, any value
/// otherwise): `key = "..."` and/or `tags = [...]`, templates as for [`macro@cached`]; `via`
/// and `crate` as there.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use forze_runtime::{cache_invalidate, cached, CacheRoute, Forze};
///
/// static QUERIES: AtomicUsize = AtomicUsize::new(0);
///
/// /// A team's member list, tagged with its team.
/// #[cached(cache = "teams", key = "members:{team}", tags = ["team:{team}"])]
/// async fn members(team: u64) -> Result<Vec<String>, std::io::Error> {
///     QUERIES.fetch_add(1, Ordering::SeqCst);  // e.g. a SELECT
///     Ok(vec!["ada".into()])
/// }
///
/// /// Adding a member drops every entry tagged with the team, once the write succeeded.
/// #[cache_invalidate(cache = "teams", tags = ["team:{team}"])]
/// async fn add_member(team: u64, name: String) -> Result<(), std::io::Error> {
///     let _ = (team, name);                     // e.g. an INSERT
///     Ok(())
/// }
///
/// let forze = Forze::builder().cache("teams", CacheRoute::new("app:teams")).build().await?;
/// forze
///     .scope(async {
///         members(7).await?;                    // a miss: queries
///         members(7).await?;                    // a hit
///         add_member(7, "grace".into()).await?; // drops the team's entries
///         members(7).await?;                    // a miss again
///         Ok::<_, std::io::Error>(())
///     })
///     .await?;
/// assert_eq!(QUERIES.load(Ordering::SeqCst), 2);
/// # Ok(()) }
/// ```
///
/// The flow is
/// [`Cache::invalidate_entries`]. Failures to invalidate are logged at `error` and do not
/// change the function's result; without a runtime the function runs and a `warn` is logged
/// once.
pub use forze_macros::cache_invalidate;

/// Runs an async function at most once per idempotency key, replaying its result to duplicates.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use forze_runtime::{idempotent, Forze, IdempotencyError, IdempotencyRoute};
///
/// #[derive(Debug)]
/// enum AppError { Idem(IdempotencyError) }
/// impl From<IdempotencyError> for AppError {
///     fn from(e: IdempotencyError) -> Self { AppError::Idem(e) }
/// }
///
/// #[idempotent(store = "default", operation = "create_payment", key = idem_key, ttl = "24h")]
/// async fn create_payment(idem_key: String, amount: u64) -> Result<String, AppError> {
///     Ok(format!("payment of {amount}"))     // the effect: runs once per key
/// }
///
/// let forze = Forze::builder().idempotency("default", IdempotencyRoute::new("app:idem")).build().await?;
/// forze.scope(async {
///     assert_eq!(create_payment("k1".into(), 10).await.unwrap(), "payment of 10");
///     assert_eq!(create_payment("k1".into(), 10).await.unwrap(), "payment of 10"); // replayed
///     assert!(matches!(
///         create_payment("k1".into(), 99).await,             // same key, other payload
///         Err(AppError::Idem(IdempotencyError::Mismatch { .. }))
///     ));
/// }).await;
/// # Ok(()) }
/// ```
///
/// - `store = "name"` (required): the wired idempotency store.
/// - `key = param` (required): the parameter holding the key (`keys::KeyPart`), used as its
///   text: `Idempotency::begin(operation, key, ..)` with the same string meets the same record.
///   If its type is an `Option`, `None` runs the call without idempotency.
/// - `operation = "name"`: default: the function's path. Records live at
///   `{namespace}/{operation}/{key}`.
/// - The payload fingerprint is SHA-256 of the other parameters (minus `skip(a, b)`) as a
///   sorted-key JSON object, so the same request from another process matches; they must be
///   `Serialize`.
/// - `ttl = "24h"`: how long the result is replayed (default: the store's); `wait = "5s"`: a
///   duplicate waits (polling) that long for a first call still in progress instead of failing
///   with `IdempotencyError::InProgress`.
/// - `via = expr`, `crate = path`: as for [`macro@cached`].
///
/// The function returns `Result<T, E>` with `T: Serialize + DeserializeOwned` and
/// `E: From<IdempotencyError>`. `Ok` is recorded and replayed; `Err` releases the claim so that
/// a retry runs again; a mismatch, a call in progress, a store that is down (idempotency fails
/// closed) or a missing runtime (no `via`, no [`Forze::scope`], no [`Forze::install`]:
/// `IdempotencyError::Unavailable(Error::NoRuntime { .. })`) are `Err(E::from(..))` and the
/// body does not run. The flow is [`Idempotency::run`]; a body that runs its own key again
/// inside itself gets `IdempotencyError::Reentrant` there, and `#[idempotent]` written twice is
/// a compile error.
pub use forze_macros::idempotent;

/// Rate limits an async function: one atomic check (one round trip), the body only when admitted.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use forze_runtime::{rate_limited, Forze, LimiterRoute, RateLimited};
///
/// #[rate_limited(limiter = "api", key = "user:{user_id}", limit = 2, per = "1m", algorithm = "gcra")]
/// async fn search(user_id: u64, q: String) -> Result<Vec<String>, RateLimited> {
///     Ok(vec![format!("{user_id}: {q}")])
/// }
///
/// let forze = Forze::builder().limiter("api", LimiterRoute::new("app:rl")).build().await?;
/// forze.scope(async {
///     assert!(search(1, "a".into()).await.is_ok());
///     assert!(search(1, "b".into()).await.is_ok());
///     let refused = search(1, "c".into()).await.unwrap_err();   // the body did not run
///     assert!(refused.retry_after.as_secs() > 0);
/// }).await;
/// # Ok(()) }
/// ```
///
/// - `limiter = "name"` (required): the wired limiter.
/// - `key = "user:{user_id}"`: a template as for [`macro@cached`]; default: one bucket for the
///   function.
/// - `limit = N, per = "1m"` and optionally `algorithm = "fixed_window" | "sliding_window" |
///   "gcra"` (default: fixed window, the cheapest — one `INCRBY` on Redis, no script; GCRA and
///   the sliding window smooth bursts but cost Redis a Lua script per check); or
///   none of them (or `from_wiring`) for the limiter's wired quota.
/// - `cost = expr`: units this call uses (an expression of the arguments, `u64`; default 1).
/// - `via = expr`, `crate = path`: as for [`macro@cached`].
///
/// The function returns `Result<T, E>` with `E: From<RateLimited>`. A refusal carries limit,
/// remaining, retry-after and reset-after. When the limiter's backend is unreachable, the
/// limiter's [`LimiterFailure`] policy decides (allow, or refuse with `unavailable: true`).
/// Without a runtime (no `via`, no [`Forze::scope`], no [`Forze::install`]) or with an unknown
/// limiter the call is refused — a limit never silently vanishes — with
/// [`RateLimited::reason`] saying how to provide one, and a `warn` once per function. The flow
/// is [`Limiter::admit`].
pub use forze_macros::rate_limited;

/// Derives [`document::DocumentSpec`] for a struct with named fields.
///
/// ```
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
/// ```
///
/// Container attributes, in `#[document(...)]`: `name = "..."` (required; also the prefix of the
/// cache keys), `cache(name = "...", ttl = "5m")` (a wired cache route; ttl defaults to the
/// route's), `create = Type`, `update = Type`, `read = Type` (command and read-model types,
/// default the document itself; `read` must be `From<Self>`), `crate = path`. Field
/// attributes: `#[document(id)]` on exactly one field (its type: `keys::KeyPart + Clone + Eq +
/// Hash + Debug`) and `#[document(version)]` on one integer field. The cache name is registered
/// for the start-up check of the wiring.
pub use forze_macros::DocumentSpec;
