//! Redis-only behaviour: round trips per operation, outages and policies, corrupt entries,
//! what the keys look like on the server, auth and redaction, script reloads.

use std::time::Duration;

use forze_runtime::codec::fingerprint;
use forze_runtime::ports::{Algorithm, Quota};
use forze_runtime::{
    Begin, CacheRoute, Error, FailurePolicy, Forze, LimiterFailure, LimiterRoute, RedisConfig,
};
use forze_tests::monitor::Monitor;
use forze_tests::{redis_config, redis_env, routes, RedisServer};
use redis::AsyncCommands;

async fn one_round_trip<F, Fut, T>(mon: &mut Monitor, what: &str, expected: &str, op: F) -> T
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    commands_sent(mon, what, &[expected], op).await
}

/// The commands `expected`, in order.
async fn commands_sent<F, Fut, T>(mon: &mut Monitor, what: &str, expected: &[&str], op: F) -> T
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let _ = mon.commands().await;
    let out = op().await;
    let cmds = mon.commands().await;
    assert_eq!(cmds, expected, "{what}: commands sent");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_is_one_round_trip() {
    let env = redis_env().await;
    let server = env.server.as_ref().unwrap();
    let f = &env.forze;
    let mut mon = Monitor::start(server).await;

    let n = f.counter("n").unwrap();
    one_round_trip(&mut mon, "counter incr", "INCRBY", || n.incr())
        .await
        .unwrap();
    one_round_trip(&mut mon, "counter incr_batch", "INCRBY", || n.incr_batch(5))
        .await
        .unwrap();
    one_round_trip(&mut mon, "counter reset", "SET", || n.reset())
        .await
        .unwrap();

    // The fixed window's first call in a window also sets the counter's expiry.
    for (route, sent) in [
        ("fixed", &["INCRBY", "PEXPIREAT"][..]),
        ("fixed", &["INCRBY"]),
        ("sliding", &["EVALSHA"]),
        ("gcra", &["EVALSHA"]),
    ] {
        let l = f.limiter(route).unwrap();
        let d = commands_sent(&mut mon, route, sent, || l.check("u"))
            .await
            .unwrap();
        assert!(d.allowed);
    }

    // The server's conditional commands where it has them (Valkey ≥ 8.1 / 9.0, Redis ≥ 8.4),
    // a script elsewhere: one round trip either way.
    let native = f.health().await.native_commands;
    let set_ifeq = if native.contains(&"SET IFEQ") {
        "SET"
    } else {
        "EVALSHA"
    };
    let delete = if native.contains(&"DELIFEQ") {
        "DELIFEQ"
    } else if native.contains(&"DELEX IFEQ") {
        "DELEX"
    } else {
        "EVALSHA"
    };
    let i = f.idempotency("i").unwrap();
    let fp = fingerprint(&1).unwrap();
    let Begin::Proceed(claim) = one_round_trip(&mut mon, "idempotency begin", "SET", || {
        i.begin("op", "k", &fp)
    })
    .await
    .unwrap() else {
        panic!("first begin must proceed")
    };
    one_round_trip(&mut mon, "idempotency release", delete, || claim.release())
        .await
        .unwrap();
    let Begin::Proceed(claim) = i.begin("op", "k", &fp).await.unwrap() else {
        panic!("after release, begin must proceed")
    };
    one_round_trip(&mut mon, "idempotency commit", set_ifeq, || {
        claim.commit(&"r")
    })
    .await
    .unwrap();
    let replay = one_round_trip(&mut mon, "idempotency replay", "SET", || {
        i.begin("op", "k", &fp)
    })
    .await
    .unwrap();
    assert!(matches!(replay, Begin::Replay(_)));

    let l = f.lock("l").unwrap();
    let g = one_round_trip(&mut mon, "lock acquire", "SET", || l.try_acquire("j"))
        .await
        .unwrap()
        .unwrap();
    one_round_trip(&mut mon, "lock extend", set_ifeq, || {
        g.extend(Duration::from_secs(5))
    })
    .await
    .unwrap();
    one_round_trip(&mut mon, "lock release", delete, || g.release())
        .await
        .unwrap();

    let c = f.cache("c").unwrap();
    one_round_trip(&mut mon, "cache set", "SET", || c.set("k", &1))
        .await
        .unwrap();
    one_round_trip(&mut mon, "cache get", "GET", || c.get::<u32>("k"))
        .await
        .unwrap();
    one_round_trip(&mut mon, "cache get_many", "MGET", || {
        c.get_many::<u32>(&["k", "x"])
    })
    .await
    .unwrap();
    one_round_trip(&mut mon, "cache invalidate", "DEL", || c.invalidate("k"))
        .await
        .unwrap();
    one_round_trip(&mut mon, "cache set_version", "EVALSHA", || {
        c.set_version("d", 1, "b")
    })
    .await
    .unwrap();
    let cur = one_round_trip(&mut mon, "cache get_current", "GET", || {
        c.get_current::<String>("d")
    })
    .await
    .unwrap();
    assert_eq!(cur.unwrap().version, 1);

    // set_many is one pipeline: several SETs, one round trip (one write, one read).
    let _ = mon.commands().await;
    c.set_many(&[("a", 1), ("b", 2)]).await.unwrap();
    assert_eq!(mon.commands().await, vec!["SET", "SET"]);
}

