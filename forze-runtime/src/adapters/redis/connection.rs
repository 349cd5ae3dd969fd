//! The connections: `max_size` multiplexed connections (`ConnectionManager`s to one server,
//! or cluster connections; one per runtime thread's requests), bounded calls.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tracing::Instrument;

use super::breaker::{Breaker, BreakerState};
use super::config::RedisConfig;
use super::conn::Conn;
use super::reopen::{Reopen, Reopening};
use super::scripts::Scripts;
use super::server::{Native, ServerInfo};
use super::topology::Topology;
use crate::error::{BackendError, BackendErrorKind, Error};
use crate::ports::PortResult;

pub(super) struct Inner {
    /// The connections, each swapped for a new one when the deployment's connections are
    /// opened again (`reopen`).
    pub(super) conns: Vec<arc_swap::ArcSwap<Conn>>,
    pub(super) reopening: Reopening,
    pub(super) scripts: Scripts,
    pub(super) config: RedisConfig,
    pub(super) breaker: Breaker,
    pub(super) server: Option<ServerInfo>,
    /// On a cluster, each primary's `host:port` and server as it said at start-up.
    pub(super) nodes: Vec<(String, Option<ServerInfo>)>,
    pub(super) native: Native,
    /// The node the connections go to (`server.address` / `server.port` of the spans, and
    /// health's `endpoint`): the URL's; a cluster's first seed; on Sentinel, the master now.
    pub(super) endpoint: arc_swap::ArcSwap<Endpoint>,
    /// The near tiers this backend's invalidations go to (`tracking`), if any route has one.
    pub(super) near: std::sync::OnceLock<Arc<crate::near::NearHub>>,
    /// The tracking connections while they are up: a near route's tracked reads and kept writes
    /// go on the one of their key's master (`tracking`, `writer`).
    pub(super) writer: arc_swap::ArcSwapOption<super::writer::Writer>,
}

/// The Redis / Valkey backend. Cheap to clone; clones share connections.
///
/// ```no_run
/// # async fn demo() -> Result<(), forze_runtime::Error> {
/// use forze_runtime::{adapters::redis::RedisBackend, RedisConfig};
/// let backend = RedisBackend::connect(RedisConfig::new("redis://127.0.0.1:6379")).await?;
/// println!("{:?}", backend.ping().await);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisBackend {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// One operation of a backend `$backend` named `$op` (a script's name `$script`): the breaker,
/// `$call(&mut conn)` within `socket_timeout`, the breaker's record, the metrics, and its span.
/// A macro, not a function, so that the call's future is built in place in the caller's own
/// future (a function taking it would move it, a `memcpy` of all of it, on every call); an
/// untraced call runs without any wrapper.
macro_rules! in_place {
    ($backend:ident, $op:expr, $script:expr, |$conn:ident| $call:expr) => {
        in_place!($backend, $op, $script, on $backend.conn(), |$conn| $call)
    };
    ($backend:ident, $op:expr, $script:expr, on $connection:expr, |$conn:ident| $call:expr) => {{
        let span = $backend.span($op, $script);
        let started = crate::telemetry::Started::now();
        macro_rules! call {
            () => {{
                $backend.inner.breaker.admit()?;
                let mut connection = $connection;
                let $conn = &mut connection;
                let deadline = $backend.inner.config.socket_timeout;
                let result = match tokio::time::timeout(deadline, $call).await {
                    Ok(answer) => answer.map_err(BackendError::from),
                    Err(_) => Err($backend.deadline_passed()),
                };
                $backend.record(&result);
                crate::telemetry::operation(started, $op, error_kind(&result));
                result
            }};
        }
        if span.is_disabled() {
            call!()
        } else {
            let result = async { call!() }.instrument(span.clone()).await;
            record_error(&span, &result);
            result
        }
    }};
}

