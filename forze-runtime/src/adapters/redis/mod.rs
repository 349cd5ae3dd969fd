//! The Redis / Valkey backend.
//!
//! Connections: `max_size` multiplexed [`redis::aio::ConnectionManager`]s (each reconnects on its
//! own), used round-robin; a clone of the backend shares them. Every operation is one round trip:
//! a single command where one suffices (`GET`, `SET PX`, `INCRBY`, `SET NX PX`, a pipeline for
//! `get_many`/`set_many`), otherwise one Lua script (`scripts/*.lua`) run with `EVALSHA`. (A
//! fixed-window check adds a `PEXPIREAT` when it opens a window.) Scripts are loaded at start-up,
//! and reloaded transparently when a restarted server answers `NOSCRIPT`.
//!
//! Redis Cluster: every script declares the keys it touches in `KEYS`, but a script's keys (a
//! document's pointer, body and current copy; a tagged entry and its tag sets) are not placed in
//! one hash slot, so this backend is for single-node / replicated deployments (see README).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;

use crate::error::{BackendError, BackendErrorKind, Error};
use crate::ports::{
    Algorithm, BeginOutcome, CachePort, CounterPort, Decision, IdempotencyPort, LockPort,
    PortResult, Quota, RateLimitPort, VersionedKeys,
};

/// How to reach Redis / Valkey.
///
/// ```
/// use std::time::Duration;
/// use forze_runtime::RedisConfig;
/// let cfg = RedisConfig::new("redis://:s3cret@127.0.0.1:6379/0");
/// assert_eq!(cfg.max_size, 10);
/// assert_eq!(cfg.socket_timeout, Duration::from_secs(5));
/// assert_eq!(cfg.redacted_url(), "redis://:***@127.0.0.1:6379/0");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// `redis://[user[:password]@]host[:port][/db]`, `rediss://…` (TLS, feature `tls`) or
    /// `redis+unix:///path/to/socket`.
    pub url: String,
    /// Number of multiplexed connections opened (default 10). Each carries many concurrent
    /// requests; more connections spread the load over more server I/O threads and sockets.
    pub max_size: usize,
    /// Longest wait for the answer to one call (default 5 s).
    pub socket_timeout: Duration,
    /// Longest wait to establish one connection (default 5 s).
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &self.redacted_url())
            .field("max_size", &self.max_size)
            .field("socket_timeout", &self.socket_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// The environment variable [`RedisConfig::from_env`] reads.
pub const REDIS_URL_ENV: &str = "REDIS_URL";

impl RedisConfig {
    /// The defaults (`max_size` 10, timeouts 5 s) for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_size: 10,
            socket_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
        }
    }

    /// The defaults for the URL in `REDIS_URL`, or `None` when it is unset or empty.
    ///
    /// ```
    /// // With REDIS_URL unset, there is no Redis config.
    /// # unsafe { std::env::remove_var("REDIS_URL") };
    /// assert!(forze_runtime::RedisConfig::from_env().is_none());
    /// ```
    pub fn from_env() -> Option<Self> {
        std::env::var(REDIS_URL_ENV)
            .ok()
            .filter(|u| !u.trim().is_empty())
            .map(|u| Self::new(u.trim()))
    }

    /// Sets `max_size`.
    pub fn max_size(mut self, n: usize) -> Self {
        self.max_size = n;
        self
    }

    /// Sets `socket_timeout`.
    pub fn socket_timeout(mut self, t: Duration) -> Self {
        self.socket_timeout = t;
        self
    }

    /// Sets `connect_timeout`.
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// The URL with its password (if any) replaced by `***`, for logs and health reports.
    pub fn redacted_url(&self) -> String {
        match url::Url::parse(&self.url) {
            Ok(mut u) => {
                if u.password().is_some() {
                    let _ = u.set_password(Some("***"));
                }
                u.to_string()
            }
            Err(_) => "<unparseable redis url>".to_owned(),
        }
    }

    /// Every problem with this config (empty when it is usable).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        match url::Url::parse(&self.url) {
            Err(e) => out.push(format!(
                "redis url {:?} is not a URL: {e}",
                self.redacted_url()
            )),
            Ok(u) => match u.scheme() {
                "redis" | "valkey" | "redis+unix" | "unix" => {}
                "rediss" | "valkeys" if cfg!(feature = "tls") => {}
                "rediss" | "valkeys" => {
                    out.push("rediss:// (TLS) needs the `tls` feature of forze-runtime".to_owned())
                }
                other => out.push(format!(
                    "redis url scheme {other:?} is not one of redis, rediss, redis+unix"
                )),
            },
        }
        if self.max_size == 0 || self.max_size > 1024 {
            out.push(format!(
                "redis max_size {} is not in 1..=1024",
                self.max_size
            ));
        }
        for (name, t) in [
            ("socket_timeout", self.socket_timeout),
            ("connect_timeout", self.connect_timeout),
        ] {
            if t.is_zero() || t > Duration::from_secs(3600) {
                out.push(format!("redis {name} {t:?} is not in (0, 1h]"));
            }
        }
        if out.is_empty() {
            if let Err(e) = redis::Client::open(self.url.as_str()) {
                out.push(format!(
                    "redis url {:?} is not usable: {e}",
                    self.redacted_url()
                ));
            }
        }
        out
    }
}

