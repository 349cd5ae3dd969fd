//! Wiring by logical name: a builder maps cache / counter / idempotency / limiter / lock names
//! to route configs on one backend (Redis or in memory) and hands out typed handles by name.

mod ambient;
mod checks;
pub(crate) use ambient::with_ambient;
mod registry;
pub use registry::Registration;
mod routes;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub use routes::{
    CacheRoute, CounterRoute, FailurePolicy, IdempotencyRoute, LimiterFailure, LimiterRoute,
    LockRoute,
};

use crate::adapters::memory::{MemoryBackend, MemoryConfig};
use crate::adapters::redis::{RedisBackend, RedisConfig};
use crate::error::{Error, RouteKind};
use crate::handles::{Cache, Counter, Idempotency, Limiter, Locks, RouteCore};
use crate::health::Health;

/// Which backend a runtime uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendConfig {
    /// The in-memory backend (the default).
    Memory(MemoryConfig),
    /// Redis or Valkey.
    Redis(RedisConfig),
}

impl Default for BackendConfig {
    fn default() -> Self {
        BackendConfig::Memory(MemoryConfig::default())
    }
}

impl BackendConfig {
    /// Redis when `REDIS_URL` is set (and not empty), else in memory.
    ///
    /// ```
    /// use forze_runtime::BackendConfig;
    /// # unsafe { std::env::remove_var("REDIS_URL") };
    /// assert!(matches!(BackendConfig::from_env(), BackendConfig::Memory(_)));
    /// ```
    pub fn from_env() -> Self {
        RedisConfig::from_env().map_or_else(Self::default, BackendConfig::Redis)
    }
}

/// The connected backend.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    Memory(MemoryBackend),
    Redis(RedisBackend),
}

/// Builds a [`Forze`] runtime: a backend and the routes, by name.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), forze_runtime::Error> {
/// use std::time::Duration;
/// use forze_runtime::{BackendConfig, CacheRoute, CounterRoute, Forze, IdempotencyRoute};
/// let forze = Forze::builder()
///     .backend(BackendConfig::from_env()) // Redis if REDIS_URL is set, else in memory
///     .cache("users", CacheRoute::new("app:users").ttl(Duration::from_secs(600)))
///     .counter("projects", CounterRoute::new("app:seq:projects"))
///     .idempotency("default", IdempotencyRoute::new("app:idem"))
///     .build()
///     .await?;
/// assert!(forze.cache("users").is_ok());
/// assert!(forze.cache("nope").is_err());
/// # Ok(()) }
/// ```
#[derive(Debug, Default, Clone)]
#[must_use = "call .build().await to get a runtime"]
pub struct ForzeBuilder {
    backend: BackendConfig,
    caches: Vec<(String, CacheRoute)>,
    counters: Vec<(String, CounterRoute)>,
    idempotency: Vec<(String, IdempotencyRoute)>,
    limiters: Vec<(String, LimiterRoute)>,
    locks: Vec<(String, LockRoute)>,
    required: BTreeSet<(RouteKind, String)>,
    allow_unwired_annotations: bool,
}

impl ForzeBuilder {
    /// Uses `backend`.
    pub fn backend(mut self, backend: BackendConfig) -> Self {
        self.backend = backend;
        self
    }

    /// Uses the in-memory backend with default bounds.
    pub fn memory(self) -> Self {
        self.backend(BackendConfig::Memory(MemoryConfig::default()))
    }

    /// Uses Redis / Valkey.
    pub fn redis(self, config: RedisConfig) -> Self {
        self.backend(BackendConfig::Redis(config))
    }

    /// Wires the cache `name`.
    pub fn cache(mut self, name: impl Into<String>, route: CacheRoute) -> Self {
        self.caches.push((name.into(), route));
        self
    }

    /// Wires the counter `name`.
    pub fn counter(mut self, name: impl Into<String>, route: CounterRoute) -> Self {
        self.counters.push((name.into(), route));
        self
    }

    /// Wires the idempotency store `name`.
    pub fn idempotency(mut self, name: impl Into<String>, route: IdempotencyRoute) -> Self {
        self.idempotency.push((name.into(), route));
        self
    }

    /// Wires the rate limiter `name`.
    pub fn limiter(mut self, name: impl Into<String>, route: LimiterRoute) -> Self {
        self.limiters.push((name.into(), route));
        self
    }

    /// Wires the lock route `name`.
    pub fn lock(mut self, name: impl Into<String>, route: LockRoute) -> Self {
        self.locks.push((name.into(), route));
        self
    }

    /// Declares that code uses route `name` of `kind`: [`ForzeBuilder::build`] fails, listing
    /// every such name that is not wired, instead of the first call failing later.
    pub fn require(mut self, kind: RouteKind, name: impl Into<String>) -> Self {
        self.required.insert((kind, name.into()));
        self
    }

