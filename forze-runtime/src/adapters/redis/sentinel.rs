//! Redis Sentinel: the master's address asked of the sentinels, a connection to it checked to
//! be a master, and asked again after failures (`reopen`) and whenever a sentinel announces a
//! new one (`+switch-master`): redis-rs resolves a master only when it connects, so after a
//! failover its connections would keep reaching the old one.

use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;

use super::config::RedisConfig;
use super::connection::Inner;
use crate::error::{BackendError, BackendErrorKind};

/// What a backend on Sentinel needs to find its master.
#[derive(Clone)]
pub(super) struct Sentinels {
    /// The master's name.
    pub(super) master: String,
    /// The sentinels' URLs (no credentials: sentinels are asked without them).
    pub(super) sentinels: Vec<String>,
    /// The master's URL with `{host}` standing for its `host:port`.
    pub(super) node: String,
}

impl Sentinels {
    pub(super) fn new(master: &str, sentinels: &[String], node: &str) -> Self {
        let scheme = node.split("://").next().unwrap_or("redis");
        let scheme = match scheme {
            "rediss" | "valkeys" => "rediss",
            _ => "redis",
        };
        Self {
            master: master.to_owned(),
            sentinels: sentinels
                .iter()
                .map(|s| format!("{scheme}://{s}"))
                .collect(),
            node: node.to_owned(),
        }
    }

    /// The master's `host:port` as the first sentinel that knows it says, each asked within
    /// `timeout`.
    pub(super) async fn master_address(
        &self,
        config: &RedisConfig,
        timeout: Duration,
    ) -> Result<String, BackendError> {
        let mut last = None;
        for sentinel in &self.sentinels {
            let asked = async {
                let client = super::tls::client(sentinel, &config.tls)?;
                let mut conn = client.get_multiplexed_async_connection().await?;
                let addr: Option<(String, u16)> = redis::cmd("SENTINEL")
                    .arg("get-master-addr-by-name")
                    .arg(&self.master)
                    .query_async(&mut conn)
                    .await?;
                Ok::<_, BackendError>(addr)
            };
            match tokio::time::timeout(timeout, asked).await {
                Ok(Ok(Some((host, port)))) => return Ok(format!("{host}:{port}")),
                Ok(Ok(None)) => {
                    last = Some(BackendError::new(
                        BackendErrorKind::Protocol,
                        format!(
                            "sentinel {} knows no master named {:?}",
                            redact_host(sentinel),
                            self.master
                        ),
                    ))
                }
                Ok(Err(e)) => last = Some(e),
                Err(_) => {
                    last = Some(BackendError::new(
                        BackendErrorKind::Timeout,
                        format!(
                            "sentinel {} did not answer within {timeout:?}",
                            redact_host(sentinel)
                        ),
                    ))
                }
            }
        }
        Err(last.unwrap_or_else(|| {
            BackendError::new(BackendErrorKind::Unreachable, "no sentinel given")
        }))
    }

    /// `config.max_size` connections to the master at `address`, if the server there says it
    /// is one (`None`: not, or not yet — a sentinel's answer may be stale or early).
    pub(super) async fn connect_master(
        &self,
        address: &str,
        config: &RedisConfig,
    ) -> Result<Option<Vec<redis::aio::ConnectionManager>>, BackendError> {
        let managers = super::connection::managers(&self.master_url(address), config).await?;
        let mut first = super::conn::Conn::Single(managers[0].clone());
        Ok(is_master(&mut first).await?.then_some(managers))
    }

    /// The URL of the master at `address`.
    pub(super) fn master_url(&self, address: &str) -> String {
        self.node.replace("{host}", address)
    }
}

/// A sentinel's URL as shown in errors (it holds no credentials).
fn redact_host(url: &str) -> &str {
    url.split("://").nth(1).unwrap_or(url)
}

/// Whether the server behind `conn` is a master (`ROLE`), so that a sentinel's stale answer
/// is not taken for the master.
pub(super) async fn is_master(
    conn: &mut impl redis::aio::ConnectionLike,
) -> Result<bool, BackendError> {
    let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(conn).await?;
    Ok(
        matches!(role.first(), Some(redis::Value::BulkString(r)) if r == b"master")
            || matches!(role.first(), Some(redis::Value::SimpleString(r)) if r == "master"),
    )
}

/// Listens, for as long as the backend of `inner` lives, to `+switch-master` on one sentinel at
/// a time (the next one when its connection is lost, after a second), and moves the
/// connections when the master it announces is ours. Does nothing but on Sentinel.
pub(super) fn listen(inner: &Arc<Inner>) {
    let Some(master) = inner.reopening.sentinel() else {
        return;
    };
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let sentinels = master.sentinels().sentinels.clone();
    let name = master.sentinels().master.clone();
    let tls = inner.config.tls.clone();
    let timeout = inner.config.connect_timeout;
    let weak = Arc::downgrade(inner);
    handle.spawn(async move {
        for url in sentinels.iter().cycle() {
            if weak.strong_count() == 0 {
                return;
            }
            let subscribed = tokio::time::timeout(timeout, subscribe(url, &tls)).await;
            if let Ok(Ok(pubsub)) = subscribed {
                if !announcements(pubsub, &name, &weak).await {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

async fn subscribe(url: &str, tls: &super::TlsConfig) -> Result<redis::aio::PubSub, BackendError> {
    let client = super::tls::client(url, tls)?;
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe("+switch-master").await?;
    Ok(pubsub)
}

/// Reads `+switch-master` messages (`<name> <old ip> <old port> <new ip> <new port>`) until the
/// connection is lost (`true`: listen again) or the backend is gone (`false`).
async fn announcements(mut pubsub: redis::aio::PubSub, name: &str, weak: &Weak<Inner>) -> bool {
    let mut messages = pubsub.on_message();
    loop {
        tokio::select! {
            message = messages.next() => {
                let Some(message) = message else { return true };
                let payload: String = message.get_payload().unwrap_or_default();
                if payload.split(' ').next() != Some(name) {
                    continue;
                }
                let Some(inner) = weak.upgrade() else { return false };
                tracing::info!(announcement = %payload, "a sentinel announced a new master");
                super::reopen::on_announcement(&inner);
            }
            () = tokio::time::sleep(Duration::from_secs(1)) => {
                if weak.strong_count() == 0 {
                    return false;
                }
            }
        }
    }
}