#[tokio::test]
async fn unreachable_server_fails_start_up_clearly() {
    let mut server = RedisServer::start();
    let url = format!("redis://:hunter2@127.0.0.1:{}", server.port());
    server.stop();
    let cfg = RedisConfig::new(url)
        .max_size(2)
        .connect_timeout(Duration::from_millis(500));
    let err = Forze::builder().redis(cfg).build().await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert!(err.is_unavailable());
    assert!(
        text.contains(&format!("127.0.0.1:{}", server.port())),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "password leaked: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_follows_each_ports_policy_and_recovers() {
    let mut server = RedisServer::start();
    let quota = Quota::new(5, Duration::from_secs(60), Algorithm::Gcra);
    let f = routes(
        Forze::builder().redis(redis_config(&server).socket_timeout(Duration::from_millis(500))),
    )
    .limiter(
        "deny",
        LimiterRoute::new("t:deny")
            .quota(quota)
            .on_unavailable(LimiterFailure::Deny),
    )
    .limiter(
        "error",
        LimiterRoute::new("t:err")
            .quota(quota)
            .on_unavailable(LimiterFailure::Error),
    )
    .limiter("allow", LimiterRoute::new("t:allow").quota(quota))
    .build()
    .await
    .unwrap();
    let cache = f.cache("c").unwrap();
    cache.set("k", &1).await.unwrap();
    assert!(f.health().await.reachable);

    server.stop();

    // Cache: fail-open reads miss and writes are skipped; fail-closed returns the error.
    assert_eq!(cache.get::<u32>("k").await.unwrap(), None);
    cache.set("k", &2).await.unwrap();
    let closed = f
        .cache("c-closed")
        .unwrap()
        .get::<u32>("k")
        .await
        .unwrap_err();
    assert!(closed.is_unavailable(), "{closed:?}");
    assert!(closed.to_string().contains("c-closed"), "{closed}");
    // Invalidation never fails silently.
    assert!(cache.invalidate("k").await.unwrap_err().is_unavailable());
    // Counters, idempotency and locks fail closed.
    assert!(f
        .counter("n")
        .unwrap()
        .incr()
        .await
        .unwrap_err()
        .is_unavailable());
    let fp = fingerprint(&1).unwrap();
    assert!(f
        .idempotency("i")
        .unwrap()
        .begin("op", "k", &fp)
        .await
        .unwrap_err()
        .is_unavailable());
    assert!(f
        .lock("l")
        .unwrap()
        .try_acquire("j")
        .await
        .unwrap_err()
        .is_unavailable());
    // Limiters follow their policy.
    assert!(
        f.limiter("allow")
            .unwrap()
            .check("u")
            .await
            .unwrap()
            .allowed
    );
    let denied = f.limiter("deny").unwrap().check("u").await.unwrap();
    assert!(!denied.allowed && denied.retry_after.is_some());
    assert!(f
        .limiter("error")
        .unwrap()
        .check("u")
        .await
        .unwrap_err()
        .is_unavailable());
    // Health says so, with the reason.
    let h = f.health().await;
    assert!(!h.reachable);
    assert_eq!(h.state, "down");
    assert!(h.error.is_some());

    // The server comes back (empty, without our scripts): the runtime reconnects and reloads.
    server.restart();
    forze_tests::eventually(Duration::from_secs(10), "runtime reconnects", || async {
        f.health().await.reachable.then_some(())
    })
    .await;
    forze_tests::eventually(
        Duration::from_secs(10),
        "all connections usable",
        || async {
            let mut ok = true;
            for _ in 0..4 {
                ok &= f.limiter("error").unwrap().check("u2").await.is_ok();
            }
            ok.then_some(())
        },
    )
    .await;
    assert_eq!(f.counter("n").unwrap().incr().await.unwrap(), 1);
    cache.set("k", &3).await.unwrap();
    assert_eq!(cache.get::<u32>("k").await.unwrap(), Some(3));
}

#[tokio::test]
async fn corrupt_entries_read_as_a_miss_and_get_overwritten() {
    let env = redis_env().await;
    let server = env.server.as_ref().unwrap();
    let mut raw = server.client().await;
    let c = env.forze.cache("c").unwrap();
    let _: () = raw
        .set("t:c/cache/kv/user:1", b"\xff\x00not json")
        .await
        .unwrap();
    assert_eq!(c.get::<(String, u32)>("user:1").await.unwrap(), None);
    c.set("user:1", &("Ada", 36)).await.unwrap();
    assert_eq!(
        c.get::<(String, u32)>("user:1").await.unwrap(),
        Some(("Ada".into(), 36))
    );
    // A current copy without a version, or with a body that does not decode, is a miss too;
    // the pointer and the bodies are not read.
    let _: () = raw.set("t:c/cache/pointer/{doc}", "7").await.unwrap();
    let _: () = raw
        .set("t:c/cache/body/{doc}/7", "\"seven\"")
        .await
        .unwrap();
    assert!(c.get_current::<String>("doc").await.unwrap().is_none());
    for garbage in [
        "garbage",
        "x7:\"seven\"",
        "7:not json",
        "18446744073709551616:\"x\"",
    ] {
        let _: () = raw.set("t:c/cache/current/{doc}", garbage).await.unwrap();
        assert!(
            c.get_current::<String>("doc").await.unwrap().is_none(),
            "{garbage}"
        );
    }
    let _: () = raw
        .set("t:c/cache/current/{doc}", "7:\"seven\"")
        .await
        .unwrap();
    let cur = c.get_current::<String>("doc").await.unwrap().unwrap();
    assert_eq!((cur.version, cur.value.as_str()), (7, "seven"));
}

#[tokio::test]
async fn stored_keys_follow_the_layout_and_never_escape_their_part() {
    let env = redis_env().await;
    let server = env.server.as_ref().unwrap();
    let f = &env.forze;
    let c = f.cache("c").unwrap();
    let long = forze_tests::contract::very_long();
    let mut inputs: Vec<&str> = forze_tests::contract::HOSTILE.to_vec();
    inputs.push(&long);
    for key in &inputs {
        c.set(key, &1).await.unwrap();
        f.counter("n").unwrap().at(key).incr().await.unwrap();
        f.lock("l").unwrap().try_acquire(key).await.unwrap();
        f.limiter("gcra").unwrap().check(key).await.unwrap();
        if !key.is_empty() {
            let fp = fingerprint(key).unwrap();
            let _ = f
                .idempotency("i")
                .unwrap()
                .begin(key, key, &fp)
                .await
                .unwrap();
        }
    }
    f.cache("c-tenant")
        .unwrap()
        .with_tenant("ac/me")
        .set("k", &1)
        .await
        .unwrap();
    let mut raw = server.client().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut raw)
        .await
        .unwrap();
    let count = |prefix: &str| keys.iter().filter(|k| k.starts_with(prefix)).count();
    let n = inputs.len();
    assert_eq!(count("t:c/cache/kv/"), n);
    assert_eq!(count("t:n/"), n);
    assert_eq!(count("t:l/lock/"), n);
    assert_eq!(count("t:lg/ratelimit/"), n);
    assert_eq!(count("t:i/"), n - 1);
    assert_eq!(
        keys.iter()
            .filter(|k| *k == "t:ct/tenant/ac%2Fme/cache/kv/k")
            .count(),
        1
    );
    for key in &keys {
        let segments: Vec<&str> = key.split('/').collect();
        let expected = match segments[0] {
            // `{ns}/cache/kv/{key}`; `{ns}/lock/{key}`; a GCRA state per quota:
            // `{ns}/ratelimit/{key}/gcra-{limit}-{period}`.
            "t:c" | "t:lg" => 4,
            "t:l" => 3,
            "t:n" => 2,
            "t:i" => 3,
            "t:ct" => 6,
            other => panic!("key outside every namespace: {key:?} ({other})"),
        };
        assert_eq!(segments.len(), expected, "{key:?}");
        assert!(
            key.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:%/~".contains(&b)),
            "unsafe byte in {key:?}"
        );
        assert!(key.len() < 300, "overlong key {key:?}");
    }
}

