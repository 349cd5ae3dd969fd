//! The Redis / Valkey backend.
//!
//! Connections: `max_size` multiplexed [`redis::aio::ConnectionManager`]s (each reconnects on its
//! own), used round-robin; a clone of the backend shares them. Every operation is one round trip:
//! a single command where one suffices (`GET`, `SET PX`, `INCRBY`, `SET NX PX`, an idempotency
//! begin's `SET NX PX GET`, a pipeline for `get_many`/`set_many`), the server's conditional
//! commands where it has them (`SET … IFEQ`, `DELIFEQ`, `DELEX … IFEQ`: see `server::Native`),
//! otherwise one Lua script (`scripts/*.lua`) run with `EVALSHA`. (A fixed-window check adds a
//! `PEXPIREAT` when it opens a window.) Scripts are loaded at start-up, and reloaded
//! transparently when a restarted server answers `NOSCRIPT`.
//!
//! Redis Cluster: every script declares the keys it touches in `KEYS`, but a script's keys (a
//! document's pointer, body and current copy; a tagged entry and its tag sets) are not placed in
//! one hash slot, so this backend is for single-node / replicated deployments (see README).

mod breaker;
mod cache;
mod config;
mod conn;
mod connection;
mod counter;
mod idempotency;
mod lock;
mod owned;
mod per_slot;
mod rate_limit;
mod reopen;
mod scripts;
mod sentinel;
mod server;
mod tls;
mod topology;
mod tracking;
mod writer;

use std::time::Duration;

pub use breaker::BreakerConfig;
pub(crate) use breaker::BreakerState;
pub use config::{RedisConfig, REDIS_URL_ENV};
pub use conn::CLUSTER_RETRIES;
pub use connection::RedisBackend;
pub use reopen::REOPEN_INTERVAL;
pub use server::{Product, ServerInfo};
pub use tls::TlsConfig;

/// A command `name` with room for `args` more arguments of `bytes` bytes in all, so that adding
/// them does not grow its buffers step by step (what `redis::cmd` would).
fn command(name: &'static str, args: usize, bytes: usize) -> redis::Cmd {
    let mut cmd = redis::Cmd::with_capacity(args + 1, name.len() + bytes);
    cmd.arg(name);
    cmd
}

fn ms(d: Duration) -> u64 {
    (d.as_millis() as u64).max(1)
}

fn us(v: i64) -> Duration {
    Duration::from_micros(v.max(0) as u64)
}