struct Scripts {
    set_version: Script,
    idem_begin: Script,
    idem_commit: Script,
    idem_release: Script,
    set_tagged: Script,
    invalidate_tags: Script,
    lock_extend: Script,
    lock_release: Script,
    fixed_window_weighted: Script,
    sliding_window: Script,
    gcra: Script,
}

impl Scripts {
    fn new() -> Self {
        Self {
            set_version: Script::new(include_str!("scripts/cache_set_version.lua")),
            idem_begin: Script::new(include_str!("scripts/idempotency_begin.lua")),
            idem_commit: Script::new(include_str!("scripts/idempotency_commit.lua")),
            idem_release: Script::new(include_str!("scripts/idempotency_release.lua")),
            set_tagged: Script::new(include_str!("scripts/cache_set_tagged.lua")),
            invalidate_tags: Script::new(include_str!("scripts/cache_invalidate_tags.lua")),
            lock_extend: Script::new(include_str!("scripts/lock_extend.lua")),
            lock_release: Script::new(include_str!("scripts/lock_release.lua")),
            fixed_window_weighted: Script::new(include_str!(
                "scripts/rate_fixed_window_weighted.lua"
            )),
            sliding_window: Script::new(include_str!("scripts/rate_sliding_window.lua")),
            gcra: Script::new(include_str!("scripts/rate_gcra.lua")),
        }
    }

    fn all(&self) -> [&Script; 11] {
        [
            &self.set_tagged,
            &self.invalidate_tags,
            &self.set_version,
            &self.idem_begin,
            &self.idem_commit,
            &self.idem_release,
            &self.lock_extend,
            &self.lock_release,
            &self.fixed_window_weighted,
            &self.sliding_window,
            &self.gcra,
        ]
    }
}

