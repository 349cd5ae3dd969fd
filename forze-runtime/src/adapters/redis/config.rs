//! What a Redis / Valkey deployment is: URL, pool size, timeouts.

use std::time::Duration;

use super::topology::Topology;
use super::{BreakerConfig, TlsConfig};

/// How to reach Redis / Valkey.
///
/// ```
/// use std::time::Duration;
/// use forze_runtime::RedisConfig;
/// let cfg = RedisConfig::new("redis://:s3cret@127.0.0.1:6379/0");
/// assert_eq!(cfg.max_size, 1);
/// assert_eq!(cfg.socket_timeout, Duration::from_secs(5));
/// assert_eq!(cfg.redacted_url(), "redis://:***@127.0.0.1:6379/0");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// One server: `redis://[user[:password]@]host[:port][/db]`, `rediss://…` (TLS, feature
    /// `tls`), `valkey://…`, `valkeys://…` or `redis+unix:///path/to/socket`.
    ///
    /// A Redis Cluster: `redis+cluster://[user[:password]@]host:port[,host:port…]` (seed nodes;
    /// `rediss+cluster://`, `valkey+cluster://`, `valkeys+cluster://` likewise). The same
    /// credentials, timeouts and TLS settings apply to every node.
    pub url: String,
    /// Number of multiplexed connections opened (default 1). One connection carries every
    /// concurrent request of the process, pipelined: measured here (`BENCHMARKS.md`), one is the
    /// fastest, and 10 used round-robin ran a cache hit at about half the speed (fewer commands
    /// per read and write, on both sides). With more than one, each runtime worker thread keeps
    /// to one connection of its own (`thread index % max_size`), so that a thread's requests
    /// still batch; more help when one connection's socket is the limit (many cores, a server
    /// with `io-threads`).
    pub max_size: usize,
    /// Longest wait for the answer to one call (default 5 s).
    pub socket_timeout: Duration,
    /// Longest wait to establish one connection (default 5 s). Start-up waits at most twice
    /// this for all its connections (a refused connection is tried again), and a start-up
    /// that gives up says the time it waited ("no connection within 10s").
    pub connect_timeout: Duration,
    /// The circuit breaker (on by default): calls fail fast while the server is known to be
    /// down.
    pub breaker: BreakerConfig,
    /// TLS settings for `rediss://` / `valkeys://` (feature `tls`).
    pub tls: TlsConfig,
    /// Use the server's conditional commands (`SET … IFEQ`, `DELIFEQ`, `DELEX … IFEQ`) where it
    /// has them, instead of a Lua script (default on; off forces the scripts everywhere).
    pub native_commands: bool,
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &self.redacted_url())
            .field("max_size", &self.max_size)
            .field("socket_timeout", &self.socket_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("breaker", &self.breaker)
            .field("tls", &self.tls)
            .field("native_commands", &self.native_commands)
            .finish()
    }
}

/// The environment variable [`RedisConfig::from_env`] reads.
pub const REDIS_URL_ENV: &str = "REDIS_URL";

impl RedisConfig {
    /// The defaults (`max_size` 1, timeouts 5 s) for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_size: 1,
            socket_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            breaker: BreakerConfig::default(),
            tls: TlsConfig::default(),
            native_commands: true,
        }
    }

    /// Sets `native_commands` (off: Lua scripts even where the server has the commands).
    pub fn native_commands(mut self, on: bool) -> Self {
        self.native_commands = on;
        self
    }

    /// Trusts the CA certificates in `pem` (instead of the platform's roots) for `rediss://`.
    pub fn tls_ca(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.ca_pem = Some(pem.into());
        self
    }

    /// Presents the client certificate `cert_pem` with its key `key_pem` (mutual TLS).
    pub fn tls_client_cert(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.tls.client_cert_pem = Some(cert_pem.into());
        self.tls.client_key_pem = Some(key_pem.into());
        self
    }

    /// Sets the circuit breaker ([`BreakerConfig::disabled`] turns it off).
    pub fn breaker(mut self, breaker: BreakerConfig) -> Self {
        self.breaker = breaker;
        self
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
        if matches!(Topology::of(&self.url), Ok(Topology::Single(_))) {
            return match url::Url::parse(&self.url) {
                Ok(mut u) => {
                    if u.password().is_some() {
                        let _ = u.set_password(Some("***"));
                    }
                    u.to_string()
                }
                Err(_) => "<unparseable redis url>".to_owned(),
            };
        }
        super::topology::redact(&self.url)
    }

    /// Every problem with this config (empty when it is usable).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let nodes = match Topology::of(&self.url) {
            Ok(Topology::Single(url)) => vec![url],
            Ok(Topology::Cluster(nodes)) => nodes,
            Ok(sentinel @ Topology::Sentinel { .. }) => vec![sentinel.first_url()],
            Err(problem) => {
                out.push(problem);
                Vec::new()
            }
        };
        // Each node's URL as a URL of one server (a cluster's nodes share scheme and fragment,
        // so one report of a problem they all have is enough).
        let mut node_problems: Vec<String> = Vec::new();
        for node in &nodes {
            for problem in self.node_problems(node) {
                if !node_problems.contains(&problem) {
                    node_problems.push(problem);
                }
            }
        }
        out.extend(node_problems);
        if self.breaker.enabled
            && (self.breaker.failures == 0 || self.breaker.probe_interval.is_zero())
        {
            out.push("redis breaker: failures and probe_interval must be above zero".to_owned());
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
        out
    }

    /// The problems of `url`, the URL of one server of this deployment.
    fn node_problems(&self, url: &str) -> Vec<String> {
        let mut out = Vec::new();
        let shown = || super::topology::redact(url);
        match url::Url::parse(url) {
            Err(e) => out.push(format!("redis url {:?} is not a URL: {e}", shown())),
            Ok(u) => {
                match u.scheme() {
                    "redis" | "valkey" | "redis+unix" | "unix" => {}
                    "rediss" | "valkeys" if cfg!(feature = "tls") => {}
                    "rediss" | "valkeys" => out.push(
                        "rediss:// (TLS) needs the `tls` feature of forze-runtime".to_owned(),
                    ),
                    other => out.push(format!(
                        "redis url scheme {other:?} is not one of redis, rediss, valkey, \
                         valkeys, redis+unix, redis+cluster (and rediss+, valkey+, valkeys+)"
                    )),
                }
                out.extend(
                    self.tls
                        .problems(u.scheme(), u.fragment() == Some("insecure")),
                );
            }
        }
        if out.is_empty() {
            if let Err(e) = redis::Client::open(url) {
                out.push(format!("redis url {:?} is not usable: {e}", shown()));
            }
        }
        out
    }
}
