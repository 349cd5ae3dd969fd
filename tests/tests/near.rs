//! The near cache: decoded values in this process, dropped by the server's invalidations.

use std::sync::Arc;
use std::time::{Duration, Instant};

use forze_runtime::{CacheRoute, Forze, NearCache};
use forze_tests::{eventually, redis_config, test_config, Proxy, RedisServer};
use redis::AsyncCommands;

/// A runtime on `backend` with the near routes "users", "docs" and "kept" (which keeps every
/// computed value at once).
async fn built(backend: forze_runtime::BackendConfig) -> Forze {
    Forze::builder()
        .backend(backend)
        .cache(
            "users",
            CacheRoute::new("t:near").near(NearCache::new(1 << 20)),
        )
        .cache(
            "docs",
            CacheRoute::new("t:neardocs").near(NearCache::new(1 << 20)),
        )
        .cache(
            "kept",
            CacheRoute::new("t:kept").near(NearCache::new(1 << 20).keep_on_first_use()),
        )
        .allow_unwired_annotations()
        .build()
        .await
        .unwrap()
}

/// [`built`] on `server`, once its tracking is on.
async fn runtime(server: &RedisServer) -> Forze {
    tracked(redis_config(server)).await
}

/// [`built`] on `config`, once its tracking is on.
async fn tracked(config: forze_runtime::RedisConfig) -> Forze {
    let forze = built(forze_runtime::BackendConfig::Redis(config)).await;
    turned_on(&forze).await;
    forze
}

/// Waits until `forze`'s near tiers serve (tracking established).
async fn turned_on(forze: &Forze) {
    eventually(Duration::from_secs(5), "tracking on", || {
        let on = forze.near_stats().on;
        async move { on.then_some(()) }
    })
    .await;
}

/// Reads `key` of "users" in `forze` until it is held near (two reads give the same `Arc`).
async fn held_near(forze: &Forze, key: &str) -> Arc<String> {
    held_near_in(forze, "users", key).await
}

/// Reads `key` of `cache` in `forze` until it is held near.
async fn held_near_in(forze: &Forze, cache: &str, key: &str) -> Arc<String> {
    let users = forze.cache(cache).unwrap();
    eventually(Duration::from_secs(5), "held near", || {
        let users = users.clone();
        async move {
            let a = users.get_shared::<String>(key).await.unwrap()?;
            let b = users.get_shared::<String>(key).await.unwrap()?;
            Arc::ptr_eq(&a, &b).then_some(a)
        }
    })
    .await
}