struct Inner {
    conns: Vec<ConnectionManager>,
    scripts: Scripts,
    config: RedisConfig,
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
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

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
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| connect_err(BackendError::from(e)))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.socket_timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(1));
        let open =
            futures_util::future::try_join_all((0..config.max_size).map(|_| {
                ConnectionManager::new_with_config(client.clone(), manager_config.clone())
            }));
        // The manager retries a refused connection a few times; bound the whole start-up.
        let conns = tokio::time::timeout(config.connect_timeout * 2, open)
            .await
            .map_err(|_| {
                connect_err(BackendError::new(
                    BackendErrorKind::Timeout,
                    format!("no connection within {:?}", config.connect_timeout * 2),
                ))
            })?
            .map_err(|e| connect_err(e.into()))?;
        let backend = Self {
            inner: Arc::new(Inner {
                conns,
                scripts: Scripts::new(),
                config,
            }),
        };
        backend.ping().await.map_err(connect_err)?;
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

    /// Number of multiplexed connections.
    pub fn connections(&self) -> usize {
        self.inner.conns.len()
    }

    /// Sends `PING` and returns the round-trip time.
    pub async fn ping(&self) -> PortResult<Duration> {
        let mut conn = self.conn();
        let start = Instant::now();
        let pong: String = self
            .bounded(redis::cmd("PING").query_async(&mut conn))
            .await?;
        if pong != "PONG" {
            return Err(BackendError::new(
                BackendErrorKind::Protocol,
                format!("PING answered {pong:?}"),
            ));
        }
        Ok(start.elapsed())
    }

    fn conn(&self) -> ConnectionManager {
        let conns = &self.inner.conns;
        // Round robin per thread: no counter shared by every call.
        thread_local! {
            static NEXT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
        }
        let i = NEXT.with(|n| {
            let i = n.get();
            n.set(i.wrapping_add(1));
            i
        });
        conns[i % conns.len()].clone()
    }

    async fn bounded<T>(
        &self,
        fut: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> PortResult<T> {
        match tokio::time::timeout(self.inner.config.socket_timeout, fut).await {
            Ok(r) => r.map_err(BackendError::from),
            Err(_) => Err(BackendError::new(
                BackendErrorKind::Timeout,
                format!("no answer within {:?}", self.inner.config.socket_timeout),
            )),
        }
    }

    // Commands are bounded by the connection manager's response timeout (`socket_timeout`);
    // no second timer per call. They go through the manager's own method rather than
    // `Cmd::query_async`, which boxes the manager's future once more per command.
    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> PortResult<T> {
        let mut conn = self.conn();
        let value = conn
            .send_packed_command(cmd)
            .await
            .and_then(|v| v.extract_error())
            .map_err(BackendError::from)?;
        redis::from_redis_value(value).map_err(|e| BackendError::from(redis::RedisError::from(e)))
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> PortResult<T> {
        let mut conn = self.conn();
        invocation
            .invoke_async(&mut conn)
            .await
            .map_err(BackendError::from)
    }
}

#[async_trait]
impl CachePort for RedisBackend {
    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        self.query(command("GET", 1, key.len()).arg(key)).await
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> PortResult<()> {
        self.query(
            command("SET", 4, key.len() + value.len() + 22)
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(ms(ttl)),
        )
        .await
    }

    async fn delete(&self, keys: &[String]) -> PortResult<u64> {
        if keys.is_empty() {
            return Ok(0);
        }
        self.query(redis::cmd("DEL").arg(keys)).await
    }

    async fn get_many(&self, keys: &[String]) -> PortResult<Vec<Option<Vec<u8>>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.query(redis::cmd("MGET").arg(keys)).await
    }

    async fn set_many(&self, entries: &[(String, Vec<u8>)], ttl: Duration) -> PortResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for (k, v) in entries {
            pipe.cmd("SET")
                .arg(k)
                .arg(v)
                .arg("PX")
                .arg(ms(ttl))
                .ignore();
        }
        let mut conn = self.conn();
        pipe.query_async::<()>(&mut conn)
            .await
            .map_err(BackendError::from)
    }

    async fn set_tagged(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        tags: &[String],
    ) -> PortResult<()> {
        if tags.is_empty() {
            return self.set(key, value, ttl).await;
        }
        let mut inv = self.inner.scripts.set_tagged.key(key);
        for tag in tags {
            inv.key(tag);
        }
        inv.arg(value).arg(ms(ttl));
        self.run::<i64>(&inv).await.map(|_| ())
    }

    async fn invalidate_tags(&self, tags: &[String]) -> PortResult<u64> {
        if tags.is_empty() {
            return Ok(0);
        }
        let mut inv = self.inner.scripts.invalidate_tags.prepare_invoke();
        for tag in tags {
            inv.key(tag);
        }
        self.run(&inv).await
    }

    async fn set_version(
        &self,
        keys: VersionedKeys<'_>,
        version: u64,
        body: &[u8],
        ttl: Duration,
    ) -> PortResult<bool> {
        let moved: i64 = self
            .run(
                self.inner
                    .scripts
                    .set_version
                    .key(keys.pointer)
                    .key(keys.body(version))
                    .key(keys.current)
                    .arg(version)
                    .arg(body)
                    .arg(ms(ttl))
                    .arg(ms(ttl.saturating_mul(crate::ports::POINTER_TTL_FACTOR))),
            )
            .await?;
        Ok(moved == 1)
    }
}

