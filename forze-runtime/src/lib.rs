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
mod error;
mod handles;
pub mod health;
pub mod keys;
pub mod ports;
pub mod tenant;
pub mod wiring;

#[doc(hidden)]
pub mod __private;

pub use adapters::memory::MemoryConfig;
pub use adapters::redis::RedisConfig;
pub use error::{BackendError, BackendErrorKind, Error, RouteKind};
pub use handles::{
    Begin, Cache, Claim, Counter, Idempotency, Limiter, LockGuard, Locks, Snapshot, Versioned,
};
pub use health::Health;
pub use wiring::{
    BackendConfig, CacheRoute, CounterRoute, FailurePolicy, Forze, ForzeBuilder, IdempotencyRoute,
    LimiterFailure, LimiterRoute, LockRoute,
};

/// The attribute macros (re-exported from `forze-macros`).
pub use forze_macros::*;
