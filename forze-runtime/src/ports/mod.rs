//! Ports: the small async traits every backend implements.
//!
//! Ports speak in full storage keys (built by [`crate::keys`]) and bytes (encoded by
//! [`crate::codec`]); routes, tenants, codecs, timeouts and failure policies live one layer up,
//! in the handles of [`crate::wiring`]. Each port has one contract test suite that every adapter
//! passes (`tests/` in the workspace).

pub(crate) mod cache;
mod counter;
mod idempotency;
mod lock;
mod rate_limit;

pub use cache::{CachePort, FencedEntry, VersionDecision, VersionWrite, VersionedKeys};
pub use counter::CounterPort;
pub use idempotency::{BeginOutcome, IdempotencyPort};
pub use lock::LockPort;
pub(crate) use rate_limit::{gcra_decision, gcra_tolerance};
pub use rate_limit::{Algorithm, Decision, Quota, RateLimitPort};

/// A versioned entry's pointer lives this many times its bodies' TTL (see
/// [`CachePort::set_version`]).
pub const POINTER_TTL_FACTOR: u32 = 2;

/// A sliding window is kept in this many buckets per period: every bucket that overlaps the
/// last period counts in full, so no interval of one period holds more than the limit, a
/// denial comes at most `period / SLIDING_WINDOW_BUCKETS` early, and a check's cost is bounded
/// by the bucket count whatever the quota.
pub const SLIDING_WINDOW_BUCKETS: u64 = 60;

/// What every port method returns.
pub type PortResult<T> = Result<T, crate::BackendError>;
