//! Opening a deployment's connections again when its map is out of date. A cluster client
//! follows redirections, but a master that is gone (killed, its host down) only yields
//! refused or silent connections, which do not make it read the slot map again; so on such a
//! failure the backend opens new cluster connections from the seed nodes (which read the map
//! as it is now) and swaps them in. At most one reopening runs at a time, and not more than
//! one per [`REOPEN_INTERVAL`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::conn::Conn;
use super::connection::Inner;
use crate::error::BackendError;

/// The shortest time between two reopenings.
pub(super) const REOPEN_INTERVAL: Duration = Duration::from_millis(250);

/// How a deployment's connections are opened again.
pub(super) enum Reopen {
    /// One server: its `ConnectionManager`s reconnect on their own.
    Never,
    /// A cluster: new connections from the seed nodes.
    Cluster(Box<redis::cluster::ClusterClient>),
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
    if !reopening.possible() || !error.is_unavailable() {
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
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        reopening.running.store(false, Ordering::Release);
        return;
    };
    let inner = Arc::clone(inner);
    handle.spawn(async move {
        let opened = tokio::time::timeout(inner.config.connect_timeout, reopen(&inner)).await;
        match opened {
            Ok(Ok(n)) => tracing::info!(connections = n, "redis connections opened again"),
            Ok(Err(e)) => tracing::debug!(error = %e, "redis connections not opened again"),
            Err(_) => tracing::debug!("redis connections not opened again within connect_timeout"),
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
    }
}
