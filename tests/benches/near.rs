//! The near cache: a `#[cached]` near hit against a raw redis-rs `GET` + decode and against
//! redis-rs's own client-side caching (RESP3 `CLIENT TRACKING`, the `cache-aio` feature, which
//! the `cached` crate's Redis stores use) + decode; a miss on a near route against a miss on a
//! plain route; and the invalidation latency between two runtimes, on a redis-server this bench
//! starts itself.
//!
//! ```sh
//! cargo bench -p forze-tests --bench near
//! ```
//!
//! Same method as `benches/cache.rs`: fixed-time runs, alternating, seven rounds (median and
//! spread of per-round ratios), the Redis commands per operation from `INFO commandstats`.
//! forze runs with `RedisConfig`'s defaults; the near route with `NearCache::new(64 << 20)`
//! (`FORZE_BENCH_NEAR_BYTES` sets another `max_bytes`, `FORZE_BENCH_FIRST_USE`
//! `keep_on_first_use()`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use forze_runtime::{cached, CacheRoute, Forze, NearCache};
use forze_tests::bench::{
    command_calls, command_usec, median, profile, ratio_spread, run, server_cpu_usec, user,
    Scenario, User,
};
use forze_tests::RedisServer;
use redis::aio::MultiplexedConnection;

#[cached(cache = "users", key = "user:{id}", ttl = "10m")]
async fn get_user(id: u64) -> Result<User, std::io::Error> {
    Ok(user(id))
}

#[cached(cache = "near_users", key = "user:{id}", ttl = "10m")]
async fn get_near_user(id: u64) -> Result<User, std::io::Error> {
    Ok(user(id))
}

const HOT_KEYS: u64 = 1000;