impl RedisBackend {
    /// Validates `config`, opens `max_size` connections, pings the server and loads the scripts.
    /// Fails with [`Error::Config`] or [`Error::Connect`] (within `connect_timeout` per attempt).
    pub async fn connect(config: RedisConfig) -> Result<Self, Error> {
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(Error::Config { problems });
        }
        let target = config.redacted_url();
        let connect_err = |source: BackendError| Error::Connect {
            target: target.clone(),
            source,
        };
        let topology = Topology::of(&config.url).map_err(|problem| Error::Config {
            problems: vec![problem],
        })?;
        let open = open(&topology, &config);
        // The manager retries a refused connection a few times; bound the whole start-up.
        let conns = tokio::time::timeout(config.connect_timeout * 2, open)
            .await
            .map_err(|_| {
                connect_err(BackendError::new(
                    BackendErrorKind::Timeout,
                    format!("no connection within {:?}", config.connect_timeout * 2),
                ))
            })?
            .map_err(connect_err)?;
        let (conns, reopen) = conns;
        // The URL was validated by `problems`; on Sentinel, the master the sentinels named.
        let endpoint = match &reopen {
            Reopen::Sentinel(master) => Endpoint::of_address(&master.address()),
            _ => Endpoint::of_url(&topology.first_url()),
        };
        let mut backend = Self {
            inner: Arc::new(Inner {
                conns: conns
                    .into_iter()
                    .map(arc_swap::ArcSwap::from_pointee)
                    .collect(),
                reopening: Reopening::new(reopen),
                scripts: Scripts::new(),
                breaker: Breaker::new(config.breaker),
                server: None,
                nodes: Vec::new(),
                native: Native::default(),
                endpoint: arc_swap::ArcSwap::from_pointee(endpoint),
                near: std::sync::OnceLock::new(),
                writer: arc_swap::ArcSwapOption::empty(),
                config,
            }),
        };
        super::sentinel::listen(&backend.inner);
        backend.ping().await.map_err(connect_err)?;
        // Every primary's server (on a cluster each node may run another version, e.g. during
        // an upgrade): the native commands are those every primary has.
        let mut info_cmd = redis::cmd("INFO");
        info_cmd.arg("server");
        let answers = backend
            .bounded(backend.conn().on_every_primary(info_cmd))
            .await
            .unwrap_or_default();
        let nodes: Vec<(String, Option<ServerInfo>)> = answers
            .into_iter()
            .map(|(node, answer)| {
                let text: Option<String> = redis::from_redis_value(answer).ok();
                (node, text.as_deref().and_then(ServerInfo::parse))
            })
            .collect();
        if let Some(inner) = Arc::get_mut(&mut backend.inner) {
            let servers: Vec<Option<ServerInfo>> = nodes.iter().map(|(_, s)| *s).collect();
            (inner.server, inner.native) =
                super::server::common(&servers, inner.config.native_commands);
            if inner.reopening.cluster() {
                inner.nodes = nodes;
            }
        }
        let mut conn = backend.conn();
        for script in backend.inner.scripts.all() {
            let invocation = script.prepare_invoke();
            backend
                .bounded(invocation.load_async(&mut conn))
                .await
                .map_err(connect_err)?;
        }
        Ok(backend)
    }

    /// The config this backend was connected with.
    pub fn config(&self) -> &RedisConfig {
        &self.inner.config
    }

    /// The server this backend is connected to, as it said at start-up (`None` when `INFO`
    /// is not allowed or names no version).
    pub fn server(&self) -> Option<ServerInfo> {
        self.inner.server
    }

    /// On a cluster, each primary and its server as it said at start-up
    /// (`"127.0.0.1:7000 redis 7.0.15"`); empty on one server.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), forze_runtime::Error> {
    /// use forze_runtime::{adapters::redis::RedisBackend, RedisConfig};
    /// let url = "redis+cluster://10.0.0.1:6379,10.0.0.2:6379";
    /// let backend = RedisBackend::connect(RedisConfig::new(url)).await?;
    /// for node in backend.nodes() {
    ///     println!("{node}"); // "10.0.0.1:6379 redis 7.0.15"
    /// }
    /// # Ok(()) }
    /// ```
    pub fn nodes(&self) -> Vec<String> {
        self.inner
            .nodes
            .iter()
            .map(|(node, server)| match server {
                Some(s) => format!("{node} {s}"),
                None => format!("{node} unknown"),
            })
            .collect()
    }

    /// The server's commands used instead of a script (`"SET IFEQ"`, `"DELIFEQ"`, …); empty on
    /// servers without them or with [`RedisConfig::native_commands`] off.
    pub fn native_commands(&self) -> Vec<&'static str> {
        self.inner.native.names()
    }

    /// The node the connections go to now, `host:port`: the URL's; on a cluster, the first
    /// seed node; on Sentinel, the master the sentinels name (it follows a failover).
    pub fn endpoint(&self) -> String {
        let e = self.inner.endpoint.load();
        format!("{}:{}", e.address, e.port)
    }

    /// Number of multiplexed connections.
    pub fn connections(&self) -> usize {
        self.inner.conns.len()
    }

    /// Sends `PING` on every connection at once and returns the slowest round trip: up only
    /// when every connection answers (so a health check does not flap while some of them are
    /// still reconnecting), and on a cluster only while it reports `cluster_state:ok` (every
    /// slot served). The answer also tells the breaker that the server is back.
    pub async fn ping(&self) -> PortResult<Duration> {
        let pings = self.inner.conns.iter().map(|conn| {
            let mut conn = Conn::clone(&conn.load());
            async move {
                let start = Instant::now();
                let ping = redis::cmd("PING");
                // A connection found broken starts reconnecting at once: one more try (within
                // the same deadline) sees the new one, so health does not report a server that
                // is back as down.
                let pong: String = self
                    .bounded(async {
                        match ping.query_async::<String>(&mut conn).await {
                            Err(e) if e.is_io_error() || e.is_connection_dropped() => {
                                ping.query_async(&mut conn).await
                            }
                            other => other,
                        }
                    })
                    .await?;
                if pong != "PONG" {
                    return Err(BackendError::new(
                        BackendErrorKind::Protocol,
                        format!("PING answered {pong:?}"),
                    ));
                }
                Ok(start.elapsed())
            }
        });
        let result = futures_util::future::try_join_all(pings)
            .await
            .map(|rtts| rtts.into_iter().max().unwrap_or_default());
        self.record(&result);
        let rtt = result?;
        if self.is_cluster() {
            // A cluster's PING goes only to the masters it has a connection to: whether every
            // slot is served is what the cluster itself says. (Not the breaker's business: the
            // slots that are served still work.)
            let mut info = redis::cmd("CLUSTER");
            info.arg("INFO");
            let info: String = self.bounded(self.conn().on_one_node(info)).await?;
            if !info.lines().any(|l| l.trim() == "cluster_state:ok") {
                return Err(BackendError::new(
                    BackendErrorKind::Unreachable,
                    "the cluster is down (cluster_state is not ok): some hash slots have no \
                     master that answers",
                ));
            }
        }
        Ok(rtt)
    }

    /// The breaker's record of a call's result; a failure that found the deployment
    /// unavailable may also start opening its connections again (`reopen`).
    pub(super) fn record<T>(&self, result: &PortResult<T>) {
        self.inner.breaker.record(result);
        if let Err(e) = result {
            super::reopen::after_unavailable(&self.inner, e);
            // An open breaker: invalidations may be lost too; the near tiers stop serving.
            if e.is_unavailable() && self.inner.breaker.state() == BreakerState::Open {
                if let Some(hub) = self.inner.near.get() {
                    hub.lose();
                }
            }
        }
    }

    /// Whether this is a Redis Cluster (tags and `set_many` then work per slot).
    pub(super) fn is_cluster(&self) -> bool {
        self.inner.reopening.cluster()
    }

    pub(super) fn conn(&self) -> Conn {
        let conns = &self.inner.conns;
        if conns.len() == 1 {
            return Conn::clone(&conns[0].load());
        }
        // Each thread keeps to one connection, so that its requests batch on it; threads are
        // spread over the connections in the order they first call.
        static THREADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        thread_local! {
            static MINE: usize = THREADS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Conn::clone(&conns[MINE.with(|i| *i) % conns.len()].load())
    }

    /// `fut` within `socket_timeout`, whatever it waits for (an answer, a connection being
    /// re-established, the manager's retries), without the breaker: for start-up and health.
    pub(super) async fn bounded<T>(
        &self,
        fut: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> PortResult<T> {
        match tokio::time::timeout(self.inner.config.socket_timeout, fut).await {
            Ok(r) => r.map_err(BackendError::from),
            Err(_) => Err(self.deadline_passed()),
        }
    }

    /// Every port call goes through here: the breaker first (fail fast while the backend is
    /// known to be down), then [`RedisBackend::bounded`] — one deadline for the whole call.
    pub(super) async fn guarded<T>(
        &self,
        fut: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> PortResult<T> {
        self.inner.breaker.admit()?;
        let result = self.bounded(fut).await;
        self.record(&result);
        result
    }

    /// What the server keeps across a restart: `"aof"` (append-only file), `"rdb"` (snapshots
    /// only: writes since the last one are lost on a crash), `"none"` (nothing: a restart
    /// forgets every key) or `"unknown"` (the server does not say, e.g. `CONFIG` is disabled).
    pub async fn persistence(&self) -> &'static str {
        let mut conn = self.conn();
        let mut info_cmd = redis::cmd("INFO");
        info_cmd.arg("persistence");
        let info: Result<String, _> = self.bounded(conn.on_one_node(info_cmd)).await;
        match info {
            Ok(info) if info.lines().any(|l| l.trim() == "aof_enabled:1") => return "aof",
            Ok(_) => {}
            Err(_) => return "unknown",
        }
        let mut save_cmd = redis::cmd("CONFIG");
        save_cmd.arg("GET").arg("save");
        let save: Result<Vec<String>, _> = self.bounded(conn.on_one_node(save_cmd)).await;
        match save {
            Ok(kv) if kv.len() == 2 && kv[1].trim().is_empty() => "none",
            Ok(kv) if kv.len() == 2 => "rdb",
            _ => "unknown",
        }
    }

    /// The breaker's state (for `health()`).
    pub(crate) fn breaker_state(&self) -> BreakerState {
        self.inner.breaker.state()
    }

    /// One command, through the breaker and within the deadline. It goes through the manager's
    /// own method rather than `Cmd::query_async`, which boxes the manager's future once more,
    /// and builds the deadline around it in place: the hot path's future is moved as little as
    /// possible (each move of a nested future is a `memcpy` of all of it).
    pub(super) async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> PortResult<T> {
        let name = command_name(cmd);
        let value = in_place!(self, name, None, |conn| async move {
            conn.send_packed_command(cmd)
                .await
                .and_then(|v| v.extract_error())
        })?;
        redis::from_redis_value(value).map_err(|e| BackendError::from(redis::RedisError::from(e)))
    }

    /// `pipe` (every reply, `MULTI`'s and `EXEC`'s included for a transaction), for a value of
    /// `key` to be kept near, on the tracking connection of the key's master
    /// (`Inner::writer`), through the breaker and within the deadline. `None` when
    /// tracking does not cover the key now: the tiers are off, the key is no near route's, or
    /// (on a cluster) its slot moved since tracking was established and the master answered
    /// `MOVED`; the caller then goes on without keeping. A failure turns the near tiers off
    /// (tracking is established again, and they come back empty).
    pub(super) async fn on_tracking(
        &self,
        key: &str,
        name: &'static str,
        pipe: &redis::Pipeline,
    ) -> Option<PortResult<Vec<redis::Value>>> {
        use redis::aio::ConnectionLike;
        let writer = self.writer_for(key)?;
        let count = pipe.len() + if pipe.is_transaction() { 2 } else { 0 };
        let result: PortResult<Option<Vec<redis::Value>>> = async {
            in_place!(self, name, None, on writer, |conn| async move {
                let replies = conn.req_packed_commands(pipe, 0, count).await?;
                // Every reply, a transaction's included (`EXEC`'s array: a command that failed
                // in it).
                let inner = replies.iter().flat_map(|r| match r {
                    redis::Value::Array(items) => items.as_slice(),
                    _ => std::slice::from_ref(r),
                });
                for reply in inner {
                    if let redis::Value::ServerError(e) = reply {
                        return match e.kind() {
                            // Not this master's slot (any more).
                            Some(redis::ServerErrorKind::Moved | redis::ServerErrorKind::Ask) => {
                                Ok(None)
                            }
                            _ => Err(redis::RedisError::from(e.clone())),
                        };
                    }
                }
                Ok(Some(replies))
            })
        }
        .await;
        match result {
            Ok(Some(replies)) => Some(Ok(replies)),
            Ok(None) => None,
            Err(e) => {
                if e.is_unavailable() {
                    if let Some(hub) = self.inner.near.get() {
                        hub.lose();
                    }
                }
                Some(Err(e))
            }
        }
    }

    /// The tracking connection, when `key` is a near route's and the tiers are on.
    fn writer_for(&self, key: &str) -> Option<redis::aio::MultiplexedConnection> {
        let hub = self.inner.near.get()?;
        if hub.switch.epoch_if_on().is_none() || !hub.tracks(key) {
            return None;
        }
        // Borrowed, not counted: a reference count on the writer would be written by every
        // write on every core.
        self.inner.writer.load().as_deref()?.for_key(key).cloned()
    }

    /// One script (`EVALSHA`, reloaded after `NOSCRIPT`) named `name` (for its span), through
    /// the breaker and within the deadline (built in place, as in [`RedisBackend::query`]).
    pub(super) async fn run<T: redis::FromRedisValue>(
        &self,
        name: &'static str,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> PortResult<T> {
        in_place!(self, "EVALSHA", Some(name), |conn| async move {
            invocation.invoke_async(conn).await
        })
    }

    /// The span of one backend operation, named and with fields after the OpenTelemetry
    /// database conventions (`db.system.name`, `db.operation.name`, `db.stored_procedure.name`
    /// for a script, `server.address`, `server.port`, and `error.type` when it fails). At
    /// `debug` level: with no subscriber that wants it, it costs a check of one flag.
    fn span(&self, operation: &str, procedure: Option<&'static str>) -> tracing::Span {
        // Not built for `log` alone (see `telemetry::flow_span`).
        if !tracing::level_enabled!(tracing::Level::DEBUG) {
            return tracing::Span::none();
        }
        tracing::debug_span!(
            "redis",
            otel.name = operation,
            db.system.name = "redis",
            db.operation.name = operation,
            db.stored_procedure.name = procedure,
            server.address = %self.inner.endpoint.load().address,
            server.port = self.inner.endpoint.load().port,
            error.type = tracing::field::Empty,
        )
    }

    /// The error of a call that outlived `socket_timeout`.
    fn deadline_passed(&self) -> BackendError {
        BackendError::new(
            BackendErrorKind::Timeout,
            format!("no answer within {:?}", self.inner.config.socket_timeout),
        )
    }

    /// One pipeline, through the breaker and within the deadline.
    pub(super) async fn pipeline<T: redis::FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
    ) -> PortResult<T> {
        let span = self.span("PIPELINE", None);
        let mut conn = self.conn();
        let result = self
            .guarded(async move { pipe.query_async(&mut conn).await })
            .instrument(span.clone())
            .await;
        record_error(&span, &result);
        result
    }
}

