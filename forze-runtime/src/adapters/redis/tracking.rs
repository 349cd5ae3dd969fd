//! Server-assisted invalidation of the near caches: one dedicated RESP3 connection per master
//! (the server, Sentinel's master, or each cluster master) in `CLIENT TRACKING ON OPTIN NOLOOP`
//! mode. A value is kept near only after a read the server tracks for that connection
//! (`CLIENT CACHING yes` before it, sent on it: `get_with_ttl`, `set_kept`), so every later
//! change of the key — a write through forze in any other process, a plain `SET`/`DEL` by
//! anything else, an expiry, an eviction — is pushed here and drops it from the near tiers.
//!
//! Tracking in this mode rather than `BCAST` with the routes' prefixes: the server then does
//! nothing for the writes of keys no process holds near — a miss that is not kept costs what it
//! costs on a plain route (measured: with `BCAST`, every write under a tracked prefix cost the
//! server ~1.6 µs more, and the near route's miss was 0.75–0.82× a plain one's). The price: the
//! server keeps a table of the keys each tracking connection read (bounded by its
//! `tracking-table-max-keys`, beyond which it invalidates some early: they are read again), and
//! a value kept as written needs a tracked read after its write (one pipeline).
//!
//! `NOLOOP`: a value kept as written goes on the tracking connection of its key's master
//! (`writer`), so that the server does not send this process the invalidation of its own
//! write — which would drop the value it just kept near.
//!
//! The tiers serve only while every tracking connection is up: a disconnection, a `ROLE` probe
//! (every [`HEARTBEAT`]) that fails, times out or finds a replica, or the data connections'
//! breaker opening turns them off and empties them; they come back, empty, once tracking is
//! established again and the breaker is closed. `FLUSHALL`/`FLUSHDB` (a null invalidation)
//! empties them.

use std::sync::{Arc, Weak};
use std::time::Duration;

use redis::{PushInfo, PushKind, Value};

use super::connection::Inner;
use super::topology::Topology;
use super::writer::Writer;
use super::{BreakerState, RedisBackend};
use crate::error::{BackendError, BackendErrorKind};
use crate::near::NearHub;

/// How often each tracking connection is probed.
pub(crate) const HEARTBEAT: Duration = Duration::from_millis(500);

/// The pause before tracking is tried again after it failed.
const RETRY: Duration = Duration::from_millis(250);

impl RedisBackend {
    /// Starts tracking for the near tiers of `hub` (nothing when it has none); the task ends
    /// with the backend.
    pub(crate) fn track(&self, hub: Arc<NearHub>) {
        if !hub.is_used() {
            return;
        }
        let _ = self.inner.near.set(hub.clone());
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move { run(weak, hub).await });
    }
}

async fn run(weak: Weak<Inner>, hub: Arc<NearHub>) {
    let mut failing = false;
    loop {
        let Some(inner) = weak.upgrade() else {
            hub.lose();
            return;
        };
        let established = establish(&inner, &hub).await;
        drop(inner);
        match established {
            Ok((conns, live)) => {
                if failing {
                    tracing::info!("near cache: tracking established again");
                }
                failing = false;
                watch(&weak, &hub, conns).await;
                if let Some(inner) = weak.upgrade() {
                    inner.writer.store(None);
                }
                // These connections' own disconnection, when they are dropped, is old news.
                live.store(false, std::sync::atomic::Ordering::SeqCst);
                hub.lose();
            }
            Err(e) => {
                hub.lose();
                if !failing {
                    tracing::warn!(error = %e, "near cache off: tracking could not be established; retrying");
                }
                failing = true;
            }
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// Connections that carry invalidations, and whether they are the ones in use.
type Tracking = (
    Vec<redis::aio::MultiplexedConnection>,
    Arc<std::sync::atomic::AtomicBool>,
);

/// Opens a tracking connection to every master, and turns the tiers on. While the breaker is
/// open, it first probes the data connections as a call would (when a probe is due): the tiers
/// come back once the backend answers, even when nothing else calls it.
async fn establish(inner: &Arc<Inner>, hub: &Arc<NearHub>) -> Result<Tracking, BackendError> {
    if inner.breaker.state() == BreakerState::Open {
        inner.breaker.admit()?;
        let backend = RedisBackend {
            inner: inner.clone(),
        };
        backend.ping().await?;
    }
    let config = &inner.config;
    let (urls, ranges): (Vec<String>, Vec<Vec<(u16, u16)>>) =
        masters(inner).await?.into_iter().unzip();
    let mut conns = Vec::with_capacity(urls.len());
    let live = Arc::new(std::sync::atomic::AtomicBool::new(true));
    for url in urls {
        let client = super::tls::client(&resp3(&url), &config.tls)?;
        let (pushes, live) = (hub.clone(), live.clone());
        let connection = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.socket_timeout))
            .set_push_sender(move |push: PushInfo| {
                if live.load(std::sync::atomic::Ordering::SeqCst) {
                    on_push(&pushes, push);
                }
                Ok::<(), std::convert::Infallible>(())
            });
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&connection)
            .await?;
        let mut track = redis::cmd("CLIENT");
        // `OPTIN`: the server notes only the reads sent here after `CLIENT CACHING yes` (those
        // of values to be kept near). `NOLOOP`: a write sent here (a value kept as written) is
        // this process's own, and its invalidation is not sent back.
        track.arg("TRACKING").arg("ON").arg("OPTIN").arg("NOLOOP");
        let _: () = track.query_async(&mut conn).await?;
        conns.push(conn);
    }
    // Tracked reads and kept writes go on the tracking connection of their key's master,
    // from before the tiers serve.
    let writer = if inner.reopening.cluster() {
        Some(Writer::per_slot(conns.clone(), &ranges))
    } else {
        conns.first().cloned().map(Writer::one)
    };
    inner.writer.store(writer.map(Arc::new));
    hub.flush();
    Ok((conns, live))
}

