//! Adapters: the implementations of every [port](crate::ports).
//!
//! - [`redis::RedisBackend`]: Redis or Valkey over a small set of multiplexed, self-reconnecting
//!   connections; every multi-step operation is one Lua script (one round trip, atomic).
//! - [`memory::MemoryBackend`]: the embedded default for quick starts, tests of user code and
//!   single-process services; bounded, TTL-aware, and held to the same contract tests.

pub mod memory;
pub mod redis;