    /// Skips the start-up check that every route named by an annotation (`#[cached(cache =
    /// "...")]`, ...) linked into this program is wired. Without it, [`ForzeBuilder::build`]
    /// lists the missing ones.
    pub fn allow_unwired_annotations(mut self) -> Self {
        self.allow_unwired_annotations = true;
        self
    }

    /// Checks the whole wiring (every problem is reported at once), connects the backend
    /// (Redis: opens the connections, pings, loads the scripts) and returns the runtime.
    pub async fn build(self) -> Result<Forze, Error> {
        let problems = self.problems();
        if !problems.is_empty() {
            return Err(Error::Config { problems });
        }
        let mut this = self;
        if !this.allow_unwired_annotations {
            for r in registry::registrations() {
                this.required.insert((r.kind, r.name.to_owned()));
            }
        }
        let missing = this.missing();
        if !missing.is_empty() {
            return Err(Error::MissingRoutes {
                missing,
                wired: this.wired(),
            });
        }
        let this = this;
        let backend = match &this.backend {
            BackendConfig::Memory(cfg) => Backend::Memory(MemoryBackend::new(cfg.clone())),
            BackendConfig::Redis(cfg) => Backend::Redis(RedisBackend::connect(cfg.clone()).await?),
        };
        let routes = this.wired();
        match &backend {
            Backend::Memory(_) => tracing::info!(
                backend = "memory",
                routes = routes.len(),
                "forze started: in memory, {} routes",
                routes.len()
            ),
            Backend::Redis(r) => tracing::info!(
                backend = "redis",
                url = %r.config().redacted_url(),
                server = r.server().map(|s| s.to_string()).unwrap_or_else(|| "unknown".to_owned()),
                connections = r.connections(),
                native_commands = ?r.native_commands(),
                routes = routes.len(),
                "forze started: {} routes on {}",
                routes.len(),
                r.config().redacted_url()
            ),
        }
        if let Backend::Redis(r) = &backend {
            if !this.idempotency.is_empty() && r.persistence().await == "none" {
                tracing::warn!(
                    server = %r.config().redacted_url(),
                    "idempotency routes on a Redis that keeps nothing (no AOF, no snapshots): a \
                     restart forgets every record, and calls acknowledged before it run again"
                );
            }
        }
        macro_rules! ports {
            ($trait:path) => {
                match &backend {
                    Backend::Memory(m) => Arc::new(m.clone()) as Arc<dyn $trait>,
                    Backend::Redis(r) => Arc::new(r.clone()) as Arc<dyn $trait>,
                }
            };
        }
        let cache_port = ports!(crate::ports::CachePort);
        let counter_port = ports!(crate::ports::CounterPort);
        let idem_port = ports!(crate::ports::IdempotencyPort);
        let limit_port = ports!(crate::ports::RateLimitPort);
        let lock_port = ports!(crate::ports::LockPort);

        let mut near = crate::near::NearHub::default();
        let caches = this
            .caches
            .into_iter()
            .map(|(name, r)| {
                let near_tier = r.near.map(|n| near.tier(&r.namespace, n));
                let core = RouteCore::new(RouteKind::Cache, &name, &r.namespace, r.tenant_aware);
                let h = Cache {
                    core,
                    port: cache_port.clone(),
                    ttl: r.ttl,
                    max_value_bytes: r.max_value_bytes,
                    compress: r.compress,
                    policy: r.on_error,
                    flights: Default::default(),
                    near: near_tier,
                };
                (name, Arc::new(h))
            })
            .collect();
        let near = Arc::new(near);
        let counters = this
            .counters
            .into_iter()
            .map(|(name, r)| {
                let core = RouteCore::new(RouteKind::Counter, &name, &r.namespace, r.tenant_aware);
                let h = Counter {
                    core,
                    port: counter_port.clone(),
                    suffix: None,
                };
                (name, h)
            })
            .collect();
        let idempotency = this
            .idempotency
            .into_iter()
            .map(|(name, r)| {
                let core =
                    RouteCore::new(RouteKind::Idempotency, &name, &r.namespace, r.tenant_aware);
                let h = Idempotency {
                    core,
                    port: idem_port.clone(),
                    ttl: r.ttl,
                    lease: r.lease,
                    wait: std::time::Duration::ZERO,
                };
                (name, h)
            })
            .collect();
        let limiters = this
            .limiters
            .into_iter()
            .map(|(name, r)| {
                let core = RouteCore::new(RouteKind::Limiter, &name, &r.namespace, r.tenant_aware);
                let h = Limiter {
                    core,
                    port: limit_port.clone(),
                    quota: r.quota,
                    on_unavailable: r.on_unavailable,
                };
                (name, h)
            })
            .collect();
        let locks = this
            .locks
            .into_iter()
            .map(|(name, r)| {
                let core = RouteCore::new(RouteKind::Lock, &name, &r.namespace, r.tenant_aware);
                let h = Locks {
                    core,
                    port: lock_port.clone(),
                    lease: r.lease,
                };
                (name, h)
            })
            .collect();
        match &backend {
            Backend::Memory(m) => m.track(near.clone()),
            Backend::Redis(r) => r.track(near.clone()),
        }
        Ok(Forze {
            inner: Arc::new(Inner {
                near,
                backend,
                caches,
                counters,
                idempotency,
                limiters,
                locks,
            }),
        })
    }
}

