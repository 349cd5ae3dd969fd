//! Health of the backend: reachability, latency, connections and redacted config.

use std::time::Duration;

use crate::adapters::redis::BreakerState;
use crate::wiring::Backend;

/// A health report, e.g. for a `/health/redis` endpoint.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), forze_runtime::Error> {
/// let forze = forze_runtime::Forze::builder().build().await?;
/// let health = forze.health().await;
/// assert_eq!(health.backend, "memory");
/// assert!(health.reachable && health.error.is_none());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// `"redis"` or `"memory"`.
    pub backend: &'static str,
    /// Whether the backend answered.
    pub reachable: bool,
    /// Round-trip time of a `PING` (zero for memory).
    pub latency: Option<Duration>,
    /// Number of connections in use (0 for memory).
    pub connections: usize,
    /// `"connected"`, `"down"` or `"embedded"`.
    pub state: &'static str,
    /// The backend's configuration, secrets redacted.
    pub config: String,
    /// Why the backend is not reachable.
    pub error: Option<String>,
    /// The circuit breaker: `"closed"` (calls go to the backend), `"open"` (calls fail fast
    /// until a probe, or this health check, finds the backend again), or `"none"` (memory).
    pub breaker: &'static str,
    /// What the server keeps across a restart: `"aof"`, `"rdb"` (snapshots), `"none"` (a
    /// restart forgets everything — idempotency records included, so exactly-once does not
    /// hold across it), `"unknown"`; `"memory"` for the in-memory backend (it lives as long as
    /// the process).
    pub persistence: &'static str,
    /// The server and its version as it said at start-up (`"redis 7.0.15"`, `"valkey 9.1.2"`);
    /// `None` for memory, or when the server does not say.
    pub server: Option<String>,
    /// On a cluster, each primary with its server as it said at start-up
    /// (`"127.0.0.1:7000 redis 7.0.15"`; `server` is the one with the fewest native commands,
    /// and `native_commands` what every primary has); empty on one server and for memory.
    pub nodes: Vec<String>,
    /// The node the connections go to now, `host:port` (`None` for memory): the URL's; on a
    /// cluster the first seed node; on Sentinel the master, following a failover.
    pub endpoint: Option<String>,
    /// The server's conditional commands used instead of a script (`"SET IFEQ"`, `"DELIFEQ"`,
    /// `"DELEX IFEQ"`); empty on servers without them (Redis 7 runs the scripts) and for memory.
    pub native_commands: Vec<&'static str>,
    /// The near caches (`None` when no route has one): on or off, size, hits, invalidations,
    /// flushes.
    pub near: Option<crate::NearStats>,
}

pub(crate) async fn check(backend: &Backend, near: &crate::near::NearHub) -> Health {
    let near = near.is_used().then(|| near.stats());
    match backend {
        Backend::Memory(m) => Health {
            backend: "memory",
            reachable: true,
            latency: Some(Duration::ZERO),
            connections: 0,
            state: "embedded",
            config: format!("{:?}", m.config()),
            error: None,
            breaker: "none",
            persistence: "memory",
            server: None,
            nodes: Vec::new(),
            endpoint: None,
            native_commands: Vec::new(),
            near,
        },
        Backend::Redis(r) => {
            let ping = r.ping().await;
            let persistence = if ping.is_ok() {
                r.persistence().await
            } else {
                "unknown"
            };
            Health {
                backend: "redis",
                reachable: ping.is_ok(),
                latency: ping.as_ref().ok().copied(),
                connections: r.connections(),
                state: if ping.is_ok() { "connected" } else { "down" },
                config: format!("{:?}", r.config()),
                error: ping.err().map(|e| e.to_string()),
                breaker: match r.breaker_state() {
                    BreakerState::Closed => "closed",
                    BreakerState::Open => "open",
                },
                persistence,
                server: r.server().map(|s| s.to_string()),
                nodes: r.nodes(),
                endpoint: Some(r.endpoint()),
                native_commands: r.native_commands(),
                near,
            }
        }
    }
}
