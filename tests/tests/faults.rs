//! Faults against real redis-servers that the tests start: a server that goes silent (a proxy
//! with a dead backend), a server killed with SIGKILL and restarted, under 64 concurrent tasks.
//! Asserted: fail-open calls never fail, every call returns within `socket_timeout` + 100 ms,
//! calls fail fast while the breaker is open, and the backend is used again within about a
//! second of its return.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use forze_runtime::{cached, CacheRoute, CounterRoute, Forze, RedisConfig};
use forze_tests::{eventually, Proxy, RedisServer};

const TIMEOUT: Duration = Duration::from_millis(300);
const SLACK: Duration = Duration::from_millis(100);

fn config(url: String) -> RedisConfig {
    RedisConfig::new(url)
        .max_size(2)
        .socket_timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
}

async fn runtime(url: String) -> Forze {
    Forze::builder()
        .redis(config(url))
        .cache("c", CacheRoute::new("f:c"))
        .counter("n", CounterRoute::new("f:n"))
        .allow_unwired_annotations()
        .build()
        .await
        .expect("runtime")
}

/// Runs `calls` cache reads on each of 64 tasks; returns every call's duration and how many
/// failed (a fail-open read never should).
async fn load(forze: &Forze, calls: usize) -> (Vec<Duration>, usize) {
    let tasks: Vec<_> = (0..64)
        .map(|t| {
            let cache = forze.cache("c").unwrap();
            tokio::spawn(async move {
                let mut times = Vec::with_capacity(calls);
                let mut failed = 0;
                for i in 0..calls {
                    let start = Instant::now();
                    if cache
                        .get::<u64>(&format!("k{}", (t + i) % 8))
                        .await
                        .is_err()
                    {
                        failed += 1;
                    }
                    times.push(start.elapsed());
                }
                (times, failed)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut failed = 0;
    for t in tasks {
        let (times, f) = t.await.unwrap();
        all.extend(times);
        failed += f;
    }
    (all, failed)
}

fn assert_within_deadline(times: &[Duration], what: &str) {
    let worst = times.iter().max().copied().unwrap_or_default();
    assert!(
        worst <= TIMEOUT + SLACK,
        "{what}: a call took {worst:?}, above socket_timeout {TIMEOUT:?} + {SLACK:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_never_holds_a_call_past_its_deadline() {
    let server = RedisServer::start();
    let proxy = Proxy::start(server.port()).await;
    let forze = runtime(proxy.url()).await;
    let cache = forze.cache("c").unwrap();
    cache.set("k0", &7u64).await.unwrap();

    proxy.go_silent();
    let (times, failed) = load(&forze, 20).await;
    assert_eq!(failed, 0, "fail-open reads must not fail");
    assert_within_deadline(&times, "silent server");
    // Once the breaker is open, a fail-open call costs no timeout: most calls are fast.
    let fast = times
        .iter()
        .filter(|t| **t < Duration::from_millis(10))
        .count();
    assert!(
        fast * 2 > times.len(),
        "only {fast} of {} calls failed fast",
        times.len()
    );
    assert_eq!(forze.health().await.breaker, "open");
    // A fail-closed port returns its error within the deadline too.
    let start = Instant::now();
    assert!(forze.counter("n").unwrap().incr().await.is_err());
    assert!(start.elapsed() <= TIMEOUT + SLACK, "{:?}", start.elapsed());

    proxy.restore();
    let back = Instant::now();
    eventually(Duration::from_secs(3), "the cache serves again", || async {
        (cache.get::<u64>("k0").await.unwrap() == Some(7)).then_some(())
    })
    .await;
    let recovery = back.elapsed();
    assert!(
        recovery <= Duration::from_secs(1),
        "recovered after {recovery:?}"
    );
    let health = forze.health().await;
    assert!(health.reachable, "{health:?}");
    assert_eq!(health.breaker, "closed");
}

static BODIES: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = "c", key = "v:{n}")]
async fn value(n: u64) -> u64 {
    BODIES.fetch_add(1, Ordering::Relaxed);
    n * 2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_and_restart_under_load_fails_no_cached_call() {
    let mut server = RedisServer::start();
    let forze = runtime(server.url()).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tasks: Vec<_> = (0..64u64)
        .map(|t| {
            let (forze, stop) = (forze.clone(), stop.clone());
            tokio::spawn(async move {
                let rt = forze.clone();
                rt.scope(async move {
                    let mut worst = Duration::ZERO;
                    let mut calls = 0u64;
                    while !stop.load(Ordering::Relaxed) && calls < 200_000 {
                        let n = (t + calls) % 16;
                        let start = Instant::now();
                        assert_eq!(
                            value(n).await,
                            n * 2,
                            "a cached call returned a wrong value"
                        );
                        worst = worst.max(start.elapsed());
                        calls += 1;
                        tokio::task::yield_now().await;
                    }
                    (worst, calls)
                })
                .await
            })
        })
        .collect();
    // Under load: kill -9, and wait until calls run through to the body (the cache is gone).
    let before = BODIES.load(Ordering::Relaxed);
    server.stop();
    eventually(
        Duration::from_secs(5),
        "calls go through while Redis is down",
        || async { (BODIES.load(Ordering::Relaxed) > before + 100).then_some(()) },
    )
    .await;
    server.restart();
    let back = Instant::now();
    let cache = forze.cache("c").unwrap();
    eventually(
        Duration::from_secs(3),
        "the cache is used again",
        || async {
            cache
                .get::<u64>("v:3")
                .await
                .ok()
                .flatten()
                .map(|v| assert_eq!(v, 6))
        },
    )
    .await;
    let recovery = back.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for t in tasks {
        let (worst, calls) = t.await.expect("no cached call failed or panicked");
        assert!(worst <= TIMEOUT + SLACK, "a call took {worst:?}");
        total += calls;
    }
    assert!(total > 0);
    assert!(
        recovery <= Duration::from_secs(1),
        "recovered after {recovery:?}"
    );
}

// --- state that is no valid state of its algorithm heals ------------------------------------

mod corrupt_limiter_state {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use forze_runtime::keys::{window_key, KeySpace};
    use forze_runtime::ports::{Algorithm, Quota};
    use forze_runtime::{Forze, LimiterRoute};
    use forze_tests::{redis_config, RedisServer};
    use redis::AsyncCommands;

    const PERIOD: Duration = Duration::from_secs(3600);

    async fn setup() -> (RedisServer, Forze, redis::aio::MultiplexedConnection) {
        let server = RedisServer::start();
        let forze = Forze::builder()
            .redis(redis_config(&server))
            .limiter("rl", LimiterRoute::new("h:rl"))
            .allow_unwired_annotations()
            .build()
            .await
            .unwrap();
        let raw = server.client().await;
        (server, forze, raw)
    }

    fn state(key: &str) -> String {
        KeySpace::new("h:rl", None).rate_limit(key)
    }

    /// The GCRA state of `key` under `quota`.
    fn gcra_state(key: &str, quota: &Quota) -> String {
        forze_runtime::keys::gcra_key(&state(key), quota.limit, quota.period.as_millis() as u64)
    }

    /// Admits exactly `limit` calls of cost 1 on `key`, then denies: the state works again.
    async fn admits_exactly(forze: &Forze, key: &str, quota: &Quota) {
        let limiter = forze.limiter("rl").unwrap();
        for i in 0..quota.limit {
            let d = limiter.check_quota(key, quota, 1).await.unwrap();
            assert!(d.allowed, "{key}: call {i} denied after a corrupt state");
        }
        let d = limiter.check_quota(key, quota, 1).await.unwrap();
        assert!(!d.allowed && d.retry_after.is_some(), "{key}: {d:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn gcra_state_heals() {
        let (_server, forze, mut raw) = setup().await;
        let quota = Quota::new(3, PERIOD, Algorithm::Gcra);
        for (i, bad) in [
            "1e300",
            "inf",
            "-inf",
            "nan",
            "-5",
            "garbage",
            "99999999999999999999",
        ]
        .into_iter()
        .enumerate()
        {
            let key = format!("g{i}");
            let _: () = raw.set(gcra_state(&key, &quota), bad).await.unwrap();
            admits_exactly(&forze, &key, &quota).await;
            let now: f64 = raw.get(gcra_state(&key, &quota)).await.unwrap();
            assert!(now.is_finite() && now > 0.0, "{bad:?} replaced by {now}");
        }
        // Another type at the key.
        let _: () = raw.hset(gcra_state("gh", &quota), "f", "v").await.unwrap();
        admits_exactly(&forze, "gh", &quota).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fixed_window_counters_heal() {
        let (_server, forze, mut raw) = setup().await;
        let quota = Quota::new(3, PERIOD, Algorithm::FixedWindow);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let window = (now.as_micros() / PERIOD.as_micros()) as u64;
        for (i, bad) in ["-1000000", "garbage", "1.5"].into_iter().enumerate() {
            let key = format!("w{i}");
            // The current window and the next (should the test cross a boundary).
            for w in [window, window + 1] {
                let _: () = raw.set(window_key(&state(&key), w), bad).await.unwrap();
            }
            admits_exactly(&forze, &key, &quota).await;
            // Weighted calls heal too.
            let key = format!("ww{i}");
            for w in [window, window + 1] {
                let _: () = raw.set(window_key(&state(&key), w), bad).await.unwrap();
            }
            let limiter = forze.limiter("rl").unwrap();
            assert!(
                limiter.check_quota(&key, &quota, 3).await.unwrap().allowed,
                "{bad:?}"
            );
            assert!(
                !limiter.check_quota(&key, &quota, 1).await.unwrap().allowed,
                "{bad:?}"
            );
        }
        for w in [window, window + 1] {
            let _: () = raw
                .hset(window_key(&state("wh"), w), "f", "v")
                .await
                .unwrap();
        }
        admits_exactly(&forze, "wh", &quota).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sliding_window_buckets_heal() {
        let (_server, forze, mut raw) = setup().await;
        let quota = Quota::new(3, PERIOD, Algorithm::SlidingWindow);
        let width = PERIOD.as_micros() as u64 / forze_runtime::ports::SLIDING_WINDOW_BUCKETS;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros() as u64;
        let cur = now / width;
        let (c, future) = (cur.to_string(), (cur + 1000).to_string());
        // Not numbers, a negative count, buckets in the future, an oldest after the newest.
        let bad = [
            format!("x:{c}:{c}"),
            format!("-7:{c}:{c}"),
            format!("2:{c}:{future}"),
            format!("2:{future}:{c}"),
            "garbage".to_owned(),
        ];
        for (i, m) in bad.iter().enumerate() {
            let key = format!("s{i}");
            let _: () = raw.hset(state(&key), "m", m).await.unwrap();
            admits_exactly(&forze, &key, &quota).await;
            let m: String = raw.hget(state(&key), "m").await.unwrap();
            assert!(
                m.starts_with("3:"),
                "case {i}: the state counts what it admitted: {m}"
            );
        }
        let _: () = raw.set(state("str"), "a string").await.unwrap();
        admits_exactly(&forze, "str", &quota).await;
    }
}

/// Exactly-once needs a Redis that keeps its data: health says what the server keeps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_what_the_server_keeps() {
    let volatile = RedisServer::start();
    let forze = runtime(volatile.url()).await;
    assert_eq!(forze.health().await.persistence, "none");
    let durable = RedisServer::start_with(&["--appendonly", "yes"]);
    let forze = runtime(durable.url()).await;
    assert_eq!(forze.health().await.persistence, "aof");
    let snapshots = RedisServer::start_with(&["--save", "3600 1"]);
    let forze = runtime(snapshots.url()).await;
    assert_eq!(forze.health().await.persistence, "rdb");
}

/// `DEBUG SLEEP` (the server blocks for 1 s) and `CLIENT PAUSE` (commands wait 1 s): every
/// call returns within its deadline, fail-open calls never fail, and a limiter that denies
/// while unavailable never admits more than its quota.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_or_paused_server_never_holds_a_call_past_its_deadline() {
    use forze_runtime::ports::{Algorithm, Quota};
    use forze_runtime::{LimiterFailure, LimiterRoute};
    let server = RedisServer::start_with(&["--enable-debug-command", "local"]);
    let forze = Forze::builder()
        .redis(config(server.url()))
        .cache("c", CacheRoute::new("f:c"))
        .limiter(
            "strict",
            LimiterRoute::new("f:rl")
                .quota(Quota::new(
                    50,
                    Duration::from_secs(3600),
                    Algorithm::FixedWindow,
                ))
                .on_unavailable(LimiterFailure::Deny),
        )
        .allow_unwired_annotations()
        .build()
        .await
        .unwrap();
    let admitted = Arc::new(AtomicUsize::new(0));
    for block in [
        vec!["DEBUG", "SLEEP", "1"],
        vec!["CLIENT", "PAUSE", "1000", "ALL"],
    ] {
        let mut raw = server.client().await;
        let blocker = tokio::spawn(async move {
            let mut cmd = redis::cmd(block[0]);
            for a in &block[1..] {
                cmd.arg(*a);
            }
            // The test client's own response timeout may end this wait; the server blocks
            // either way.
            let _: Result<redis::Value, _> = cmd.query_async(&mut raw).await;
        });
        let tasks: Vec<_> = (0..64)
            .map(|t| {
                let (forze, admitted) = (forze.clone(), admitted.clone());
                tokio::spawn(async move {
                    let (cache, limiter) =
                        (forze.cache("c").unwrap(), forze.limiter("strict").unwrap());
                    let mut worst = Duration::ZERO;
                    for i in 0..10 {
                        // Each call on its own clock.
                        let start = Instant::now();
                        assert!(
                            cache.get::<u64>(&format!("k{t}")).await.is_ok(),
                            "fail-open read failed"
                        );
                        worst = worst.max(start.elapsed());
                        let start = Instant::now();
                        let d = limiter.check(&format!("u{}", i % 2)).await.unwrap();
                        worst = worst.max(start.elapsed());
                        if d.allowed {
                            admitted.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    worst
                })
            })
            .collect();
        for t in tasks {
            let worst = t.await.unwrap();
            assert!(worst <= TIMEOUT + SLACK, "a call took {worst:?}");
        }
        blocker.await.unwrap();
    }
    // Two keys, 50 each per hour: never more than 100 admitted, whatever the faults.
    assert!(admitted.load(Ordering::SeqCst) <= 100, "{admitted:?}");
}

/// Exactly once while Redis keeps its data (AOF, fsync always): 64 tasks run idempotent calls,
/// Redis is killed with SIGKILL and restarted from its AOF; afterwards every key whose call
/// was acknowledged replays its result, and no acknowledged body ran twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_idempotent_calls_never_run_twice_across_a_kill() {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use forze_runtime::{IdempotencyError, IdempotencyRoute};

    let mut server = RedisServer::start_with(&["--appendonly", "yes", "--appendfsync", "always"]);
    let forze = Forze::builder()
        .redis(config(server.url()))
        .idempotency(
            "idem",
            IdempotencyRoute::new("f:idem").lease(Duration::from_secs(2)),
        )
        .allow_unwired_annotations()
        .build()
        .await
        .unwrap();
    let runs: Arc<Mutex<HashMap<String, usize>>> = Default::default();
    let acked: Arc<Mutex<Vec<String>>> = Default::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let fp = forze_runtime::codec::fingerprint(&"payload").unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|t| {
            let (forze, runs, acked, stop, fp) = (
                forze.clone(),
                runs.clone(),
                acked.clone(),
                stop.clone(),
                fp.clone(),
            );
            tokio::spawn(async move {
                let idem = forze.idempotency("idem").unwrap();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) && i < 10_000 {
                    let key = format!("t{t}-{i}");
                    let body = || async {
                        *runs.lock().unwrap().entry(key.clone()).or_default() += 1;
                        Ok::<_, IdempotencyError>(key.clone())
                    };
                    if idem.run("op", &key, &fp, body).await.is_ok() {
                        acked.lock().unwrap().push(key);
                    }
                    i += 1;
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    forze_tests::eventually(
        Duration::from_secs(10),
        "calls are acknowledged",
        || async { (acked.lock().unwrap().len() > 200).then_some(()) },
    )
    .await;
    server.stop();
    forze_tests::eventually(
        Duration::from_secs(5),
        "calls fail while Redis is down",
        || async { (forze.health().await.breaker == "open").then_some(()) },
    )
    .await;
    server.restart();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    // Every acknowledged key replays its own result without running again.
    let idem = forze.idempotency("idem").unwrap();
    let acked = acked.lock().unwrap().clone();
    for key in &acked {
        let again: Result<String, IdempotencyError> = idem
            .run("op", key, &fp, || async { Ok("ran again".to_owned()) })
            .await;
        match again {
            Ok(v) => assert_eq!(&v, key, "{key} ran again"),
            Err(e) => panic!("{key}: {e}"),
        }
    }
    let runs = runs.lock().unwrap();
    for key in &acked {
        assert_eq!(
            runs.get(key),
            Some(&1),
            "{key} ran {:?} times",
            runs.get(key)
        );
    }
}

/// Values of other kinds at cache keys, written by another program: a tag key that holds no
/// set, an entry of another type, a document's current copy that is garbage. None fails a call
/// or a write; each is treated as absent and replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_shaped_cache_values_are_replaced() {
    use forze_runtime::keys::KeySpace;
    use redis::AsyncCommands;

    let server = RedisServer::start();
    let forze = runtime(server.url()).await;
    let mut raw = server.client().await;
    let ks = KeySpace::new("f:c", None);
    let cache = forze.cache("c").unwrap();
    // A tag key holding a string: a tagged write replaces it, an invalidation drops it.
    let _: () = raw.set(ks.cache_tag("team:1"), "not a set").await.unwrap();
    cache
        .set_tagged("page:1", &1u32, &["team:1"])
        .await
        .unwrap();
    assert_eq!(cache.get::<u32>("page:1").await.unwrap(), Some(1));
    assert_eq!(cache.invalidate_tag("team:1").await.unwrap(), 1);
    assert_eq!(cache.get::<u32>("page:1").await.unwrap(), None);
    let _: () = raw.set(ks.cache_tag("team:2"), "not a set").await.unwrap();
    assert_eq!(cache.invalidate_tag("team:2").await.unwrap(), 0);
    let exists: bool = raw.exists(ks.cache_tag("team:2")).await.unwrap();
    assert!(!exists, "the wrong-shaped tag key is gone");
    // An entry of another type: a fail-open read is a miss, and the next write replaces it.
    let _: () = raw.hset(ks.cache_kv("k"), "f", "v").await.unwrap();
    assert_eq!(cache.get::<u32>("k").await.unwrap(), None);
    cache.set("k", &5u32).await.unwrap();
    assert_eq!(cache.get::<u32>("k").await.unwrap(), Some(5));
    // Garbage where a number is stored: a miss, then replaced.
    let _: () = raw.set(ks.cache_kv("n"), "\u{1}garbage").await.unwrap();
    assert_eq!(cache.get::<u32>("n").await.unwrap(), None);
    cache.set("n", &6u32).await.unwrap();
    assert_eq!(cache.get::<u32>("n").await.unwrap(), Some(6));
}

/// A server, a runtime with the idempotency route `idem` at `f:idem`, and a raw connection.
async fn idempotency_env() -> (RedisServer, Forze, redis::aio::MultiplexedConnection) {
    let server = RedisServer::start();
    let forze = Forze::builder()
        .redis(config(server.url()))
        .idempotency("idem", forze_runtime::IdempotencyRoute::new("f:idem"))
        .allow_unwired_annotations()
        .build()
        .await
        .unwrap();
    let raw = server.client().await;
    (server, forze, raw)
}

/// An idempotency record of another type (another program's value at the key) holds no
/// result: the next call claims the key and runs, instead of failing forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_shaped_idempotency_record_is_replaced() {
    use forze_runtime::keys::KeySpace;
    use forze_runtime::IdempotencyError;
    use redis::AsyncCommands;

    let (_server, forze, mut raw) = idempotency_env().await;
    let fp = forze_runtime::codec::fingerprint(&1).unwrap();
    let idem = forze.idempotency("idem").unwrap();
    let ks = KeySpace::new("f:idem", None);

    let _: () = raw
        .set(ks.idempotency("op", "a"), "not a record")
        .await
        .unwrap();
    let _: () = raw
        .hset(ks.idempotency("op", "b"), "x", "no fingerprint")
        .await
        .unwrap();
    for key in ["a", "b"] {
        let first: Result<u32, IdempotencyError> =
            idem.run("op", key, &fp, || async { Ok(1) }).await;
        assert_eq!(first.unwrap(), 1, "{key}");
        let again: Result<u32, IdempotencyError> =
            idem.run("op", key, &fp, || async { Ok(2) }).await;
        assert_eq!(again.unwrap(), 1, "{key}: replayed");
    }
}

/// Records of the earlier layout (a hash: `f` fingerprint, `t` token, `s` snapshot) are read:
/// a committed one replays (and is rewritten as one string, keeping its expiry), a claim in
/// flight is in progress, a record of another payload is a mismatch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_of_the_earlier_hash_layout_are_read() {
    use forze_runtime::keys::KeySpace;
    use forze_runtime::Begin;
    use redis::AsyncCommands;

    let (_server, forze, mut raw) = idempotency_env().await;
    let fp = forze_runtime::codec::fingerprint(&1).unwrap();
    let idem = forze.idempotency("idem").unwrap();
    let ks = KeySpace::new("f:idem", None);

    let done = ks.idempotency("op", "done");
    let _: () = raw
        .hset_multiple(
            &done,
            &[("f", fp.as_str()), ("t", "old"), ("s", "\"paid\"")],
        )
        .await
        .unwrap();
    let _: () = raw.pexpire(&done, 60_000).await.unwrap();
    let flight = ks.idempotency("op", "flight");
    let _: () = raw
        .hset_multiple(&flight, &[("f", fp.as_str()), ("t", "old")])
        .await
        .unwrap();
    match idem.begin("op", "done", &fp).await.unwrap() {
        Begin::Replay(snapshot) => assert_eq!(snapshot.bytes(), b"\"paid\""),
        other => panic!("a committed record of the hash layout replays, got {other:?}"),
    }
    let kind: String = redis::cmd("TYPE")
        .arg(&done)
        .query_async(&mut raw)
        .await
        .unwrap();
    let ttl: i64 = raw.pttl(&done).await.unwrap();
    assert_eq!(kind, "string", "rewritten in the one-string layout");
    assert!(ttl > 0 && ttl <= 60_000, "its expiry is kept: {ttl}");
    // Read again, now from the new layout.
    assert!(matches!(
        idem.begin("op", "done", &fp).await.unwrap(),
        Begin::Replay(_)
    ));
    assert!(matches!(
        idem.begin("op", "flight", &fp).await.unwrap(),
        Begin::InProgress
    ));
    let other = forze_runtime::codec::fingerprint(&2).unwrap();
    assert!(matches!(
        idem.begin("op", "done", &other).await.unwrap(),
        Begin::Mismatch
    ));
}

/// A server that accepts connections and never answers: start-up fails within twice
/// `connect_timeout` (the bound of its connections, which retry) and says how long it waited —
/// the time it really waited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_fails_start_up_within_connect_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket);
        }
    });
    let start = Instant::now();
    let err = Forze::builder()
        .redis(config(format!("redis://127.0.0.1:{port}")))
        .counter("n", CounterRoute::new("f:n"))
        .allow_unwired_annotations()
        .build()
        .await
        .unwrap_err();
    let waited = start.elapsed();
    held.abort();
    let message = err.to_string();
    let bound = TIMEOUT * 2;
    assert!(
        waited >= bound && waited <= bound + SLACK,
        "start-up took {waited:?}: {message}"
    );
    assert!(message.contains(&format!("within {bound:?}")), "{message}");
}