#[tokio::test]
async fn password_is_used_and_never_shown() {
    let server = RedisServer::start_with(&["--requirepass", "s3cret-pw"]);
    let url = format!("redis://:s3cret-pw@127.0.0.1:{}/0", server.port());
    let f = Forze::builder()
        .redis(RedisConfig::new(url).max_size(1))
        .counter("n", forze_runtime::CounterRoute::new("t:n"))
        .build()
        .await
        .unwrap();
    assert_eq!(f.counter("n").unwrap().incr().await.unwrap(), 1);
    let h = f.health().await;
    assert!(h.reachable);
    assert_eq!(h.connections, 1);
    assert!(
        h.config.contains("***") && !h.config.contains("s3cret-pw"),
        "{}",
        h.config
    );
    assert!(!format!("{:?}", RedisConfig::new("redis://u:s3cret-pw@h")).contains("s3cret-pw"));

    // A wrong password is a start-up error.
    let bad = format!("redis://:wrong@127.0.0.1:{}", server.port());
    let err = Forze::builder()
        .redis(RedisConfig::new(bad).max_size(1))
        .build()
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("wrong@"), "{err}");
    assert!(
        matches!(&err, Error::Connect { source, .. } if source.kind == forze_runtime::BackendErrorKind::Auth),
        "a wrong password is an authentication failure, not an unreachable server: {err:?}"
    );
    assert!(
        err.to_string().contains("check the user and password"),
        "{err}"
    );
}