/// The near route's config: `NearCache::new(64 << 20)`, or `FORZE_BENCH_NEAR_BYTES` for
/// `max_bytes` (a small tier shows what the tier's memory costs a miss), and with
/// `FORZE_BENCH_FIRST_USE` set `keep_on_first_use()` (every miss then keeps its value).
fn near_cache() -> NearCache {
    let bytes = std::env::var("FORZE_BENCH_NEAR_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64 << 20);
    let near = NearCache::new(bytes);
    match std::env::var_os("FORZE_BENCH_FIRST_USE") {
        Some(_) => near.keep_on_first_use(),
        None => near,
    }
}

#[derive(Clone, Copy)]
enum Op {
    RawHit,
    CscHit,
    NearHit,
    PlainMiss,
    NearMiss,
}

#[derive(Clone)]
struct World {
    forze: Forze,
    conn: MultiplexedConnection,
    csc: MultiplexedConnection,
    next_miss: Arc<AtomicU64>,
}

impl Scenario for World {
    type Op = Op;

    fn forze(&self) -> &Forze {
        &self.forze
    }

    async fn step(&mut self, op: Op, i: u64, _t: u64) {
        match op {
            Op::RawHit | Op::CscHit => {
                let key = format!("bench:near/cache/kv/user:{}", i % HOT_KEYS);
                let conn = match op {
                    Op::RawHit => &mut self.conn,
                    _ => &mut self.csc,
                };
                let bytes: Vec<u8> = redis::cmd("GET").arg(key).query_async(conn).await.unwrap();
                std::hint::black_box(serde_json::from_slice::<User>(&bytes).unwrap());
            }
            Op::NearHit => {
                std::hint::black_box(get_near_user(i % HOT_KEYS).await.unwrap());
            }
            Op::PlainMiss => {
                let id = self.next_miss.fetch_add(1, Ordering::Relaxed);
                std::hint::black_box(get_user(id).await.unwrap());
            }
            Op::NearMiss => {
                let id = self.next_miss.fetch_add(1, Ordering::Relaxed);
                std::hint::black_box(get_near_user(id).await.unwrap());
            }
        }
    }
}

async fn runtime(url: String) -> Forze {
    let forze = Forze::builder()
        .redis(forze_tests::bench::bench_config(url))
        .cache("users", CacheRoute::new("bench:users"))
        .cache(
            "near_users",
            CacheRoute::new("bench:near").near(near_cache()),
        )
        .build()
        .await
        .unwrap();
    let started = Instant::now();
    while !forze.near_stats().on {
        assert!(started.elapsed() < Duration::from_secs(10), "tracking on");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    forze
}

const COMMANDS: &[&str] = &["get", "set", "pttl", "evalsha"];

/// One side of a round: its throughput, and its commands, server time in commands and the
/// server's CPU time over the run.
async fn side(world: &World, op: Op, tasks: usize, dur: Duration) -> (f64, u64, u64, u64, u64) {
    let mut stats = world.conn.clone();
    let c0 = command_calls(&mut stats, COMMANDS).await;
    let u0 = command_usec(&mut stats, COMMANDS).await;
    let s0 = server_cpu_usec(&mut stats).await;
    let (v, n) = run(world, op, tasks, dur).await;
    let calls = command_calls(&mut stats, COMMANDS).await - c0;
    let usec = command_usec(&mut stats, COMMANDS).await - u0;
    let cpu_usec = server_cpu_usec(&mut stats).await - s0;
    (v, n, calls, usec, cpu_usec)
}

/// Per side: ops/s of each round, operations, commands and server µs over all rounds.
#[derive(Default)]
struct Tally {
    rates: Vec<f64>,
    ops: u64,
    calls: u64,
    usec: u64,
    cpu_usec: u64,
}

impl Tally {
    fn add(&mut self, (v, n, c, u, s): (f64, u64, u64, u64, u64)) {
        self.rates.push(v);
        self.ops += n;
        self.calls += c;
        self.usec += u;
        self.cpu_usec += s;
    }
    fn per_op(&self, x: u64) -> f64 {
        x as f64 / self.ops.max(1) as f64
    }
}

/// Runs `ops` side by side at `tasks`, seven rounds, each side going first in turn.
async fn compare(world: &World, ops: &[Op], tasks: usize) -> Vec<Tally> {
    let dur = Duration::from_millis(800);
    let mut tallies: Vec<Tally> = ops.iter().map(|_| Tally::default()).collect();
    for round in 0..7 {
        for k in 0..ops.len() {
            let s = (k + round) % ops.len();
            tallies[s].add(side(world, ops[s], tasks, dur).await);
        }
    }
    tallies
}

fn ratios(a: &Tally, b: &Tally) -> Vec<f64> {
    a.rates.iter().zip(&b.rates).map(|(x, y)| x / y).collect()
}

fn only(name: &str) -> bool {
    std::env::var("FORZE_BENCH_ONLY").map_or(true, |o| name.starts_with(&o))
}

/// The time from a write in one runtime returning to the new value read in another that held
/// the old one near: `samples` writes, one at a time.
async fn invalidation_latency(writer: &Forze, reader: &Forze, samples: u64) -> Vec<Duration> {
    let (w, r) = (
        writer.cache("near_users").unwrap(),
        reader.cache("near_users").unwrap(),
    );
    let mut times = Vec::with_capacity(samples as usize);
    w.set("latency", &0u64).await.unwrap();
    for n in 1..=samples {
        // The reader holds the old value near (two reads give the same Arc).
        loop {
            let a = r.get_shared::<u64>("latency").await.unwrap().unwrap();
            let b = r.get_shared::<u64>("latency").await.unwrap().unwrap();
            if *a == n - 1 && Arc::ptr_eq(&a, &b) {
                break;
            }
            tokio::task::yield_now().await;
        }
        w.set("latency", &n).await.unwrap();
        let written = Instant::now();
        loop {
            if *r.get_shared::<u64>("latency").await.unwrap().unwrap() == n {
                break;
            }
            tokio::task::yield_now().await;
        }
        times.push(written.elapsed());
    }
    times
}

#[tokio::main]
async fn main() {
    let server = RedisServer::start();
    let forze = runtime(server.url()).await;
    let conn = server.client().await;
    let csc = redis::Client::open(format!("{}?protocol=resp3", server.url()))
        .unwrap()
        .get_multiplexed_async_connection_with_config(
            &redis::AsyncConnectionConfig::new()
                .set_cache_config(redis::caching::CacheConfig::new()),
        )
        .await
        .unwrap();
    // Warm the hot keys through forze (stored once, read back into the near tier).
    forze
        .scope(async {
            for _ in 0..3 {
                for id in 0..HOT_KEYS {
                    get_near_user(id).await.unwrap();
                }
            }
        })
        .await;
    // And redis-rs's client-side cache, one key at a time: concurrent first reads of a key on
    // a caching connection can hang there (redis-rs 1.8, seen at 64 tasks).
    let mut warm = csc.clone();
    for id in 0..HOT_KEYS {
        let key = format!("bench:near/cache/kv/user:{id}");
        let _: Vec<u8> = redis::cmd("GET")
            .arg(key)
            .query_async(&mut warm)
            .await
            .unwrap();
    }
    let world = World {
        forze: forze.clone(),
        conn,
        csc,
        next_miss: Arc::new(AtomicU64::new(1_000_000)),
    };
    // FORZE_BENCH_PROFILE=raw-hit|csc-hit|near-hit|plain-miss|near-miss runs one side from one
    // task (callgrind).
    let picked = profile(&world, |side| match side {
        "raw-hit" => Op::RawHit,
        "csc-hit" => Op::CscHit,
        "plain-miss" => Op::PlainMiss,
        "near-miss" => Op::NearMiss,
        _ => Op::NearHit,
    })
    .await;
    if picked {
        return;
    }

    println!("| scenario | tasks | redis-rs GET ops/s | redis-rs client-side caching ops/s | #[cached] near ops/s | near vs GET, median (min–max) | near vs client-side caching, median (min–max) | commands/op GET | commands/op client-side caching | commands/op near |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for tasks in [1usize, 64, 256] {
        if !only(&format!("hit-{tasks}")) {
            continue;
        }
        let t = compare(&world, &[Op::RawHit, Op::CscHit, Op::NearHit], tasks).await;
        println!(
            "| hit | {tasks} | {:.0} | {:.0} | {:.0} | {} | {} | {:.2} | {:.2} | {:.3} |",
            median(t[0].rates.clone()),
            median(t[1].rates.clone()),
            median(t[2].rates.clone()),
            ratio_spread(ratios(&t[2], &t[0])),
            ratio_spread(ratios(&t[2], &t[1])),
            t[0].per_op(t[0].calls),
            t[1].per_op(t[1].calls),
            t[2].per_op(t[2].calls),
        );
    }
    println!();
    println!("| scenario | tasks | #[cached] ops/s | #[cached] near route ops/s | near vs plain, median (min–max) | commands/op plain | commands/op near | server µs/op plain | server µs/op near | server CPU µs/op plain | server CPU µs/op near |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for tasks in [1usize, 64, 256] {
        if !only(&format!("miss-{tasks}")) {
            continue;
        }
        let t = compare(&world, &[Op::PlainMiss, Op::NearMiss], tasks).await;
        println!(
            "| miss | {tasks} | {:.0} | {:.0} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            median(t[0].rates.clone()),
            median(t[1].rates.clone()),
            ratio_spread(ratios(&t[1], &t[0])),
            t[0].per_op(t[0].calls),
            t[1].per_op(t[1].calls),
            t[0].per_op(t[0].usec),
            t[1].per_op(t[1].usec),
            t[0].per_op(t[0].cpu_usec),
            t[1].per_op(t[1].cpu_usec),
        );
    }
    if only("latency") {
        let writer = runtime(server.url()).await;
        let mut times = invalidation_latency(&writer, &forze, 2000).await;
        times.sort();
        let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
        println!();
        println!(
            "| invalidation latency, write in A returned → new value read in B | p50 | p99 | max |"
        );
        println!("|---|---|---|---|");
        println!(
            "| {} writes, one at a time | {:?} | {:?} | {:?} |",
            times.len(),
            at(0.5),
            at(0.99),
            times[times.len() - 1]
        );
    }
    drop(server);
}