/// A node's host and port.
pub(super) struct Endpoint {
    pub(super) address: String,
    pub(super) port: u16,
}

impl Endpoint {
    /// The host and port of `url` (6379 when it names none).
    fn of_url(url: &str) -> Self {
        let url = url::Url::parse(url).ok();
        Self {
            address: url
                .as_ref()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default(),
            port: url.as_ref().and_then(url::Url::port).unwrap_or(6379),
        }
    }

    /// `host:port` as a sentinel gives it.
    pub(super) fn of_address(address: &str) -> Self {
        match address.rsplit_once(':') {
            Some((host, port)) => Self {
                address: host.to_owned(),
                port: port.parse().unwrap_or(6379),
            },
            None => Self {
                address: address.to_owned(),
                port: 6379,
            },
        }
    }
}

/// `config.max_size` connections to the deployment `topology` names.
async fn open(
    topology: &Topology,
    config: &RedisConfig,
) -> Result<(Vec<Conn>, Reopen), BackendError> {
    let n = config.max_size;
    match topology {
        Topology::Single(url) => {
            let managers = managers(url, config).await?;
            Ok((
                managers.into_iter().map(Conn::Single).collect(),
                Reopen::Never,
            ))
        }
        Topology::Cluster(nodes) => {
            let client = super::tls::cluster_client(nodes, config)?;
            let conns =
                futures_util::future::try_join_all((0..n).map(|_| client.get_async_connection()))
                    .await?;
            Ok((
                conns.into_iter().map(Conn::Cluster).collect(),
                Reopen::Cluster(Box::new(client)),
            ))
        }
        Topology::Sentinel {
            master,
            sentinels,
            node,
        } => {
            let sentinels = super::sentinel::Sentinels::new(master, sentinels, node);
            let address = sentinels
                .master_address(config, config.connect_timeout)
                .await?;
            let Some(managers) = sentinels.connect_master(&address, config).await? else {
                return Err(BackendError::new(
                    BackendErrorKind::Unreachable,
                    format!("the sentinels name {address} the master of {master:?}, but it is not a master (yet)"),
                ));
            };
            Ok((
                managers.into_iter().map(Conn::Single).collect(),
                Reopen::Sentinel(Box::new(super::reopen::SentinelMaster::new(
                    sentinels, address,
                ))),
            ))
        }
    }
}