#[async_trait]
impl CounterPort for RedisBackend {
    async fn incr(&self, key: &str, by: i64) -> PortResult<i64> {
        self.query(command("INCRBY", 2, key.len() + 20).arg(key).arg(by))
            .await
    }

    async fn reset(&self, key: &str, value: i64) -> PortResult<()> {
        self.query(redis::cmd("SET").arg(key).arg(value)).await
    }

    async fn get(&self, key: &str) -> PortResult<Option<i64>> {
        self.query(command("GET", 1, key.len()).arg(key)).await
    }
}

#[async_trait]
impl IdempotencyPort for RedisBackend {
    async fn begin(
        &self,
        key: &str,
        fingerprint: &str,
        token: &str,
        lease: Duration,
    ) -> PortResult<BeginOutcome> {
        let reply: Vec<Vec<u8>> = self
            .run(
                self.inner
                    .scripts
                    .idem_begin
                    .key(key)
                    .arg(fingerprint)
                    .arg(token)
                    .arg(ms(lease)),
            )
            .await?;
        let mut parts = reply.into_iter();
        match (parts.next().as_deref(), parts.next()) {
            (Some(b"proceed"), None) => Ok(BeginOutcome::Proceed),
            (Some(b"replay"), Some(snapshot)) => Ok(BeginOutcome::Replay(snapshot)),
            (Some(b"in_progress"), None) => Ok(BeginOutcome::InProgress),
            (Some(b"mismatch"), None) => Ok(BeginOutcome::Mismatch),
            _ => Err(BackendError::new(
                BackendErrorKind::Protocol,
                "unexpected reply from the idempotency begin script",
            )),
        }
    }

    async fn commit(
        &self,
        key: &str,
        token: &str,
        snapshot: &[u8],
        ttl: Duration,
    ) -> PortResult<bool> {
        let done: i64 = self
            .run(
                self.inner
                    .scripts
                    .idem_commit
                    .key(key)
                    .arg(token)
                    .arg(snapshot)
                    .arg(ms(ttl)),
            )
            .await?;
        Ok(done == 1)
    }

    async fn release(&self, key: &str, token: &str) -> PortResult<bool> {
        let done: i64 = self
            .run(self.inner.scripts.idem_release.key(key).arg(token))
            .await?;
        Ok(done == 1)
    }
}

#[async_trait]
impl RateLimitPort for RedisBackend {
    async fn check(&self, key: &str, quota: &Quota, cost: u64) -> PortResult<Decision> {
        let period_us = quota.period.as_micros() as u64;
        let scripts = &self.inner.scripts;
        let mut inv = match quota.algorithm {
            Algorithm::FixedWindow => return self.fixed_window(key, quota, cost).await,
            Algorithm::SlidingWindow => scripts.sliding_window.key(key),
            Algorithm::Gcra => scripts.gcra.key(key),
        };
        inv.arg(quota.limit).arg(period_us).arg(cost);
        if quota.algorithm == Algorithm::SlidingWindow {
            inv.arg(crate::codec::random_token());
        }
        let reply: Vec<i64> = self.run(&inv).await?;
        let [allowed, remaining, reset_after, retry_after] = reply[..] else {
            return Err(BackendError::new(
                BackendErrorKind::Protocol,
                "unexpected reply from the rate limit script",
            ));
        };
        Ok(Decision {
            allowed: allowed == 1,
            limit: quota.limit,
            remaining: remaining.max(0) as u64,
            reset_after: us(reset_after),
            retry_after: (retry_after >= 0).then(|| us(retry_after)),
            degraded: false,
        })
    }
}

