//! `#[cached]` against hand-written redis-rs code, on a redis-server this bench starts itself.
//!
//! ```sh
//! cargo bench -p forze-tests --bench cache
//! ```
//!
//! Each scenario runs for a fixed time at 1 and at 64 concurrent tasks; the baseline and forze
//! alternate over several rounds (taking turns going first) and the median throughput of each is
//! reported, with the median of the per-round ratios
//! and the Redis commands per operation counted from `INFO commandstats`. forze runs with
//! `RedisConfig`'s defaults (one multiplexed connection, as the baselines);
//! `FORZE_BENCH_MAX_SIZE=n` sets its `max_size`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use forze_runtime::{cached, CacheRoute, Forze};
use forze_tests::bench::{
    command_calls, command_usec, median, profile, ratio_spread, run, user, Scenario, User,
};
use forze_tests::RedisServer;
use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};

#[cached(cache = "users", key = "user:{id}", ttl = "10m")]
async fn get_user(id: u64) -> Result<User, std::io::Error> {
    Ok(user(id))
}

/// The hand-written baseline of a hit: GET + JSON decode.
async fn raw_hit<C: ConnectionLike>(conn: &mut C, id: u64) -> User {
    let key = format!("bench:users/cache/kv/user:{id}");
    let bytes: Vec<u8> = redis::cmd("GET").arg(&key).query_async(conn).await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The hand-written baseline of a miss: GET (nil), compute, SET PX.
async fn raw_miss<C: ConnectionLike>(conn: &mut C, id: u64) -> User {
    let key = format!("bench:raw/cache/kv/user:{id}");
    let found: Option<Vec<u8>> = redis::cmd("GET").arg(&key).query_async(conn).await.unwrap();
    if let Some(bytes) = found {
        return serde_json::from_slice(&bytes).unwrap();
    }
    let u = user(id);
    let bytes = serde_json::to_vec(&u).unwrap();
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg(bytes)
        .arg("PX")
        .arg(600_000)
        .query_async(conn)
        .await
        .unwrap();
    u
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    RawHit,
    ManagedHit,
    CachedHit,
    RawMiss,
    ManagedMiss,
    CachedMiss,
}

const HOT_KEYS: u64 = 1000;

#[derive(Clone)]
struct World {
    forze: Forze,
    conn: MultiplexedConnection,
    /// What hand-written production code would use: reconnecting, with a response timeout.
    manager: ConnectionManager,
    next_miss: Arc<AtomicU64>,
}

impl Scenario for World {
    type Op = Op;

    fn forze(&self) -> &Forze {
        &self.forze
    }

    async fn step(&mut self, op: Op, i: u64, _t: u64) {
        let id = i % HOT_KEYS;
        let fresh = || self.next_miss.fetch_add(1, Ordering::Relaxed);
        match op {
            Op::RawHit => std::hint::black_box(raw_hit(&mut self.conn, id).await),
            Op::ManagedHit => std::hint::black_box(raw_hit(&mut self.manager, id).await),
            Op::CachedHit => std::hint::black_box(get_user(id).await.unwrap()),
            Op::RawMiss => {
                let id = fresh();
                std::hint::black_box(raw_miss(&mut self.conn, id).await)
            }
            Op::ManagedMiss => {
                let id = fresh();
                std::hint::black_box(raw_miss(&mut self.manager, id).await)
            }
            Op::CachedMiss => std::hint::black_box(get_user(fresh()).await.unwrap()),
        };
    }
}

#[tokio::main]
async fn main() {
    let server = RedisServer::start();
    let forze = Forze::builder()
        .redis(forze_tests::bench::bench_config(server.url()))
        .cache("users", CacheRoute::new("bench:users"))
        .build()
        .await
        .unwrap();
    let mut conn = server.client().await;
    let manager = ConnectionManager::new_with_config(
        redis::Client::open(server.url()).unwrap(),
        ConnectionManagerConfig::new().set_response_timeout(Some(Duration::from_secs(5))),
    )
    .await
    .unwrap();
    // Warm the hot keys through forze, so both hit paths read the same entries.
    forze
        .scope(async {
            for id in 0..HOT_KEYS {
                get_user(id).await.unwrap();
            }
        })
        .await;
    let world = World {
        forze: forze.clone(),
        conn: conn.clone(),
        manager,
        next_miss: Arc::new(AtomicU64::new(1_000_000)),
    };
    // FORZE_BENCH_PROFILE=raw-hit|managed-hit|cached-hit runs FORZE_BENCH_OPS (default 20 000)
    // hits from one task and exits: for `valgrind --tool=callgrind`, whose instruction counts
    // (less those of a run with FORZE_BENCH_OPS=0) give the cost per hit on each side.
    let profiled = profile(&world, |side| match side {
        "raw-hit" => Op::RawHit,
        "managed-hit" => Op::ManagedHit,
        _ => Op::CachedHit,
    });
    if profiled.await {
        return;
    }
    let rounds = 7;
    let dur = Duration::from_millis(800);
    println!("| scenario | tasks | redis-rs multiplexed ops/s | redis-rs ConnectionManager + timeout ops/s | #[cached] ops/s | ratio vs multiplexed, median (min–max) | ratio vs manager, median (min–max) | commands/op raw | commands/op #[cached] | server µs/op raw | server µs/op #[cached] |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (name, raw_op, managed_op, ours_op) in [
        ("hit", Op::RawHit, Op::ManagedHit, Op::CachedHit),
        ("miss", Op::RawMiss, Op::ManagedMiss, Op::CachedMiss),
    ] {
        for tasks in [1usize, 64, 256] {
            // FORZE_BENCH_ONLY=miss-64 runs one scenario (e.g. under a profiler).
            if std::env::var("FORZE_BENCH_ONLY").is_ok_and(|o| o != format!("{name}-{tasks}")) {
                continue;
            }
            let (mut raw, mut managed, mut ours) = (Vec::new(), Vec::new(), Vec::new());
            let (mut vs_raw, mut vs_managed) = (Vec::new(), Vec::new());
            let (mut raw_cmds, mut raw_ops, mut our_cmds, mut our_ops) = (0, 0, 0, 0);
            let (mut raw_usec, mut our_usec) = (0, 0);
            for round in 0..rounds {
                // The three sides take turns going first, so that no side always runs on a
                // server that the one before it just warmed (or grew).
                let (mut r, mut g, mut o) = (0.0, 0.0, 0.0);
                for side in 0..3 {
                    match (side + round) % 3 {
                        0 => {
                            let c0 = command_calls(&mut conn, &["get", "set", "evalsha"]).await;
                            let u0 = command_usec(&mut conn, &["get", "set", "evalsha"]).await;
                            let (v, n) = run(&world, raw_op, tasks, dur).await;
                            raw_cmds +=
                                command_calls(&mut conn, &["get", "set", "evalsha"]).await - c0;
                            raw_usec +=
                                command_usec(&mut conn, &["get", "set", "evalsha"]).await - u0;
                            raw_ops += n;
                            r = v;
                        }
                        1 => {
                            let c0 = command_calls(&mut conn, &["get", "set", "evalsha"]).await;
                            let u0 = command_usec(&mut conn, &["get", "set", "evalsha"]).await;
                            let (v, n) = run(&world, ours_op, tasks, dur).await;
                            our_cmds +=
                                command_calls(&mut conn, &["get", "set", "evalsha"]).await - c0;
                            our_usec +=
                                command_usec(&mut conn, &["get", "set", "evalsha"]).await - u0;
                            our_ops += n;
                            o = v;
                        }
                        _ => {
                            g = run(&world, managed_op, tasks, dur).await.0;
                        }
                    }
                }
                raw.push(r);
                managed.push(g);
                ours.push(o);
                vs_raw.push(o / r);
                vs_managed.push(o / g);
            }
            let (r, g, o) = (median(raw), median(managed), median(ours));
            println!(
                "| {name} | {tasks} | {r:.0} | {g:.0} | {o:.0} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
                ratio_spread(vs_raw),
                ratio_spread(vs_managed),
                raw_cmds as f64 / raw_ops as f64,
                our_cmds as f64 / our_ops as f64,
                raw_usec as f64 / raw_ops as f64,
                our_usec as f64 / our_ops as f64
            );
        }
    }
    drop(server);
}
