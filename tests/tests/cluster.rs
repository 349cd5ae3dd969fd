//! Redis Cluster only: each test starts a cluster of its own (3 masters, 3 replicas). What a
//! cluster changes: tags and batches across hash slots, health on several nodes, and a master
//! killed under load (the contract and macro suites also run on clusters: `scripts/test`).

use std::time::{Duration, Instant};

use forze_runtime::keys::{hash_slot, KeySpace};
use forze_runtime::{CacheRoute, CounterRoute, Forze, RedisConfig};
use forze_tests::load::Load;
use forze_tests::{test_config, RedisCluster};
use redis::AsyncCommands;

async fn runtime(cluster: &RedisCluster, config: fn(RedisConfig) -> RedisConfig) -> Forze {
    Forze::builder()
        .redis(config(test_config(cluster.url())))
        .cache("c", CacheRoute::new("cl:c"))
        .counter("n", CounterRoute::new("cl:n"))
        // `fill_value` is wired in the near runtime only.
        .allow_unwired_annotations()
        .build()
        .await
        .expect("cluster runtime")
}

/// The masters (node indexes) that serve `keys`.
async fn masters_of(cluster: &RedisCluster, keys: &[String]) -> std::collections::BTreeSet<usize> {
    let mut masters = std::collections::BTreeSet::new();
    for key in keys {
        masters.insert(cluster.master_of(hash_slot(key.as_bytes())).await);
    }
    masters
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_over_every_master_is_dropped_by_one_invalidation() {
    let cluster = RedisCluster::start().await;
    let forze = runtime(&cluster, |c| c).await;
    let cache = forze.cache("c").unwrap();
    let space = KeySpace::new("cl:c", None);
    let keys: Vec<String> = (0..40).map(|i| format!("user:{i}")).collect();
    for key in &keys {
        cache
            .set_tagged(key, &key.len(), &["team:7"])
            .await
            .unwrap();
    }
    cache.set("untagged", &1).await.unwrap();
    let storage: Vec<String> = keys.iter().map(|k| space.cache_kv(k)).collect();
    assert_eq!(
        masters_of(&cluster, &storage).await.len(),
        3,
        "the entries are spread over the three masters"
    );
    // The tag knows each slot it has entries in, and each slot's set is in that slot.
    let mut raw = cluster.client().await;
    let slots: Vec<u16> = raw.smembers(space.cache_tag_slots("team:7")).await.unwrap();
    let expected: std::collections::BTreeSet<u16> =
        storage.iter().map(|k| hash_slot(k.as_bytes())).collect();
    assert_eq!(
        slots
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>(),
        expected
    );
    for key in &storage {
        let set = space.cache_tag_in_slot("team:7", hash_slot(key.as_bytes()));
        let member: bool = raw.sismember(&set, key).await.unwrap();
        assert!(member, "{key} recorded in {set}");
    }

    assert_eq!(cache.invalidate_tag("team:7").await.unwrap(), 40);
    for key in &keys {
        assert_eq!(cache.get::<usize>(key).await.unwrap(), None, "{key}");
    }
    assert_eq!(cache.get::<i32>("untagged").await.unwrap(), Some(1));
    // Written again after the invalidation: the next one drops it too.
    cache.set_tagged("user:1", &1, &["team:7"]).await.unwrap();
    assert_eq!(cache.invalidate_tag("team:7").await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_across_slots_read_and_write_every_entry() {
    let cluster = RedisCluster::start().await;
    let forze = runtime(&cluster, |c| c).await;
    let cache = forze.cache("c").unwrap();
    let entries: Vec<(String, u64)> = (0..60).map(|i| (format!("k{i}"), i * 3)).collect();
    let borrowed: Vec<(&str, u64)> = entries.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    cache.set_many(&borrowed).await.unwrap();
    let space = KeySpace::new("cl:c", None);
    let storage: Vec<String> = entries.iter().map(|(k, _)| space.cache_kv(k)).collect();
    assert_eq!(masters_of(&cluster, &storage).await.len(), 3);
    let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    let got: Vec<Option<u64>> = cache.get_many(&keys).await.unwrap();
    let want: Vec<Option<u64>> = entries.iter().map(|(_, v)| Some(*v)).collect();
    assert_eq!(got, want);
    assert!(cache.invalidate("k3").await.unwrap());
    assert_eq!(cache.get::<u64>("k3").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_names_the_server_and_sees_every_node() {
    let mut cluster = RedisCluster::start().await;
    let forze = runtime(&cluster, |c| c).await;
    let health = forze.health().await;
    assert!(health.reachable, "{health:?}");
    assert!(health.server.is_some(), "{health:?}");
    assert_ne!(health.persistence, "unknown", "{health:?}");
    assert!(health.config.contains("redis+cluster://"), "{health:?}");
    // Every primary says which server it runs (`INFO server` on each at start-up); the native
    // commands in use are those every primary has.
    assert_eq!(health.nodes.len(), 3, "{health:?}");
    let server = health.server.clone().unwrap();
    for node in &health.nodes {
        assert!(
            node.starts_with("127.0.0.1:") && node.ends_with(&format!(" {server}")),
            "{health:?}"
        );
    }
    let expected: &[&str] = match server.split('.').next() {
        Some("redis 7") => &[],
        Some("valkey 9") => &["SET IFEQ", "DELIFEQ"],
        _ => panic!("no expectation for {server}"),
    };
    assert_eq!(health.native_commands, expected, "{health:?}");
    // A master and its replica gone: a third of the slots unserved, and health down once the
    // cluster has noticed (`cluster-node-timeout`, 1 s here).
    cluster.nodes[0].server.stop();
    cluster.nodes[3].server.stop();
    let down = forze_tests::eventually(Duration::from_secs(10), "health down", || async {
        let h = forze.health().await;
        (!h.reachable).then_some(h)
    })
    .await;
    assert!(down.error.is_some_and(|e| e.contains("unreachable")));
}

/// Under 64 tasks of reads (fail-open) and counter increments, the master holding the counter
/// is killed. Asserted: no read fails; every call returns within `socket_timeout` + slack;
/// increments fail only until the replica has taken over and forze has read the slot map again
/// (`forze_tests::load::catch_up`), plus one deadline for calls already under way; the promoted replica serves; every increment acknowledged before the last
/// replication point (`WAIT`) is still counted, at most `1 + CLUSTER_RETRIES` times each of
/// those since; and increments after the failover count exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_under_load_fails_over() {
    const TIMEOUT: Duration = Duration::from_secs(1);
    const SLACK: Duration = Duration::from_millis(300);
    let mut cluster = RedisCluster::start().await;
    let forze = runtime(&cluster, |c| {
        c.socket_timeout(TIMEOUT).connect_timeout(TIMEOUT)
    })
    .await;
    let counter = forze.counter("n").unwrap().at("hits");
    let counter_key = KeySpace::new("cl:n", None).counter(Some("hits"));
    let slot = hash_slot(counter_key.as_bytes());
    let victim = cluster.master_of(slot).await;

    // Acknowledged and replicated before the fault.
    for _ in 0..200 {
        counter.incr().await.unwrap();
    }
    forze_tests::load::replicated(&cluster.nodes[victim].server).await;

    let load = Load::start(&forze.cache("c").unwrap(), &counter);
    // Load running: kill the counter's master, then wait for its replica to take over.
    load.until_more_acked(500, Duration::from_secs(10), "load under way")
        .await;
    let killed = Instant::now();
    cluster.nodes[victim].server.stop();
    let promoted =
        forze_tests::eventually(Duration::from_secs(20), "a replica promoted", || async {
            cluster.serving(slot).await.filter(|now| *now != victim)
        })
        .await;
    let promoted_at = Instant::now();
    assert_eq!(promoted, victim + 3, "the victim's own replica took over");
    let resends = 1 + u64::from(forze_runtime::adapters::redis::CLUSTER_RETRIES);
    load.finish_failover(
        &counter,
        200,
        resends,
        (TIMEOUT, SLACK),
        (killed, promoted_at),
    )
    .await;
}

/// How many times `near_value` computed each id (the tests below use ids of their own).
static COMPUTED: [std::sync::atomic::AtomicUsize; 128] =
    [const { std::sync::atomic::AtomicUsize::new(0) }; 128];

#[forze_runtime::cached(cache = "near", key = "v:{id}")]
async fn near_value(id: usize) -> String {
    COMPUTED[id].fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("value {id}")
}

fn computed(id: usize) -> usize {
    COMPUTED[id].load(std::sync::atomic::Ordering::SeqCst)
}

/// A fill on a near route of a cluster is written on the tracking connection of its key's
/// master (`NOLOOP`): no invalidation of it comes back, and the value it wrote stays near.
/// Checked per key with a barrier: a key of the same slot, held near, then written by another
/// client — its invalidation comes on that master's tracking connection after any of the fill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fill_stays_near_on_every_master() {
    let cluster = RedisCluster::start().await;
    let forze = near_runtime(&cluster).await;
    let cache = forze.cache("near").unwrap();
    let space = KeySpace::new("cl:near", None);
    let ids: Vec<usize> = (0..12).collect();
    let storage: Vec<String> = ids
        .iter()
        .map(|i| space.cache_kv(&format!("v:{i}")))
        .collect();
    assert_eq!(masters_of(&cluster, &storage).await.len(), 3);
    let mut raw = cluster.client().await;
    for (&id, full) in ids.iter().zip(&storage) {
        let slot = hash_slot(full.as_bytes());
        let barrier = (0..)
            .map(|n| format!("b{id}-{n}"))
            .find(|b| hash_slot(space.cache_kv(b).as_bytes()) == slot)
            .unwrap();
        cache.set(&barrier, &"b1".to_owned()).await.unwrap();
        forze_tests::held_near(&cache, &barrier, "b1").await;

        forze
            .scope(async { assert_eq!(near_value(id).await, format!("value {id}")) })
            .await;
        assert_eq!(computed(id), 1);
        let _: () = raw.set(space.cache_kv(&barrier), "\"b2\"").await.unwrap();
        forze_tests::eventually(
            Duration::from_secs(2),
            "the barrier's invalidation",
            || async {
                (cache.get_shared::<String>(&barrier).await.ok()??.as_str() == "b2").then_some(())
            },
        )
        .await;
        // The fill's value is still near: served without the body or a read.
        let before = forze.near_stats();
        forze
            .scope(async { assert_eq!(near_value(id).await, format!("value {id}")) })
            .await;
        let after = forze.near_stats();
        assert_eq!(after.hits - before.hits, 1, "v:{id} held near: {after:?}");
        assert_eq!(computed(id), 1);
    }
}

/// A slot moved to another master after tracking was established (a resharding): a fill of a
/// key in it, sent on the old master's tracking connection, is answered `MOVED` and sent again
/// on the data connections, which follow it to the new master. The call returns its value
/// once (one computation), the server has it, and what is served afterwards is the server's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fill_in_a_moved_slot_goes_to_its_new_master() {
    let cluster = RedisCluster::start().await;
    let forze = near_runtime(&cluster).await;
    let space = KeySpace::new("cl:near", None);
    const ID: usize = 100;
    let full = space.cache_kv(&format!("v:{ID}"));
    let slot = hash_slot(full.as_bytes());
    let owner = cluster.master_of(slot).await;
    let to = (owner + 1) % 3;
    cluster.move_empty_slot(slot, to).await;

    forze
        .scope(async { assert_eq!(near_value(ID).await, "value 100") })
        .await;
    assert_eq!(computed(ID), 1);
    let mut raw = cluster.client().await;
    let stored: Option<String> = raw.get(&full).await.unwrap();
    assert_eq!(stored.as_deref(), Some("\"value 100\""));
    assert_eq!(cluster.master_of(slot).await, to);
    for _ in 0..3 {
        forze
            .scope(async { assert_eq!(near_value(ID).await, "value 100") })
            .await;
    }
    assert_eq!(computed(ID), 1);
}

/// The near runtime of these tests on `cluster`.
async fn near_runtime(cluster: &RedisCluster) -> Forze {
    let config = test_config(cluster.url())
        .socket_timeout(Duration::from_secs(1))
        .connect_timeout(Duration::from_secs(1));
    forze_tests::near_runtime(config, "cl:near").await
}

/// Reads every key through `cache` until each is held near and reads as `value`.
async fn all_held_near(cache: &forze_runtime::Cache, keys: &[String], value: &str) {
    for key in keys {
        forze_tests::held_near(cache, key, value).await;
    }
}

/// The near cache on a cluster: a tracking connection per master, so writes on every master
/// reach the other process; a killed master flushes the tier, and once its replica is promoted
/// tracking covers it again and its writes are seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_near_cache_tracks_every_master_and_survives_a_failover() {
    let mut cluster = RedisCluster::start().await;
    let (a, b) = (near_runtime(&cluster).await, near_runtime(&cluster).await);
    let (ca, cb) = (a.cache("near").unwrap(), b.cache("near").unwrap());
    let space = KeySpace::new("cl:near", None);
    let keys: Vec<String> = (0..30).map(|i| format!("k{i}")).collect();
    let storage: Vec<String> = keys.iter().map(|k| space.cache_kv(k)).collect();
    assert_eq!(masters_of(&cluster, &storage).await.len(), 3);
    for key in &keys {
        ca.set(key, &"v1".to_owned()).await.unwrap();
    }
    all_held_near(&cb, &keys, "v1").await;
    // A write on each master through the other runtime, and a plain SET by another client.
    for key in &keys {
        ca.set(key, &"v2".to_owned()).await.unwrap();
    }
    all_held_near(&cb, &keys, "v2").await;
    let mut raw = cluster.client().await;
    let _: () = raw.set(&storage[0], "\"raw\"").await.unwrap();
    forze_tests::eventually(Duration::from_secs(2), "the plain SET seen", || async {
        (cb.get_shared::<String>(&keys[0]).await.ok()??.as_str() == "raw").then_some(())
    })
    .await;

    // A tag over every master, invalidated in A: its near values are gone in A at once.
    let tagged: Vec<String> = (0..12).map(|i| format!("t{i}")).collect();
    for key in &tagged {
        ca.set_tagged(key, &"t".to_owned(), &["team"])
            .await
            .unwrap();
    }
    all_held_near(&ca, &tagged, "t").await;
    assert_eq!(ca.invalidate_tag("team").await.unwrap(), 12);
    for key in &tagged {
        assert_eq!(ca.get_shared::<String>(key).await.unwrap(), None, "{key}");
    }

    // Kill the master of k1: the tier is flushed, and serves again once tracking is back.
    let slot = hash_slot(storage[1].as_bytes());
    let victim = cluster.master_of(slot).await;
    let flushes = b.near_stats().flushes;
    cluster.nodes[victim].server.stop();
    forze_tests::eventually(Duration::from_secs(10), "the tier flushed", || {
        let n = b.near_stats().flushes;
        async move { (n > flushes).then_some(()) }
    })
    .await;
    forze_tests::eventually(Duration::from_secs(20), "a replica promoted", || async {
        cluster.serving(slot).await.filter(|now| *now != victim)
    })
    .await;
    forze_tests::eventually(Duration::from_secs(20), "tracking back", || {
        let on = b.near_stats().on;
        async move { on.then_some(()) }
    })
    .await;
    // A write on the promoted master reaches B's tier.
    forze_tests::eventually(
        Duration::from_secs(20),
        "a write after the failover",
        || async { ca.set(&keys[1], &"v3".to_owned()).await.ok() },
    )
    .await;
    all_held_near(&cb, &keys[1..2], "v3").await;
    ca.set(&keys[1], &"v4".to_owned()).await.unwrap();
    all_held_near(&cb, &keys[1..2], "v4").await;
}