/// An ACL user limited to some commands: what it may run works, what it may not says which
/// command was refused, and its password appears nowhere.
#[tokio::test]
async fn an_acl_user_runs_what_it_may_and_is_told_what_it_may_not() {
    let server = RedisServer::start();
    let mut admin = server.client().await;
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", "app", "on", ">app-s3cret", "~*", "&*", "+@all"])
        .arg(&["-incrby", "-incr", "-info", "-config"])
        .query_async(&mut admin)
        .await
        .unwrap();
    let url = format!("redis://app:app-s3cret@127.0.0.1:{}", server.port());
    let forze = Forze::builder()
        .redis(RedisConfig::new(&url).max_size(1))
        .cache("c", CacheRoute::new("acl:c"))
        .counter("n", forze_runtime::CounterRoute::new("acl:n"))
        .build()
        .await
        .expect("start-up needs no INFO or CONFIG");
    let cache = forze.cache("c").unwrap();
    cache.set("k", &7u32).await.unwrap();
    assert_eq!(cache.get::<u32>("k").await.unwrap(), Some(7));
    let err = forze.counter("n").unwrap().incr().await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("not permitted") && text.contains("incrby"),
        "{text}"
    );
    let health = forze.health().await;
    assert!(health.reachable, "{health:?}");
    assert_eq!(
        (health.server.as_deref(), health.persistence),
        (None, "unknown")
    );
    for shown in [text, format!("{err:?}"), format!("{health:?}")] {
        assert!(!shown.contains("app-s3cret"), "{shown}");
    }
}

#[tokio::test]
async fn scripts_are_reloaded_after_a_flush() {
    let env = redis_env().await;
    let mut raw = env.server.as_ref().unwrap().client().await;
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut raw)
        .await
        .unwrap();
    let l = env.forze.limiter("gcra").unwrap();
    assert!(l.check("u").await.unwrap().allowed);
    let c = env.forze.cache("c").unwrap();
    assert!(c.set_version("d", 1, &"x").await.unwrap());
}

#[tokio::test]
async fn fail_closed_cache_reports_and_fail_open_cache_hides_a_wrong_type() {
    // A key of the wrong type written by another program: a protocol error, not a panic.
    let env = redis_env().await;
    let mut raw = env.server.as_ref().unwrap().client().await;
    let _: () = raw.hset("t:cc/cache/kv/k", "f", "v").await.unwrap();
    let _: () = raw.hset("t:c/cache/kv/k", "f", "v").await.unwrap();
    let err = env
        .forze
        .cache("c-closed")
        .unwrap()
        .get::<u32>("k")
        .await
        .unwrap_err();
    assert!(!err.is_unavailable());
    assert!(err.to_string().contains("key \"k\""), "{err}");
    assert_eq!(
        env.forze.cache("c").unwrap().get::<u32>("k").await.unwrap(),
        None
    );
    let _ = (CacheRoute::new("x"), FailurePolicy::FailOpen);
}

