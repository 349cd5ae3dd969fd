//! Test support for forze: a real `redis-server` per test, a `MONITOR`-based round-trip counter,
//! and one contract suite per port that runs against every backend.

pub mod bench;
pub mod cluster;
pub mod contract;
pub mod load;
pub mod monitor;
pub mod proxy;
pub mod sentinel;
pub mod server;

use std::time::Duration;

use forze_runtime::ports::{Algorithm, Quota};
use forze_runtime::{
    CacheRoute, CounterRoute, FailurePolicy, Forze, ForzeBuilder, IdempotencyRoute, LimiterRoute,
    LockRoute, RedisConfig,
};

pub use cluster::{on_cluster, RedisCluster};
pub use proxy::Proxy;
pub use sentinel::RedisSentinel;
pub use server::RedisServer;

/// The lease of the `*-short` routes: claims and locks that a test lets expire.
pub const SHORT_LEASE: Duration = Duration::from_millis(60);

/// Installs rustls' ring crypto provider for the process, unless one is (forze does the same
/// for its own TLS connections; the harness's checks may connect first).
pub fn tls_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// The routes every contract case uses.
pub fn routes(builder: ForzeBuilder) -> ForzeBuilder {
    let hour = Duration::from_secs(3600);
    builder
        .cache("c", CacheRoute::new("t:c"))
        .cache("c-small", CacheRoute::new("t:cs").max_value_bytes(64))
        .cache("c-tenant", CacheRoute::new("t:ct").tenant_aware(true))
        .cache(
            "c-closed",
            CacheRoute::new("t:cc").on_error(FailurePolicy::FailClosed),
        )
        .counter("n", CounterRoute::new("t:n"))
        .counter("n-tenant", CounterRoute::new("t:nt").tenant_aware(true))
        .idempotency("i", IdempotencyRoute::new("t:i"))
        .idempotency("i-short", IdempotencyRoute::new("t:is").lease(SHORT_LEASE))
        .limiter(
            "fixed",
            LimiterRoute::new("t:lf").quota(Quota::new(50, hour, Algorithm::FixedWindow)),
        )
        .limiter(
            "sliding",
            LimiterRoute::new("t:ls").quota(Quota::new(50, hour, Algorithm::SlidingWindow)),
        )
        .limiter(
            "gcra",
            LimiterRoute::new("t:lg").quota(Quota::new(50, hour, Algorithm::Gcra)),
        )
        .limiter("bare", LimiterRoute::new("t:lb"))
        .lock("l", LockRoute::new("t:l"))
        .lock("l-short", LockRoute::new("t:lx").lease(SHORT_LEASE))
}

/// The contract routes on the in-memory backend.
pub async fn memory_env() -> Harness {
    Harness::memory(routes).await
}

/// A test's own redis-server, and the contract routes on it.
pub async fn redis_env() -> Harness {
    Harness::redis(routes).await
}

/// The config tests use for `server`: 2 connections, short timeouts.
pub fn redis_config(server: &RedisServer) -> RedisConfig {
    test_config(server.url())
}

/// The config tests use for a server or cluster at `url`: 2 connections, short timeouts.
pub fn test_config(url: String) -> RedisConfig {
    RedisConfig::new(url)
        .max_size(2)
        .socket_timeout(Duration::from_secs(2))
        .connect_timeout(Duration::from_secs(2))
}

/// The contract environment on Redis with the server's conditional commands off: the scripts
/// run even where the server has `SET … IFEQ` / `DELIFEQ` (on Valkey 9, both paths are tested).
pub async fn redis_scripted_env() -> Harness {
    Harness::redis_with(routes, |cfg| cfg.native_commands(false)).await
}

/// Polls `probe` every few milliseconds until it yields a value, failing after `within`. For
/// waiting on time-based behaviour (a TTL or lease running out), never as a substitute for
/// synchronising tasks.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not true within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Generates one `#[tokio::test]` per contract case, each on a fresh environment from `$env`.
#[macro_export]
macro_rules! contract_tests {
    ($env:path) => {
        $crate::contract_tests!(@cases $env;
            cache_set_get_invalidate, cache_ttl_expires, cache_many, cache_old_shape_is_miss,
            cache_too_large_is_refused_and_keeps_old, cache_pointer_never_moves_back,
            cache_tenants_are_isolated, cache_hostile_keys_are_isolated,
            counter_semantics, counter_concurrent_incr_is_exact, counter_batches_never_overlap,
            counter_overflow_is_an_error, counter_tenants_are_isolated,
            idem_flow, idem_in_progress_and_release, idem_concurrent_begin_one_proceeds,
            idem_stale_owner_cannot_commit,
            limiter_fixed_window_quota, limiter_sliding_window_quota, limiter_gcra_quota,
            limiter_concurrent_fixed_window, limiter_concurrent_sliding_window,
            limiter_concurrent_gcra, limiter_concurrent_weighted_calls, limiter_cost_and_arguments,
            limiter_changed_quota_takes_effect, limiter_uneven_intervals_are_exact,
            lock_exclusive, lock_concurrent_single_owner, lock_stale_owner_is_fenced,
        );
    };
    (@cases $env:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let env = $env().await;
                $crate::contract::$case(&env.forze).await;
            }
        )*
    };
}