impl RedisBackend {
    /// The fixed window: one counter per window, `{key}/{window}`, windows aligned on the
    /// caller's clock. A call of cost 1 is one `INCRBY` (no script); the call that opens a
    /// window's counter then sets its expiry, `PEXPIREAT` window end + slack (a second round
    /// trip, once per window and key). A weighted call is one small script that adds its cost
    /// only if it fits, so the counter never passes the limit but through calls of cost 1, which
    /// only happens once the window is full. Exact either way: never more than `limit` admitted,
    /// and a denied call takes nothing from anyone.
    async fn fixed_window(&self, key: &str, quota: &Quota, cost: u64) -> PortResult<Decision> {
        let period_us = (quota.period.as_micros() as u64).max(1);
        let now_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| {
                BackendError::new(
                    BackendErrorKind::Protocol,
                    format!("the clock is before 1970: {e}"),
                )
            })?
            .as_micros() as u64;
        let window = now_us / period_us;
        let end_us = (window + 1) * period_us;
        let left = us((end_us - now_us) as i64);
        // Counters outlive their window a little, for callers whose clocks run behind.
        let expiry_ms = (end_us + period_us.min(1_000_000)).div_ceil(1000);
        let counter = format!("{key}/{window}");
        let (allowed, used) = if cost == 1 {
            // Counts even when denied: a denied call of cost 1 found the window full, and a full
            // window stays full (nothing is ever taken off), so the extra count changes no answer.
            let used: i64 = self
                .query(command("INCRBY", 2, counter.len() + 1).arg(&counter).arg(1))
                .await?;
            let used = used.max(0) as u64;
            if used == 1 {
                self.expire_window(&counter, expiry_ms).await;
            }
            (used <= quota.limit, used)
        } else {
            let reply: Vec<i64> = self
                .run(
                    self.inner
                        .scripts
                        .fixed_window_weighted
                        .key(&counter)
                        .arg(quota.limit)
                        .arg(cost)
                        .arg(expiry_ms),
                )
                .await?;
            let [allowed, used] = reply[..] else {
                return Err(BackendError::new(
                    BackendErrorKind::Protocol,
                    "unexpected reply from the weighted fixed-window script",
                ));
            };
            (allowed == 1, used.max(0) as u64)
        };
        Ok(Decision {
            allowed,
            limit: quota.limit,
            remaining: quota.limit.saturating_sub(used),
            reset_after: left,
            retry_after: (!allowed).then_some(left),
            degraded: false,
        })
    }

    /// Gives a new window counter its expiry. A failure leaves a counter that is never read
    /// again (the next window has its own): it is logged, not returned.
    async fn expire_window(&self, counter: &str, expiry_ms: u64) {
        if let Err(e) = self
            .query::<i64>(redis::cmd("PEXPIREAT").arg(counter).arg(expiry_ms))
            .await
        {
            tracing::warn!(key = %counter, error = %e, "rate limit window counter left without expiry");
        }
    }
}

#[async_trait]
impl LockPort for RedisBackend {
    async fn acquire(&self, key: &str, token: &str, lease: Duration) -> PortResult<bool> {
        let set: Option<String> = self
            .query(
                redis::cmd("SET")
                    .arg(key)
                    .arg(token)
                    .arg("NX")
                    .arg("PX")
                    .arg(ms(lease)),
            )
            .await?;
        Ok(set.is_some())
    }

    async fn extend(&self, key: &str, token: &str, lease: Duration) -> PortResult<bool> {
        let done: i64 = self
            .run(
                self.inner
                    .scripts
                    .lock_extend
                    .key(key)
                    .arg(token)
                    .arg(ms(lease)),
            )
            .await?;
        Ok(done == 1)
    }

    async fn release(&self, key: &str, token: &str) -> PortResult<bool> {
        let done: i64 = self
            .run(self.inner.scripts.lock_release.key(key).arg(token))
            .await?;
        Ok(done == 1)
    }
}