/// Returns when a tracking connection is lost, stops answering, is no master any more, or the
/// breaker opens (or the backend is gone).
async fn watch(
    weak: &Weak<Inner>,
    hub: &NearHub,
    mut conns: Vec<redis::aio::MultiplexedConnection>,
) {
    loop {
        tokio::select! {
            _ = hub.lost.notified() => return,
            _ = tokio::time::sleep(HEARTBEAT) => {}
        }
        let Some(inner) = weak.upgrade() else { return };
        if inner.breaker.state() == BreakerState::Open || hub.switch.epoch_if_on().is_none() {
            return;
        }
        let timeout = inner.config.socket_timeout;
        drop(inner);
        for conn in &mut conns {
            let role = tokio::time::timeout(timeout, super::sentinel::is_master(conn)).await;
            if !matches!(role, Ok(Ok(true))) {
                tracing::warn!(answer = ?role.map(|r| r.map_err(|e| e.to_string())).ok(), "near cache off: a tracking connection failed its probe");
                return;
            }
        }
    }
}

fn on_push(hub: &NearHub, push: PushInfo) {
    match push.kind {
        PushKind::Invalidate => match push.data.first() {
            Some(Value::Array(keys)) => {
                for key in keys {
                    if let Value::BulkString(key) = key {
                        hub.invalidate(key);
                    }
                }
            }
            // `FLUSHALL` / `FLUSHDB`: every key is gone.
            Some(Value::Nil) => hub.flush(),
            _ => {}
        },
        PushKind::Disconnection => hub.lose(),
        _ => {}
    }
}

/// `url`, asking for RESP3 (which carries the invalidations on the connection itself).
fn resp3(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            u.query_pairs_mut().append_pair("protocol", "resp3");
            u.to_string()
        }
        Err(_) => url.to_owned(),
    }
}

/// The URL of every master the tracking connections go to, with the slot ranges it serves (on a
/// cluster; none elsewhere).
async fn masters(inner: &Inner) -> Result<Vec<(String, Vec<(u16, u16)>)>, BackendError> {
    let topology = Topology::of(&inner.config.url)
        .map_err(|p| BackendError::new(BackendErrorKind::Protocol, p))?;
    match topology {
        Topology::Single(url) => Ok(vec![(url, Vec::new())]),
        Topology::Sentinel { .. } => match inner.reopening.sentinel() {
            Some(master) => Ok(vec![(
                master.sentinels().master_url(&master.address()),
                Vec::new(),
            )]),
            None => Err(BackendError::new(
                BackendErrorKind::Protocol,
                "no Sentinel master known",
            )),
        },
        Topology::Cluster(seeds) => {
            let mut conn = super::conn::Conn::clone(&inner.conns[0].load());
            let mut slots = redis::cmd("CLUSTER");
            slots.arg("SLOTS");
            let reply: Value =
                tokio::time::timeout(inner.config.socket_timeout, conn.on_one_node(slots))
                    .await
                    .map_err(|_| {
                        BackendError::new(BackendErrorKind::Timeout, "CLUSTER SLOTS timed out")
                    })??;
            let mut out: Vec<(String, Vec<(u16, u16)>)> = Vec::new();
            for range in as_array(&reply) {
                let range = as_array(range);
                let Some(master) = range.get(2) else {
                    continue;
                };
                let bound = |v: Option<&Value>| match v {
                    Some(Value::Int(n)) => u16::try_from(*n).ok(),
                    _ => None,
                };
                let (Some(start), Some(end)) = (bound(range.first()), bound(range.get(1))) else {
                    continue;
                };
                let node = as_array(master);
                let (Some(host), Some(Value::Int(port))) = (node.first(), node.get(1)) else {
                    continue;
                };
                let host = match host {
                    Value::BulkString(h) => String::from_utf8_lossy(h).into_owned(),
                    Value::SimpleString(h) => h.clone(),
                    _ => continue,
                };
                let url = node_url(&seeds[0], &host, *port as u16);
                match out.iter_mut().find(|(u, _)| *u == url) {
                    Some((_, ranges)) => ranges.push((start, end)),
                    None => out.push((url, vec![(start, end)])),
                }
            }
            if out.is_empty() {
                return Err(BackendError::new(
                    BackendErrorKind::Protocol,
                    "CLUSTER SLOTS named no master",
                ));
            }
            Ok(out)
        }
    }
}

fn as_array(v: &Value) -> &[Value] {
    match v {
        Value::Array(items) => items,
        _ => &[],
    }
}

/// `seed` (scheme, credentials, TLS fragment) pointed at `host:port`.
fn node_url(seed: &str, host: &str, port: u16) -> String {
    match url::Url::parse(seed) {
        Ok(mut u) => {
            let _ = u.set_host(Some(host));
            let _ = u.set_port(Some(port));
            u.to_string()
        }
        Err(_) => format!("redis://{host}:{port}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_tracking_url_asks_for_resp3_and_keeps_the_rest() {
        assert_eq!(
            super::resp3("rediss://u:p@h:6380/2#insecure"),
            "rediss://u:p@h:6380/2?protocol=resp3#insecure"
        );
        assert_eq!(
            super::node_url("redis://:pw@a:1", "b", 2),
            "redis://:pw@b:2"
        );
    }
}
