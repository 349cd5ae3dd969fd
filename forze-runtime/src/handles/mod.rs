//! Typed handles to wired routes: what user code (and generated code) calls.
//!
//! A handle knows its route (kind, name, namespace, tenant-awareness, defaults and failure
//! policy), builds keys through [`crate::keys`], encodes values through [`crate::codec`], and
//! calls its port. Handles are cheap to clone.

mod cache;
mod compute;
mod counter;
mod idempotency;
mod lease;
mod limiter;
mod lock;
mod reentrant;
mod route;
pub(crate) mod singleflight;

pub(crate) use cache::Fence;
pub use cache::{Cache, Versioned};
pub(crate) use compute::Look;
pub use compute::{Fill, FillLock, ValueCodec};
pub use counter::Counter;
pub use idempotency::RunCodec;
pub use idempotency::{Begin, Claim, Idempotency, Recorded, Snapshot};
pub use limiter::Limiter;
pub use lock::{LockGuard, Locks};
pub(crate) use route::RouteCore;
