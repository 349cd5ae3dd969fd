//! Redis Sentinel only: each test starts a master, a replica and three sentinels of its own.
//! What Sentinel changes: the master is found through the sentinels, and found again after a
//! failover, whether the old master died (refused connections) or was demoted and still
//! answers (`READONLY`). The contract and macro suites also run on Sentinel (`scripts/test`).

use std::time::{Duration, Instant};

use forze_runtime::{CacheRoute, CounterRoute, Forze, RedisConfig};
use forze_tests::load::{replicated, Load};
use forze_tests::{test_config, RedisSentinel};

const TIMEOUT: Duration = Duration::from_secs(1);
const SLACK: Duration = Duration::from_millis(300);

async fn runtime(deployment: &RedisSentinel, config: fn(RedisConfig) -> RedisConfig) -> Forze {
    Forze::builder()
        .redis(config(test_config(deployment.url())))
        .cache("c", CacheRoute::new("st:c"))
        .counter("n", CounterRoute::new("st:n"))
        .build()
        .await
        .expect("sentinel runtime")
}

fn short(c: RedisConfig) -> RedisConfig {
    c.socket_timeout(TIMEOUT).connect_timeout(TIMEOUT)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_master_is_found_through_the_sentinels() {
    let deployment = RedisSentinel::start().await;
    let forze = runtime(&deployment, |c| c).await;
    let cache = forze.cache("c").unwrap();
    cache.set("k", &7).await.unwrap();
    assert_eq!(cache.get::<i32>("k").await.unwrap(), Some(7));
    // Written on the master the sentinels name.
    let mut raw = deployment.nodes[0].client().await;
    let stored: Option<Vec<u8>> = redis::cmd("GET")
        .arg("st:c/cache/kv/k")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(stored.is_some());
    let health = forze.health().await;
    assert!(health.reachable, "{health:?}");
    assert!(health.config.contains("redis+sentinel://"), "{health:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_master_name_is_a_clear_start_up_error() {
    let deployment = RedisSentinel::start().await;
    let url = deployment.url().replace("/forze", "/nosuch");
    let err = Forze::builder()
        .redis(short(test_config(url)))
        .cache("c", CacheRoute::new("st:c"))
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("knows no master named \"nosuch\""), "{err}");
}

/// Under 64 tasks of reads (fail-open) and increments, the master is killed; the sentinels
/// promote the replica. Asserted as on a cluster: no read fails, every call returns within the
/// deadline, increments fail only inside the failover window, what was replicated before the
/// fault is kept, and increments after it count exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_master_is_replaced_under_load() {
    let mut deployment = RedisSentinel::start().await;
    let forze = runtime(&deployment, short).await;
    let counter = forze.counter("n").unwrap().at("hits");
    for _ in 0..200 {
        counter.incr().await.unwrap();
    }
    replicated(&deployment.nodes[0]).await;

    let load = Load::start(&forze.cache("c").unwrap(), &counter);
    load.until_more_acked(500, Duration::from_secs(10), "load under way")
        .await;
    let old = deployment.nodes[0].port();
    let killed = Instant::now();
    deployment.nodes[0].stop();
    forze_tests::eventually(
        Duration::from_secs(30),
        "the sentinels promote the replica",
        || async { deployment.master_port().await.filter(|p| *p != old) },
    )
    .await;
    let promoted_at = Instant::now();
    assert_eq!(deployment.role(1).await.as_deref(), Some("master"));
    load.finish_failover(&counter, 200, 1, (TIMEOUT, SLACK), (killed, promoted_at))
        .await;
}