/// Waits until `key` reads as absent through `cache`.
async fn gone(cache: &forze_runtime::Cache, key: &str, within: Duration, what: &str) {
    eventually(within, what, || async {
        cache
            .get_shared::<String>(key)
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_elsewhere_is_never_served_stale_once_its_invalidation_arrived() {
    let server = RedisServer::start();
    let (a, b) = (runtime(&server).await, runtime(&server).await);
    let (ua, ub) = (a.cache("users").unwrap(), b.cache("users").unwrap());
    ua.set("k", &"v1".to_owned()).await.unwrap();
    assert_eq!(*held_near(&b, "k").await, "v1");

    // A write through forze in another runtime.
    let written = Instant::now();
    ua.set("k", &"v2".to_owned()).await.unwrap();
    eventually(Duration::from_secs(1), "B sees v2", || {
        let ub = ub.clone();
        async move { (ub.get_shared::<String>("k").await.unwrap()?.as_str() == "v2").then_some(()) }
    })
    .await;
    let latency = written.elapsed();
    // Once seen, never the old value again.
    for _ in 0..100 {
        assert_eq!(*ub.get_shared::<String>("k").await.unwrap().unwrap(), "v2");
    }
    assert!(
        latency < Duration::from_millis(500),
        "invalidation took {latency:?}"
    );

    // A plain SET by another client, and a DEL.
    assert_eq!(*held_near(&b, "k").await, "v2");
    let mut raw = server.client().await;
    let key = "t:near/cache/kv/k";
    let _: () = raw.set(key, "\"v3\"").await.unwrap();
    eventually(Duration::from_secs(1), "B sees the plain SET", || {
        let ub = ub.clone();
        async move { (ub.get_shared::<String>("k").await.unwrap()?.as_str() == "v3").then_some(()) }
    })
    .await;
    assert_eq!(*held_near(&b, "k").await, "v3");
    let _: () = raw.del(key).await.unwrap();
    eventually(Duration::from_secs(1), "B sees the DEL", || {
        let ub = ub.clone();
        async move {
            ub.get_shared::<String>("k")
                .await
                .unwrap()
                .is_none()
                .then_some(())
        }
    })
    .await;
    assert!(b.near_stats().invalidations >= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_writes_drop_the_near_value_at_once() {
    let server = RedisServer::start();
    let a = runtime(&server).await;
    let users = a.cache("users").unwrap();
    users.set("k", &"v1".to_owned()).await.unwrap();
    held_near(&a, "k").await;
    users.set("k", &"v2".to_owned()).await.unwrap();
    assert_eq!(
        *users.get_shared::<String>("k").await.unwrap().unwrap(),
        "v2"
    );
    held_near(&a, "k").await;
    users.invalidate("k").await.unwrap();
    assert_eq!(users.get_shared::<String>("k").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flushall_empties_the_tier_and_a_lost_tracking_connection_flushes_it() {
    let server = RedisServer::start();
    let b = runtime(&server).await;
    let users = b.cache("users").unwrap();
    let mut raw = server.client().await;
    users.set("k", &"v1".to_owned()).await.unwrap();
    held_near(&b, "k").await;
    let _: () = redis::cmd("FLUSHALL").query_async(&mut raw).await.unwrap();
    gone(&users, "k", Duration::from_secs(1), "FLUSHALL seen").await;

    users.set("k", &"v1".to_owned()).await.unwrap();
    held_near(&b, "k").await;
    let flushes = b.near_stats().flushes;
    // Kill the tracking connection (the client with tracking on).
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut raw)
        .await
        .unwrap();
    let tracking: Vec<&str> = list
        .lines()
        .filter(|l| {
            l.split(' ')
                .any(|f| f.starts_with("flags=") && f.contains('t'))
        })
        .filter_map(|l| l.split(' ').find_map(|f| f.strip_prefix("id=")))
        .collect();
    assert_eq!(tracking.len(), 1, "one tracking connection: {list}");
    let _: () = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(tracking[0])
        .query_async(&mut raw)
        .await
        .map(|_: i64| ())
        .unwrap();
    eventually(Duration::from_secs(5), "flushed and on again", || {
        let stats = b.near_stats();
        async move { (stats.flushes > flushes && stats.on && stats.entries == 0).then_some(()) }
    })
    .await;
    assert_eq!(*held_near(&b, "k").await, "v1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_near_value_never_outlives_its_ttl_on_the_server() {
    let server = RedisServer::start();
    let b = runtime(&server).await;
    let users = b
        .cache("users")
        .unwrap()
        .with_ttl(Duration::from_millis(300));
    users.set("k", &"v1".to_owned()).await.unwrap();
    let started = Instant::now();
    held_near(&b, "k").await;
    gone(&users, "k", Duration::from_secs(2), "expired").await;
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[forze_runtime::cached(cache = "users", key = "user:{id}")]
async fn user(id: u64, calls: &std::sync::atomic::AtomicUsize) -> String {
    calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("user {id}")
}

/// Returns once every invalidation the server sent `forze` before now has arrived: `forze`
/// holds a barrier key near (so the server tracks it for `forze`), another client writes it,
/// and its invalidation comes after them.
async fn invalidations_settled(server: &RedisServer, forze: &Forze) {
    let users = forze.cache("users").unwrap();
    users.set("barrier", &"x".to_owned()).await.unwrap();
    held_near(forze, "barrier").await;
    let before = forze.near_stats().invalidations;
    let mut raw = server.client().await;
    let _: () = raw.set("t:near/cache/kv/barrier", "\"y\"").await.unwrap();
    eventually(Duration::from_secs(2), "the barrier's invalidation", || {
        let n = forze.near_stats().invalidations;
        async move { (n > before).then_some(()) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_functions_are_served_near_on_both_backends() {
    let server = RedisServer::start();
    for (forze, on_redis) in [
        (runtime(&server).await, true),
        (built(forze_runtime::BackendConfig::default()).await, false),
    ] {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        // The first computation of a key is not kept near; the next call reads the value back
        // and keeps it. On "kept" the computed value itself is kept.
        let before = forze.near_stats();
        forze
            .scope(async {
                assert_eq!(user(1, &calls).await, "user 1");
                assert_eq!(user(1, &calls).await, "user 1");
                assert_eq!(kept_user(1, &calls).await, "kept 1");
            })
            .await;
        assert_eq!(forze.near_stats().hits, before.hits, "no near hit yet");
        // No invalidation of its own writes comes back to drop what it keeps (they are
        // written on the tracking connection, NOLOOP).
        if on_redis {
            invalidations_settled(&server, &forze).await;
        }
        let before = forze.near_stats();
        forze
            .scope(async {
                for _ in 0..5 {
                    assert_eq!(user(1, &calls).await, "user 1");
                    assert_eq!(kept_user(1, &calls).await, "kept 1");
                }
            })
            .await;
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
        let after = forze.near_stats();
        assert_eq!(after.hits - before.hits, 10, "near hits: {after:?}");
    }
}

#[forze_runtime::cached(cache = "kept", key = "user:{id}")]
async fn kept_user(id: u64, calls: &std::sync::atomic::AtomicUsize) -> String {
    calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("kept {id}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidation_that_arrives_while_a_read_is_in_flight_keeps_its_reply_out() {
    let server = RedisServer::start();
    let proxy = Proxy::start(server.port()).await;
    let a = runtime(&server).await;
    // B's data connections and its tracking connection go through the proxy.
    let b = tracked(test_config(proxy.url())).await;
    let (ua, ub) = (a.cache("users").unwrap(), b.cache("users").unwrap());
    ua.set("k", &"v1".to_owned()).await.unwrap();
    // B has used the key: its next read is tracked, to keep the value.
    assert_eq!(*ub.get_shared::<String>("k").await.unwrap().unwrap(), "v1");

    // B reads; the server answers v1 on the tracking connection, and the answer is held on
    // its way to B.
    proxy.hold_tracking();
    let read = tokio::spawn({
        let ub = ub.clone();
        async move { ub.get_shared::<String>("k").await }
    });
    // A writes v2: the server's invalidation for B comes behind the held answer.
    let before = b.near_stats().invalidations;
    let raw = server.client().await;
    eventually(
        Duration::from_secs(1),
        "B's read answered by the server",
        || {
            let mut raw = raw.clone();
            async move {
                // The tracked read's `PTTL`, the last of its pipeline (no other is sent here).
                (forze_tests::bench::command_calls(&mut raw, &["pttl"]).await >= 1).then_some(())
            }
        },
    )
    .await;
    ua.set("k", &"v2".to_owned()).await.unwrap();
    proxy.release_tracking();
    // Once the invalidation has arrived, v1 is never served: the read's answer is v1, but it
    // is not kept (or dropped by the invalidation if it was kept first).
    eventually(Duration::from_secs(1), "B told of v2", || {
        let n = b.near_stats().invalidations;
        async move { (n > before).then_some(()) }
    })
    .await;
    assert_eq!(*read.await.unwrap().unwrap().unwrap(), "v1");
    assert_eq!(*ub.get_shared::<String>("k").await.unwrap().unwrap(), "v2");
    assert_eq!(*held_near(&b, "k").await, "v2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_breaker_turns_the_near_cache_off_until_tracking_is_back() {
    let server = RedisServer::start();
    let proxy = Proxy::start(server.port()).await;
    let config = test_config(proxy.url()).socket_timeout(Duration::from_millis(300));
    let b = tracked(config).await;
    let users = b.cache("users").unwrap();
    users.set("k", &"v1".to_owned()).await.unwrap();
    held_near(&b, "k").await;

    // The data path stops answering while the tracking connection goes on: the reads time out
    // and the breaker opens.
    proxy.hold_replies();
    let flushes = b.near_stats().flushes;
    eventually(Duration::from_secs(5), "near off and empty", || {
        let users = users.clone();
        let b = b.clone();
        async move {
            // Keys not used before: read on the data path (held), not on the tracking one.
            let other = format!("other-{}", b.near_stats().misses);
            let _ = users.get_shared::<String>(&other).await;
            let stats = b.near_stats();
            (!stats.on && stats.entries == 0 && stats.flushes > flushes).then_some(())
        }
    })
    .await;
    assert_eq!(b.health().await.breaker, "open");
    // Off, the near value is not served.
    assert!(!matches!(
        users.get_shared::<String>("k").await,
        Ok(Some(_))
    ));

    proxy.release_replies();
    turned_on(&b).await;
    assert_eq!(*held_near(&b, "k").await, "v1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_turns_the_near_cache_off() {
    let server = RedisServer::start();
    let proxy = Proxy::start(server.port()).await;
    let timeout = Duration::from_millis(300);
    let b = tracked(test_config(proxy.url()).socket_timeout(timeout)).await;
    let users = b.cache("users").unwrap();
    users.set("k", &"v1".to_owned()).await.unwrap();
    held_near(&b, "k").await;

    // Nothing answers, not even the tracking connection; no read is made. The heartbeat finds
    // it within its period (0.5 s) and socket_timeout.
    proxy.go_silent();
    let silent = Instant::now();
    eventually(Duration::from_secs(3), "near off and empty", || {
        let stats = b.near_stats();
        async move { (!stats.on && stats.entries == 0).then_some(()) }
    })
    .await;
    let off_after = silent.elapsed();
    assert!(
        off_after <= Duration::from_millis(500) + timeout + Duration::from_millis(300),
        "off after {off_after:?}"
    );
    proxy.restore();
    turned_on(&b).await;
    assert_eq!(*held_near(&b, "k").await, "v1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tier_stays_within_max_bytes() {
    let server = RedisServer::start();
    let b = runtime(&server).await; // 1 MiB
    let users = b.cache("users").unwrap();
    let value = "x".repeat(1024);
    let keys: Vec<String> = (0..2000).map(|i| format!("k{i}")).collect();
    let entries: Vec<(&str, &String)> = keys.iter().map(|k| (k.as_str(), &value)).collect();
    users.set_many(&entries).await.unwrap();
    for (i, key) in keys.iter().enumerate() {
        for _ in 0..2 {
            assert_eq!(
                users
                    .get_shared::<String>(key)
                    .await
                    .unwrap()
                    .unwrap()
                    .len(),
                1024
            );
        }
        if i % 100 == 99 {
            let stats = b.near_stats();
            assert!(stats.bytes <= 1 << 20, "{stats:?}");
        }
    }
    let stats = b.near_stats();
    assert!(stats.bytes <= 1 << 20 && stats.bytes > 1 << 19, "{stats:?}");
    assert!(stats.entries < 2000 && stats.hits > 0, "{stats:?}");
}

#[derive(
    Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, forze_runtime::DocumentSpec,
)]
#[document(name = "notes", cache(name = "docs"))]
struct Note {
    #[document(id)]
    id: u64,
    #[document(version)]
    v: u64,
    text: String,
}

/// Reads note `id` through `docs` until a read is a near hit; returns what it read.
async fn note_held_near(
    forze: &Forze,
    docs: &forze_runtime::document::Documents<
        Note,
        forze_runtime::document::MemoryDocumentStore<Note>,
    >,
    id: u64,
) -> Option<Note> {
    eventually(Duration::from_secs(5), "the note held near", || async {
        docs.get(&id).await.unwrap();
        let before = forze.near_stats().hits;
        let read = docs.get(&id).await.unwrap();
        (forze.near_stats().hits > before).then_some(read)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_served_near_and_never_stale_after_a_write() {
    let server = RedisServer::start();
    let (a, b) = (runtime(&server).await, runtime(&server).await);
    // One source of truth for both processes (a database, here a shared memory store).
    let store = forze_runtime::document::MemoryDocumentStore::<Note>::new();
    let (da, db) = (
        a.documents(store.clone()).unwrap(),
        b.documents(store.clone()).unwrap(),
    );
    let note = da
        .create(Note {
            id: 1,
            v: 0,
            text: "one".into(),
        })
        .await
        .unwrap();
    assert_eq!(note_held_near(&b, &db, 1).await, Some(note));

    // A write in the other process: B serves the new version once its invalidation arrived,
    // and never the old one after.
    let two = da
        .update(
            &1,
            Note {
                id: 1,
                v: 0,
                text: "two".into(),
            },
        )
        .await
        .unwrap();
    eventually(Duration::from_secs(1), "B reads version 2", || async {
        (db.get(&1).await.unwrap().as_ref() == Some(&two)).then_some(())
    })
    .await;
    assert_eq!(note_held_near(&b, &db, 1).await, Some(two.clone()));
    for _ in 0..100 {
        assert_eq!(db.get(&1).await.unwrap().as_ref(), Some(&two));
    }

    // B's own write: the next read is the new version at once, no waiting.
    let three = db
        .update(
            &1,
            Note {
                id: 1,
                v: 0,
                text: "three".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(db.get(&1).await.unwrap(), Some(three.clone()));
    assert_eq!(note_held_near(&b, &db, 1).await, Some(three));

    // A deletion elsewhere: gone in B, and the deletion itself is held near.
    assert!(da.delete(&1).await.unwrap());
    eventually(Duration::from_secs(1), "B sees the deletion", || async {
        db.get(&1).await.unwrap().is_none().then_some(())
    })
    .await;
    assert_eq!(note_held_near(&b, &db, 1).await, None);
}

/// This process's own tag invalidation drops the tagged near values at once, not when the
/// server's invalidations arrive (held here in a proxy until after the check).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_own_tag_invalidation_drops_its_near_values_at_once() {
    let server = RedisServer::start();
    let proxy = Proxy::start(server.port()).await;
    let a = tracked(test_config(proxy.url())).await;
    let users = a.cache("users").unwrap();
    for key in ["t1", "t2", "t3"] {
        users
            .set_tagged(key, &"v".to_owned(), &["team"])
            .await
            .unwrap();
    }
    users.set("other", &"o".to_owned()).await.unwrap();
    for key in ["t1", "t2", "t3", "other"] {
        held_near(&a, key).await;
    }
    let flushes = a.near_stats().flushes;
    proxy.hold_tracking();
    assert_eq!(users.invalidate_tag("team").await.unwrap(), 3);
    // Before any invalidation from the server could arrive (held), and without a read (a
    // tracked read would wait for the held connection too): only "other" is held.
    assert_eq!(
        a.near_stats().entries,
        1,
        "the tagged values dropped by the call"
    );
    let hits = a.near_stats().hits;
    assert_eq!(
        *users.get_shared::<String>("other").await.unwrap().unwrap(),
        "o"
    );
    assert_eq!(a.near_stats().hits, hits + 1, "\"other\" still near");
    assert_eq!(
        a.near_stats().flushes,
        flushes,
        "dropped by the call, not by a flush"
    );
    proxy.release_tracking();
    for key in ["t1", "t2", "t3"] {
        assert_eq!(
            users.get_shared::<String>(key).await.unwrap(),
            None,
            "{key}"
        );
    }
}

/// What a near route sends (`MONITOR`, the tracker's `ROLE` heartbeat left out): a key's first
/// use is the plain route's `GET` + `SET`; from its second use (or the first, with
/// `keep_on_first_use`) a read is tracked (`CLIENT CACHING yes`, `GET`, `PTTL`, one pipeline
/// on the tracking connection) and a value computed is kept as written (`SET`, `CLIENT
/// CACHING yes`, `PTTL` in one transaction); a near hit sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_near_route_sends_what_a_plain_route_does_and_a_near_hit_nothing() {
    let server = RedisServer::start();
    let forze = runtime(&server).await;
    let mut mon = forze_tests::monitor::Monitor::start(&server).await;
    let sent =
        |cmds: Vec<String>| -> Vec<String> { cmds.into_iter().filter(|c| c != "ROLE").collect() };
    let _ = mon.commands().await;
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let before = forze.near_stats();
    forze.scope(async { user(7, &calls).await }).await;
    assert_eq!(sent(mon.commands().await), ["GET", "SET"], "a miss");
    assert_eq!(
        forze.near_stats().misses,
        before.misses + 1,
        "one miss counted once"
    );
    assert_eq!(forze.near_stats().entries, before.entries, "not kept");
    // The key's second use: read tracked (on the tracking connection), and kept.
    forze.scope(async { user(7, &calls).await }).await;
    assert_eq!(
        sent(mon.commands().await),
        ["CLIENT", "GET", "PTTL"],
        "read back tracked"
    );
    assert_eq!(
        forze.near_stats().misses - before.misses,
        2,
        "the miss and the read back counted once each"
    );
    // Kept now: once every invalidation the server sent has arrived, five calls are five near
    // hits, and nothing is invalidated meanwhile.
    invalidations_settled(&server, &forze).await;
    let settled = forze.near_stats();
    let _ = mon.commands().await;
    forze
        .scope(async {
            for _ in 0..5 {
                user(7, &calls).await;
            }
        })
        .await;
    assert_eq!(
        sent(mon.commands().await),
        Vec::<String>::new(),
        "near hits"
    );
    let after = forze.near_stats();
    assert_eq!(
        (
            after.hits - settled.hits,
            after.misses - settled.misses,
            after.invalidations - settled.invalidations
        ),
        (5, 0, 0),
        "five near hits"
    );
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    // Another client deletes the entry: the next call reads it tracked, computes, and keeps
    // what it wrote (on the tracking connection, with a tracked `PTTL` in one transaction).
    let mut raw = server.client().await;
    let _: () = raw.del("t:near/cache/kv/user:7").await.unwrap();
    eventually(Duration::from_secs(2), "the delete's invalidation", || {
        let n = forze.near_stats().invalidations;
        async move { (n > after.invalidations).then_some(()) }
    })
    .await;
    let _ = mon.commands().await;
    for expected in [
        vec![
            "CLIENT", "GET", "PTTL", "MULTI", "SET", "CLIENT", "PTTL", "EXEC",
        ],
        vec![],
    ] {
        let v = forze.scope(async { user(7, &calls).await }).await;
        assert_eq!(v, "user 7");
        assert_eq!(sent(mon.commands().await), expected);
    }
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    // Another client's write of the entry drops it; the next call reads it back (`GET` +
    // `PTTL`) and keeps it near.
    let settled = forze.near_stats().invalidations;
    let _: () = raw
        .set("t:near/cache/kv/user:7", "\"user 7, elsewhere\"")
        .await
        .unwrap();
    eventually(Duration::from_secs(2), "the write's invalidation", || {
        let n = forze.near_stats().invalidations;
        async move { (n > settled).then_some(()) }
    })
    .await;
    let _ = mon.commands().await;
    for expected in [vec!["CLIENT", "GET", "PTTL"], vec![]] {
        let v = forze.scope(async { user(7, &calls).await }).await;
        assert_eq!(v, "user 7, elsewhere");
        assert_eq!(sent(mon.commands().await), expected);
    }
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    // With `keep_on_first_use`, the first read is tracked and the value computed is kept:
    // then near hits.
    for expected in [
        vec![
            "CLIENT", "GET", "PTTL", "MULTI", "SET", "CLIENT", "PTTL", "EXEC",
        ],
        vec![],
    ] {
        forze.scope(async { kept_user(7, &calls).await }).await;
        assert_eq!(sent(mon.commands().await), expected);
    }
}

static RACER_RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[forze_runtime::cached(cache = "users", key = "racer:{id}")]
async fn racer(id: u64) -> String {
    let n = RACER_RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("a{id}-{n}")
}

/// Fills (written on the tracking connection; a key computed again keeps its value near) racing another client's writes
/// and deletes of the same keys: once both stop and the invalidations have arrived, every value
/// this process serves is the server's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fills_racing_writes_elsewhere_end_as_the_server_has_them() {
    let server = RedisServer::start();
    let forze = runtime(&server).await;
    const KEYS: u64 = 8;
    let key = |id: u64| format!("t:near/cache/kv/racer:{id}");
    let until = Instant::now() + Duration::from_millis(400);
    let readers: Vec<_> = (0..8u64)
        .map(|t| {
            let forze = forze.clone();
            tokio::spawn(async move {
                forze
                    .scope(async move {
                        let mut i = t;
                        while Instant::now() < until {
                            racer(i % KEYS).await;
                            i += 1;
                            // A near hit never waits: let the other client's connection run.
                            tokio::task::yield_now().await;
                        }
                    })
                    .await
            })
        })
        .collect();
    let mut raw = server.client().await;
    let mut n = 0u64;
    while Instant::now() < until {
        let k = key(n % KEYS);
        if n.is_multiple_of(3) {
            let _: () = raw.del(&k).await.unwrap();
        } else {
            let _: () = raw.set(&k, format!("\"b-{n}\"")).await.unwrap();
        }
        n += 1;
    }
    for r in readers {
        r.await.unwrap();
    }
    assert!(n > 100, "{n} writes elsewhere");
    invalidations_settled(&server, &forze).await;
    let stats = forze.near_stats();
    assert!(stats.on && stats.hits > 0, "{stats:?}");
    for id in 0..KEYS {
        let served = forze.scope(racer(id)).await;
        let held: Option<String> = raw.get(key(id)).await.unwrap();
        assert_eq!(
            Some(format!("\"{served}\"")),
            held,
            "key {id}: served {served:?}, the server has {held:?} ({n} writes elsewhere)"
        );
    }
}

#[forze_runtime::cached(cache = "kept", key = "short:{id}", ttl = "300ms")]
async fn short_lived(id: u64, calls: &std::sync::atomic::AtomicUsize) -> String {
    calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("short {id}")
}

/// A value a fill keeps near never outlives its TTL on the server (its near expiry runs from
/// before the write was sent), even when the server's invalidation of the expiry is held back:
/// once the server has dropped the entry, it is not served near either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_fill_never_outlives_its_ttl_on_the_server() {
    let server = RedisServer::start();
    let proxy = Proxy::start(server.port()).await;
    let forze = tracked(test_config(proxy.url())).await;
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    forze.scope(short_lived(1, &calls)).await;
    let hits = forze.near_stats().hits;
    forze.scope(short_lived(1, &calls)).await;
    assert_eq!(forze.near_stats().hits, hits + 1, "the fill is kept near");
    proxy.hold_tracking();
    let raw = server.client().await;
    eventually(Duration::from_secs(2), "expired on the server", || {
        let mut raw = raw.clone();
        async move {
            let n: u64 = raw.exists("t:kept/cache/kv/short:1").await.unwrap();
            (n == 0).then_some(())
        }
    })
    .await;
    assert!(started.elapsed() >= Duration::from_millis(250));
    let kept = forze.cache("kept").unwrap();
    assert_eq!(kept.get_shared::<String>("short:1").await.unwrap(), None);
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    proxy.release_tracking();
}

/// The server's `tracking_total_keys` (`INFO stats`): the keys it notes for tracking clients.
async fn tracked_keys(server: &RedisServer) -> u64 {
    let mut raw = server.client().await;
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query_async(&mut raw)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("tracking_total_keys:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("tracking_total_keys in INFO stats")
}

/// Keys used once cost neither the tier nor the server anything: the server tracks none of
/// them and the tier holds none; a key used a second time is tracked and held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_used_once_are_neither_held_nor_tracked() {
    let server = RedisServer::start();
    let forze = runtime(&server).await;
    let calls = std::sync::atomic::AtomicUsize::new(0);
    forze
        .scope(async {
            for id in 100..150 {
                user(id, &calls).await;
            }
        })
        .await;
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 50);
    assert_eq!(forze.near_stats().entries, 0, "none held");
    assert_eq!(tracked_keys(&server).await, 0, "none tracked");
    forze.scope(async { user(100, &calls).await }).await;
    assert_eq!(forze.near_stats().entries, 1, "the key used twice is held");
    assert_eq!(tracked_keys(&server).await, 1, "and tracked");
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 50);
}