/// `config.max_size` connection managers to the server at `url`.
pub(super) async fn managers(
    url: &str,
    config: &RedisConfig,
) -> Result<Vec<ConnectionManager>, BackendError> {
    let client = super::tls::client(url, &config.tls)?;
    // No response timeout of the manager's own: every call is bounded by `in_place!` /
    // `bounded` (one timer per call, reconnect waits included).
    let manager_config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(config.connect_timeout))
        .set_response_timeout(None)
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_secs(1));
    Ok(futures_util::future::try_join_all(
        (0..config.max_size)
            .map(|_| ConnectionManager::new_with_config(client.clone(), manager_config.clone())),
    )
    .await?)
}

/// The command's name (its first argument), for its span.
fn command_name(cmd: &redis::Cmd) -> &str {
    match cmd.args_iter().next() {
        Some(redis::Arg::Simple(name)) => std::str::from_utf8(name).unwrap_or("?"),
        _ => "?",
    }
}

/// The class of the error an operation ended with, if it failed.
fn error_kind<T>(result: &PortResult<T>) -> Option<&'static str> {
    result.as_ref().err().map(|e| e.kind.as_str())
}

/// Records the class of the error an operation ended with on its span (`error.type`).
fn record_error<T>(span: &tracing::Span, result: &PortResult<T>) {
    if let Err(e) = result {
        span.record("error.type", tracing::field::display(e.kind));
    }
}