/// `SENTINEL FAILOVER`: the master is demoted and still answers, now `READONLY`. The
/// connections move to the promoted replica; writes go on there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demoted_master_is_left_for_the_new_one() {
    let deployment = RedisSentinel::start().await;
    let forze = runtime(&deployment, short).await;
    let counter = forze.counter("n").unwrap().at("hits");
    for _ in 0..50 {
        counter.incr().await.unwrap();
    }
    replicated(&deployment.nodes[0]).await;
    let load = Load::start(&forze.cache("c").unwrap(), &counter);
    load.until_more_acked(200, Duration::from_secs(10), "load under way")
        .await;
    deployment.failover().await;
    let started = Instant::now();
    forze_tests::eventually(
        Duration::from_secs(30),
        "the old master demoted",
        || async { (deployment.role(0).await.as_deref() == Some("slave")).then_some(()) },
    )
    .await;
    let demoted_at = Instant::now();
    load.until_more_acked(500, Duration::from_secs(10), "increments on the new master")
        .await;
    let report = load.stop().await;
    report.assert_failover(TIMEOUT, SLACK, started, demoted_at);
    assert_eq!(deployment.role(1).await.as_deref(), Some("master"));
    let before: i64 =
        forze_tests::eventually(Duration::from_secs(2), "the counter read", || async {
            counter.get().await.ok().flatten()
        })
        .await;
    assert!(before as u64 >= 50 + 200);
    counter.incr().await.unwrap();
    // The write went to the new master.
    let mut new_master = deployment.nodes[1].client().await;
    let there: i64 = redis::cmd("GET")
        .arg("st:n/hits")
        .query_async(&mut new_master)
        .await
        .unwrap();
    assert_eq!(there, before + 1);
}

/// A process that sends nothing while a `SENTINEL FAILOVER` runs still moves to the new master:
/// it listens to the sentinels' `+switch-master` (a demoted master answers `PING`, so nothing
/// else would tell it). Health names the node it talks to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announced_master_is_followed_without_a_failure() {
    let deployment = RedisSentinel::start().await;
    let forze = runtime(&deployment, short).await;
    let old = format!("127.0.0.1:{}", deployment.nodes[0].port());
    let new = format!("127.0.0.1:{}", deployment.nodes[1].port());
    assert_eq!(forze.health().await.endpoint.as_deref(), Some(old.as_str()));
    deployment.failover().await;
    // Only health checks meanwhile: each a PING, which the demoted master answers too.
    let moved = forze_tests::eventually(
        Duration::from_secs(30),
        "the move to the new master",
        || async {
            let h = forze.health().await;
            (h.endpoint.as_deref() == Some(new.as_str())).then_some(h)
        },
    )
    .await;
    assert!(moved.reachable, "{moved:?}");
    let counter = forze.counter("n").unwrap();
    assert_eq!(
        counter.incr().await.unwrap(),
        1,
        "the first write goes to the new master"
    );
}

/// The near cache on Sentinel: a demoted master is found by the tracker (`ROLE`), the tier is
/// flushed, and tracking follows to the new master, whose writes are seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_near_cache_follows_a_failover() {
    let deployment = RedisSentinel::start().await;
    let near = || forze_tests::near_runtime(short(test_config(deployment.url())), "st:near");
    let held = |cache, value| forze_tests::held_near(cache, "k", value);
    let (a, b) = (near().await, near().await);
    let (ca, cb) = (a.cache("near").unwrap(), b.cache("near").unwrap());
    ca.set("k", &"v1".to_owned()).await.unwrap();
    held(&cb, "v1").await;
    ca.set("k", &"v2".to_owned()).await.unwrap();
    held(&cb, "v2").await;

    let flushes = b.near_stats().flushes;
    deployment.failover().await;
    forze_tests::eventually(Duration::from_secs(30), "the tier flushed", || {
        let n = b.near_stats().flushes;
        async move { (n > flushes).then_some(()) }
    })
    .await;
    forze_tests::eventually(
        Duration::from_secs(30),
        "the old master demoted",
        || async { (deployment.role(0).await.as_deref() == Some("slave")).then_some(()) },
    )
    .await;
    forze_tests::eventually(
        Duration::from_secs(30),
        "a write on the new master",
        || async {
            ca.set("k", &"v3".to_owned()).await.ok()?;
            let mut new_master = deployment.nodes[1].client().await;
            let there: Option<String> = redis::cmd("GET")
                .arg("st:near/cache/kv/k")
                .query_async(&mut new_master)
                .await
                .ok()?;
            (there.as_deref() == Some("\"v3\"")).then_some(())
        },
    )
    .await;
    held(&cb, "v3").await;
    ca.set("k", &"v4".to_owned()).await.unwrap();
    held(&cb, "v4").await;
}
