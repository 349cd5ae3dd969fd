//! Opening a deployment's connections again when its map is out of date. A cluster client
//! follows redirections, but a master that is gone (killed, its host down) only yields
//! refused or silent connections, which do not make it read the slot map again; so on such a
//! failure the backend opens new cluster connections from the seed nodes (which read the map
//! as it is now) and swaps them in. On Sentinel, a failure (or a `READONLY` answer: the old
//! master demoted) makes it ask the sentinels for the master again, and when it moved, connect
//! to the new one (once it says it is a master) and swap the connections. At most one
//! reopening runs at a time, and not more than one per [`REOPEN_INTERVAL`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::conn::Conn;
use super::connection::Inner;
use super::sentinel::Sentinels;
use crate::error::BackendError;

/// The shortest time between two reopenings of a cluster's or a Sentinel deployment's
/// connections (see the README, "Redis Cluster" and "Sentinel"): after a failover, calls reach
/// the new master within about this interval, the breaker's probe interval and the time to
/// connect.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(forze_runtime::adapters::redis::REOPEN_INTERVAL, Duration::from_millis(250));
/// ```
pub const REOPEN_INTERVAL: Duration = Duration::from_millis(250);

/// How a deployment's connections are opened again.
pub(super) enum Reopen {
    /// One server: its `ConnectionManager`s reconnect on their own.
    Never,
    /// A cluster: new connections from the seed nodes.
    Cluster(Box<redis::cluster::ClusterClient>),
    /// Sentinel: the master asked of the sentinels again, and new connections when it moved.
    Sentinel(Box<SentinelMaster>),
}

/// The sentinels, and the master's address the connections go to now.
pub(super) struct SentinelMaster {
    sentinels: Sentinels,
    address: std::sync::Mutex<String>,
}

impl SentinelMaster {
    pub(super) fn new(sentinels: Sentinels, address: String) -> Self {
        Self {
            sentinels,
            address: std::sync::Mutex::new(address),
        }
    }

    /// The master's `host:port` the connections go to now.
    pub(super) fn address(&self) -> String {
        self.address.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// The sentinels.
    pub(super) fn sentinels(&self) -> &Sentinels {
        &self.sentinels
    }
}

/// Whether a reopening runs, and when the last one started.
pub(super) struct Reopening {
    how: Reopen,
    running: AtomicBool,
    /// When the last reopening started, in ms since `epoch`.
    last_ms: AtomicU64,
    epoch: Instant,
}

impl Reopening {
    pub(super) fn new(how: Reopen) -> Self {
        Self {
            how,
            running: AtomicBool::new(false),
            last_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// The sentinels and the master, on Sentinel.
    pub(super) fn sentinel(&self) -> Option<&SentinelMaster> {
        match &self.how {
            Reopen::Sentinel(master) => Some(master),
            _ => None,
        }
    }

    /// Whether the deployment is a Redis Cluster.
    pub(super) fn cluster(&self) -> bool {
        matches!(self.how, Reopen::Cluster(_))
    }

    /// Whether failures of this deployment can call for a reopening.
    pub(super) fn possible(&self) -> bool {
        !matches!(self.how, Reopen::Never)
    }
}

/// After a call that found the deployment unavailable: starts a reopening of `inner`'s
/// connections in the background, unless one runs or one started within [`REOPEN_INTERVAL`]
/// (or no tokio runtime is at hand).
pub(super) fn after_unavailable(inner: &Arc<Inner>, error: &BackendError) {
    let reopening = &inner.reopening;
    // `READONLY`: a master demoted to a replica (a Sentinel failover) that still answers.
    if !reopening.possible() || !(error.is_unavailable() || error.message.contains("READONLY")) {
        return;
    }
    let now = reopening.epoch.elapsed().as_millis() as u64 + REOPEN_INTERVAL.as_millis() as u64;
    let last = reopening.last_ms.load(Ordering::Relaxed);
    if now < last + REOPEN_INTERVAL.as_millis() as u64
        || reopening.running.swap(true, Ordering::AcqRel)
    {
        return;
    }
    reopening.last_ms.store(now, Ordering::Relaxed);
    spawn(inner, 1);
}

/// Starts a reopening now (the sentinels announced a new master), unless one runs; it asks
/// them again a few times should the new master not say it is one yet.
pub(super) fn on_announcement(inner: &Arc<Inner>) {
    if inner.reopening.running.swap(true, Ordering::AcqRel) {
        return;
    }
    spawn(inner, 8);
}

/// Runs a reopening (the caller set `running`): at least `tries` attempts on Sentinel, more
/// while the breaker is open.
fn spawn(inner: &Arc<Inner>, tries: u32) {
    let reopening = &inner.reopening;
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        reopening.running.store(false, Ordering::Release);
        return;
    };
    let inner = Arc::clone(inner);
    handle.spawn(async move {
        // On Sentinel, the master may not have moved yet (the sentinels are still agreeing):
        // asked again every interval while calls keep failing (the breaker open), for at
        // most `MAX_TRIES` intervals, so the new master is used as soon as they name it.
        const MAX_TRIES: u32 = 120;
        for attempt in 1..=MAX_TRIES {
            let opened = tokio::time::timeout(inner.config.connect_timeout, reopen(&inner)).await;
            match opened {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => {
                    tracing::info!(connections = n, "redis connections opened again");
                    // The new connections answered: calls need not wait for a probe.
                    inner.breaker.record(&Ok::<(), BackendError>(()));
                    break;
                }
                Ok(Err(e)) => tracing::debug!(error = %e, "redis connections not opened again"),
                Err(_) => {
                    tracing::debug!("redis connections not opened again within connect_timeout")
                }
            }
            let sentinel = matches!(inner.reopening.how, Reopen::Sentinel(_));
            let failing = inner.breaker.state() == super::BreakerState::Open;
            if !sentinel || (attempt >= tries && !failing) {
                break;
            }
            tokio::time::sleep(REOPEN_INTERVAL).await;
        }
        inner.reopening.running.store(false, Ordering::Release);
    });
}

/// Opens every connection again and swaps the new ones in; returns how many.
async fn reopen(inner: &Inner) -> Result<usize, BackendError> {
    match &inner.reopening.how {
        Reopen::Never => Ok(0),
        Reopen::Cluster(client) => {
            for slot in &inner.conns {
                let conn = client.get_async_connection().await?;
                slot.store(Arc::new(Conn::Cluster(conn)));
            }
            Ok(inner.conns.len())
        }
        Reopen::Sentinel(master) => {
            let timeout = inner.config.connect_timeout;
            let address = master
                .sentinels
                .master_address(&inner.config, timeout)
                .await?;
            let current = master.address();
            if address == current {
                // Still the master: its managers reconnect to it on their own.
                return Ok(0);
            }
            let Some(managers) = master
                .sentinels
                .connect_master(&address, &inner.config)
                .await?
            else {
                // Not promoted yet: asked again at the next failure.
                return Ok(0);
            };
            for (slot, manager) in inner.conns.iter().zip(managers) {
                slot.store(Arc::new(Conn::Single(manager)));
            }
            inner
                .endpoint
                .store(Arc::new(super::connection::Endpoint::of_address(&address)));
            tracing::warn!(
                master = %master.sentinels.master,
                from = %current,
                to = %address,
                "redis master moved (sentinel failover): connections now go to the new master"
            );
            if let Ok(mut a) = master.address.lock() {
                *a = address;
            }
            Ok(inner.conns.len())
        }
    }
}