/// A runtime on one backend for the annotation tests, the server behind it (Redis runs), and a
/// counter of how often function bodies ran.
pub struct Harness {
    /// The runtime under test.
    pub forze: Forze,
    /// The test's own redis-server (Redis runs on one server).
    pub server: Option<RedisServer>,
    /// The test's own cluster (Redis runs with `FORZE_TOPOLOGY=cluster`).
    pub cluster: Option<RedisCluster>,
    /// The test's own Sentinel deployment (Redis runs with `FORZE_TOPOLOGY=sentinel`).
    pub sentinel: Option<RedisSentinel>,
    /// Incremented by the bodies of the functions under test.
    pub runs: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Harness {
    /// `routes` on the in-memory backend.
    pub async fn memory(routes: fn(ForzeBuilder) -> ForzeBuilder) -> Self {
        Self {
            forze: routes(Forze::builder())
                .build()
                .await
                .expect("memory runtime"),
            server: None,
            cluster: None,
            sentinel: None,
            runs: Default::default(),
        }
    }

    /// `routes` on a redis-server of the test's own.
    pub async fn redis(routes: fn(ForzeBuilder) -> ForzeBuilder) -> Self {
        Self::redis_with(routes, |cfg| cfg).await
    }

    /// [`Harness::redis`] with the config changed by `config`; on a cluster of the test's own
    /// instead when the suites run on clusters ([`on_cluster`]).
    pub async fn redis_with(
        routes: fn(ForzeBuilder) -> ForzeBuilder,
        config: fn(RedisConfig) -> RedisConfig,
    ) -> Self {
        if on_cluster() {
            return Self::cluster_with(routes, config).await;
        }
        if cluster::on_sentinel() {
            return Self::sentinel_with(routes, config).await;
        }
        let server = RedisServer::start();
        let forze = routes(Forze::builder().redis(config(redis_config(&server))))
            .build()
            .await
            .expect("redis runtime");
        Self {
            forze,
            server: Some(server),
            cluster: None,
            sentinel: None,
            runs: Default::default(),
        }
    }

    /// `routes` on a Sentinel deployment of the test's own (a master, a replica, three
    /// sentinels), changed by `config`.
    pub async fn sentinel_with(
        routes: fn(ForzeBuilder) -> ForzeBuilder,
        config: fn(RedisConfig) -> RedisConfig,
    ) -> Self {
        let sentinel = RedisSentinel::start().await;
        let forze = routes(Forze::builder().redis(config(test_config(sentinel.url()))))
            .build()
            .await
            .expect("redis sentinel runtime");
        Self {
            forze,
            server: None,
            cluster: None,
            sentinel: Some(sentinel),
            runs: Default::default(),
        }
    }

    /// `routes` on a Redis Cluster of the test's own (3 masters, 3 replicas).
    pub async fn cluster(routes: fn(ForzeBuilder) -> ForzeBuilder) -> Self {
        Self::cluster_with(routes, |cfg| cfg).await
    }

    /// [`Harness::cluster`] with the config changed by `config`.
    pub async fn cluster_with(
        routes: fn(ForzeBuilder) -> ForzeBuilder,
        config: fn(RedisConfig) -> RedisConfig,
    ) -> Self {
        let cluster = RedisCluster::start().await;
        let forze = routes(Forze::builder().redis(config(test_config(cluster.url()))))
            .build()
            .await
            .expect("redis cluster runtime");
        Self {
            forze,
            server: None,
            cluster: Some(cluster),
            sentinel: None,
            runs: Default::default(),
        }
    }
}

/// One `#[tokio::test]` per case and backend: `memory_backend::case` and `redis_backend::case`,
/// each calling `case(&env)` with the environment from the caller's `memory()` / `redis()`.
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod memory_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(&super::memory().await).await
                }
            )*
        }
        mod redis_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(&super::redis().await).await
                }
            )*
        }
    };
}

/// A runtime on `config` with the near cache route `"near"` under `namespace`, keeping every
/// computed value (`keep_on_first_use`: the fill tests check where a kept fill is written), once
/// its tracking is on (the near tests of the cluster and Sentinel suites).
pub async fn near_runtime(config: RedisConfig, namespace: &str) -> Forze {
    let forze = Forze::builder()
        .redis(config)
        .cache(
            "near",
            CacheRoute::new(namespace)
                .near(forze_runtime::NearCache::new(1 << 20).keep_on_first_use()),
        )
        .build()
        .await
        .expect("near runtime");
    eventually(Duration::from_secs(10), "tracking on", || {
        let on = forze.near_stats().on;
        async move { on.then_some(()) }
    })
    .await;
    forze
}

/// Reads `key` through `cache` until it is held near (two reads give the same `Arc`) and
/// reads as `value`.
pub async fn held_near(cache: &forze_runtime::Cache, key: &str, value: &str) {
    eventually(Duration::from_secs(10), "held near", || async {
        let a = cache.get_shared::<String>(key).await.ok()??;
        let b = cache.get_shared::<String>(key).await.ok()??;
        (std::sync::Arc::ptr_eq(&a, &b) && a.as_str() == value).then_some(())
    })
    .await;
}