/// Health names the server as it is (Valkey reports `redis_version:7.2.4` too: its own version
/// is read first), and `valkey://` URLs connect.
#[tokio::test]
async fn health_names_the_server_and_valkey_urls_connect() {
    let server = RedisServer::start();
    let mut admin = server.client().await;
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut admin)
        .await
        .unwrap();
    let expected = forze_runtime::adapters::redis::ServerInfo::parse(&info)
        .expect("the server names its version");
    let is_valkey = forze_tests::server::valkey();
    assert_eq!(
        expected.product == forze_runtime::adapters::redis::Product::Valkey,
        is_valkey,
        "{info}"
    );
    for scheme in ["redis", "valkey"] {
        let url = format!("{scheme}://127.0.0.1:{}", server.port());
        let f = Forze::builder()
            .redis(RedisConfig::new(url).max_size(1))
            .build()
            .await
            .unwrap_or_else(|e| panic!("{scheme}:// connects: {e}"));
        let h = f.health().await;
        assert_eq!(h.server, Some(expected.to_string()), "{h:?}");
        let name = if is_valkey { "valkey " } else { "redis " };
        assert!(
            h.server.as_deref().is_some_and(|s| s.starts_with(name)),
            "{h:?}"
        );
    }
}

/// `native_commands(false)` forces the scripts even where the server has `SET … IFEQ` and
/// `DELIFEQ` (this bites on the Valkey pass of `scripts/test`; Redis 7 has neither).
#[tokio::test]
async fn native_commands_off_runs_the_scripts() {
    let server = RedisServer::start();
    let f = Forze::builder()
        .redis(redis_config(&server).native_commands(false))
        .idempotency("i", forze_runtime::IdempotencyRoute::new("t:i"))
        .lock("l", forze_runtime::LockRoute::new("t:l"))
        .build()
        .await
        .unwrap();
    assert!(f.health().await.native_commands.is_empty());
    let mut mon = Monitor::start(&server).await;
    let fp = fingerprint(&1).unwrap();
    let Begin::Proceed(claim) = f
        .idempotency("i")
        .unwrap()
        .begin("op", "k", &fp)
        .await
        .unwrap()
    else {
        panic!("a first begin proceeds")
    };
    one_round_trip(&mut mon, "idempotency commit", "EVALSHA", || {
        claim.commit(&"r")
    })
    .await
    .unwrap();
    let g = f
        .lock("l")
        .unwrap()
        .try_acquire("j")
        .await
        .unwrap()
        .unwrap();
    one_round_trip(&mut mon, "lock release", "EVALSHA", || g.release())
        .await
        .unwrap();
}

/// A cluster client sends a command again after its connection dropped, even when the server
/// had applied it. Sent twice here on purpose (scripts and the server's own commands, both):
/// a begin that finds its own claim proceeds, a commit that finds its own record is committed,
/// a lock acquire that finds its own token holds the lock; another caller's token does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_sent_again_finds_its_own_write() {
    use forze_runtime::adapters::redis::RedisBackend;
    use forze_runtime::ports::{BeginOutcome, IdempotencyPort, LockPort};
    let server = RedisServer::start();
    for native in [true, false] {
        let backend = RedisBackend::connect(redis_config(&server).native_commands(native))
            .await
            .unwrap();
        let lease = Duration::from_secs(30);
        let key = format!("resend/{native}/idem");
        for _ in 0..2 {
            let begun = backend.begin(&key, "fp", "token-a", lease).await.unwrap();
            assert!(
                matches!(begun, BeginOutcome::Proceed),
                "{native}: {begun:?}"
            );
        }
        let other = backend.begin(&key, "fp", "token-b", lease).await.unwrap();
        assert!(
            matches!(other, BeginOutcome::InProgress),
            "{native}: {other:?}"
        );
        for _ in 0..2 {
            let committed = backend
                .commit(&key, "token-a", "fp", b"snapshot", lease)
                .await
                .unwrap();
            assert!(committed, "{native}: a commit sent again is committed");
        }
        let stale = backend
            .commit(&key, "token-b", "fp", b"other", lease)
            .await
            .unwrap();
        assert!(!stale, "{native}: another owner's commit is refused");
        let lock = format!("resend/{native}/lock");
        for _ in 0..2 {
            assert!(backend.acquire(&lock, "token-a", lease).await.unwrap());
        }
        assert!(!backend.acquire(&lock, "token-b", lease).await.unwrap());
    }
}