#[derive(Debug)]
struct Inner {
    near: Arc<crate::near::NearHub>,
    backend: Backend,
    caches: BTreeMap<String, Arc<Cache>>,
    counters: BTreeMap<String, Counter>,
    idempotency: BTreeMap<String, Idempotency>,
    limiters: BTreeMap<String, Limiter>,
    locks: BTreeMap<String, Locks>,
}

/// A wired runtime: one backend, the routes by name. Cheap to clone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), forze_runtime::Error> {
/// use forze_runtime::{CounterRoute, Forze};
/// let forze = Forze::builder().counter("visits", CounterRoute::new("app:visits")).build().await?;
/// forze.counter("visits")?.incr().await?;
/// assert!(forze.health().await.reachable);
/// forze.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Forze {
    inner: Arc<Inner>,
}

fn lookup<T: Clone>(map: &BTreeMap<String, T>, kind: RouteKind, name: &str) -> Result<T, Error> {
    lookup_ref(map, kind, name).cloned()
}

fn lookup_ref<'a, T>(
    map: &'a BTreeMap<String, T>,
    kind: RouteKind,
    name: &str,
) -> Result<&'a T, Error> {
    map.get(name).ok_or_else(|| Error::UnknownRoute {
        kind,
        name: name.to_owned(),
        known: map.keys().cloned().collect(),
    })
}

impl Forze {
    /// A builder with the in-memory backend and no routes.
    pub fn builder() -> ForzeBuilder {
        ForzeBuilder::default()
    }

    /// The cache `name`.
    pub fn cache(&self, name: &str) -> Result<Cache, Error> {
        self.cache_shared(name).map(|c| (*c).clone())
    }

    /// The cache `name`, shared (one reference count, for generated code's hot path).
    pub(crate) fn cache_shared(&self, name: &str) -> Result<Arc<Cache>, Error> {
        self.cache_ref(name).cloned()
    }

    /// The cache `name`, borrowed: generated code's first look takes no reference count, so
    /// that a near hit writes no memory that every thread shares.
    pub(crate) fn cache_ref(&self, name: &str) -> Result<&Arc<Cache>, Error> {
        lookup_ref(&self.inner.caches, RouteKind::Cache, name)
    }

    /// The counter `name`.
    pub fn counter(&self, name: &str) -> Result<Counter, Error> {
        lookup(&self.inner.counters, RouteKind::Counter, name)
    }

    /// The idempotency store `name`.
    pub fn idempotency(&self, name: &str) -> Result<Idempotency, Error> {
        lookup(&self.inner.idempotency, RouteKind::Idempotency, name)
    }

    /// The rate limiter `name`.
    pub fn limiter(&self, name: &str) -> Result<Limiter, Error> {
        lookup(&self.inner.limiters, RouteKind::Limiter, name)
    }

    /// The lock route `name`.
    pub fn lock(&self, name: &str) -> Result<Locks, Error> {
        lookup(&self.inner.locks, RouteKind::Lock, name)
    }

    /// What the near caches hold and did (all zero when no route has one).
    pub fn near_stats(&self) -> crate::NearStats {
        self.inner.near.stats()
    }

    /// `"redis"` or `"memory"`.
    pub fn backend_name(&self) -> &'static str {
        match &self.inner.backend {
            Backend::Memory(_) => "memory",
            Backend::Redis(_) => "redis",
        }
    }

    /// Reachability, ping latency, connections and the (redacted) config of the backend.
    pub async fn health(&self) -> Health {
        crate::health::check(&self.inner.backend, &self.inner.near).await
    }

    /// Ends this handle to the runtime. Connections close when the last clone of the runtime
    /// and of its handles is dropped; in-flight calls on other clones complete normally.
    pub async fn shutdown(self) {
        tracing::debug!(
            backend = self.backend_name(),
            "forze runtime handle shut down"
        );
        drop(self);
    }
}
