//! forze on a local Redis Cluster (3 masters, 3 replicas, started by this bench) against the
//! raw redis-rs cluster client: `#[cached]` hit and miss, a document hit, a fixed-window
//! `#[rate_limited]` check and an `#[idempotent]` replay, each beside a raw cluster `GET` +
//! decode (the miss beside a raw `GET` + `SET`), on a raw cluster client as it comes and on one
//! with a 5 s response timeout (as production code would have; forze bounds every call too).
//!
//! ```sh
//! cargo bench -p forze-tests --bench cluster
//! ```
//!
//! Same method as `benches/cache.rs`: fixed-time runs, the sides alternating over rounds, the
//! median and spread of per-round ratios; commands per operation and server µs per operation
//! summed over the masters' `INFO commandstats`. forze runs with `RedisConfig`'s defaults.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use forze_runtime::document::{Documents, MemoryDocumentStore};
use forze_runtime::{
    cached, idempotent, rate_limited, CacheRoute, DocumentSpec, Forze, IdempotencyError,
    IdempotencyRoute, LimiterRoute, RateLimited,
};
use forze_tests::bench::{
    command_calls, command_usec, median, profile, ratio_spread, run, user, Scenario, User,
};
use forze_tests::RedisCluster;
use redis::aio::MultiplexedConnection;
use redis::cluster_async::ClusterConnection;
use serde::{Deserialize, Serialize};

#[derive(Debug)]
enum AppError {
    Limited,
    Idem,
}

impl From<RateLimited> for AppError {
    fn from(_: RateLimited) -> Self {
        AppError::Limited
    }
}

impl From<IdempotencyError> for AppError {
    fn from(_: IdempotencyError) -> Self {
        AppError::Idem
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, DocumentSpec)]
#[document(name = "projects", cache(name = "projects", ttl = "10m"))]
struct Project {
    #[document(id)]
    id: u64,
    #[document(version)]
    rev: u64,
    name: String,
}

#[cached(cache = "users", key = "user:{id}", ttl = "10m")]
async fn get_user(id: u64) -> Result<User, std::io::Error> {
    Ok(user(id))
}

#[rate_limited(limiter = "api", key = "user:{user}", limit = 1000000000, per = "1h")]
async fn limited(user: u64) -> Result<u64, AppError> {
    Ok(user)
}

#[idempotent(store = "default", operation = "pay", key = key)]
async fn pay(key: u64, amount: u64) -> Result<u64, AppError> {
    Ok(amount)
}

const HOT: u64 = 1000;

#[derive(Clone, Copy, PartialEq)]
enum Op {
    RawGet,
    RawMiss,
    /// The raw side on a cluster client with a response timeout (5 s), as production code has.
    Timed(bool),
    CachedHit,
    CachedMiss,
    DocGet,
    Limited,
    Replay,
}

/// The commands a side's client sends (scripts' own commands are counted under their names).
fn counted(op: Op) -> &'static [&'static str] {
    match op {
        Op::RawGet | Op::CachedHit | Op::DocGet | Op::Timed(false) => &["get"],
        Op::RawMiss | Op::CachedMiss | Op::Timed(true) => &["get", "set", "evalsha"],
        Op::Limited => &["incrby", "pexpireat"],
        Op::Replay => &["set", "evalsha"],
    }
}

#[derive(Clone)]
struct World {
    forze: Forze,
    conn: ClusterConnection,
    timed: ClusterConnection,
    repo: Documents<Project, MemoryDocumentStore<Project>>,
    next_miss: Arc<AtomicU64>,
}

impl Scenario for World {
    type Op = Op;

    fn forze(&self) -> &Forze {
        &self.forze
    }

    /// The timed raw side is the raw side on the client with a response timeout.
    fn for_task(&self, op: Op) -> (Self, Op) {
        let mut w = self.clone();
        match op {
            Op::Timed(miss) => {
                std::mem::swap(&mut w.conn, &mut w.timed);
                (w, if miss { Op::RawMiss } else { Op::RawGet })
            }
            other => (w, other),
        }
    }

    async fn step(&mut self, op: Op, i: u64, t: u64) {
        let w = self;
        match op {
            Op::RawGet => {
                let key = format!("bench:users/cache/kv/user:{}", i % HOT);
                let v: Vec<u8> = redis::cmd("GET")
                    .arg(key)
                    .query_async(&mut w.conn)
                    .await
                    .unwrap();
                std::hint::black_box(serde_json::from_slice::<User>(&v).unwrap());
            }
            Op::RawMiss => {
                let id = w.next_miss.fetch_add(1, Ordering::Relaxed);
                let key = format!("bench:raw/cache/kv/user:{id}");
                let found: Option<Vec<u8>> = redis::cmd("GET")
                    .arg(&key)
                    .query_async(&mut w.conn)
                    .await
                    .unwrap();
                if found.is_none() {
                    let bytes = serde_json::to_vec(&user(id)).unwrap();
                    let _: () = redis::cmd("SET")
                        .arg(&key)
                        .arg(bytes)
                        .arg("PX")
                        .arg(600_000)
                        .query_async(&mut w.conn)
                        .await
                        .unwrap();
                }
            }
            Op::CachedHit => {
                std::hint::black_box(get_user(i % HOT).await.unwrap());
            }
            Op::CachedMiss => {
                let id = w.next_miss.fetch_add(1, Ordering::Relaxed);
                std::hint::black_box(get_user(id).await.unwrap());
            }
            Op::DocGet => {
                std::hint::black_box(w.repo.get(&(i % 100)).await.unwrap().unwrap());
            }
            Op::Limited => {
                limited(t).await.unwrap();
            }
            Op::Replay => {
                pay(i % HOT, 5).await.unwrap();
            }
            Op::Timed(_) => unreachable!("`run` turns it into the raw side on the timed client"),
        }
    }
}

/// `(calls, usec)` of `names` summed over the masters.
async fn stats(masters: &mut [MultiplexedConnection], names: &[&str]) -> (u64, u64) {
    let (mut calls, mut usec) = (0, 0);
    for m in masters.iter_mut() {
        calls += command_calls(m, names).await;
        usec += command_usec(m, names).await;
    }
    (calls, usec)
}

#[tokio::main]
async fn main() {
    let cluster = RedisCluster::start().await;
    let forze = Forze::builder()
        .redis(forze_tests::bench::bench_config(cluster.url()))
        .cache("users", CacheRoute::new("bench:users"))
        .cache("projects", CacheRoute::new("bench:projects"))
        .limiter("api", LimiterRoute::new("bench:rl"))
        .idempotency("default", IdempotencyRoute::new("bench:idem"))
        .build()
        .await
        .unwrap();
    let repo = forze.documents(MemoryDocumentStore::new()).unwrap();
    for id in 0..100 {
        let p = Project {
            id,
            rev: 0,
            name: format!("project {id}"),
        };
        repo.create(p).await.unwrap();
    }
    forze
        .scope(async {
            for k in 0..HOT {
                get_user(k).await.unwrap();
                pay(k, 5).await.unwrap();
            }
        })
        .await;
    let mut masters = Vec::new();
    for node in &cluster.nodes[..3] {
        masters.push(node.server.client().await);
    }
    let world = World {
        forze: forze.clone(),
        conn: cluster.client().await,
        timed: {
            let nodes: Vec<String> = cluster.nodes.iter().map(|n| n.server.url()).collect();
            redis::cluster::ClusterClientBuilder::new(nodes)
                .response_timeout(Duration::from_secs(5))
                .build()
                .unwrap()
                .get_async_connection()
                .await
                .unwrap()
        },
        repo,
        next_miss: Arc::new(AtomicU64::new(1_000_000)),
    };
    // FORZE_BENCH_PROFILE=raw-get|cached-hit: one task's operations, for callgrind.
    let profiled = profile(&world, |side| {
        if side == "raw-get" {
            Op::RawGet
        } else {
            Op::CachedHit
        }
    });
    if profiled.await {
        return;
    }
    let dur = Duration::from_millis(800);
    println!("| scenario (cluster) | tasks | raw redis-rs cluster ops/s | raw with a 5 s response timeout ops/s | forze ops/s | ratio vs raw, median (min–max) | ratio vs raw with timeout | commands/op raw | commands/op forze | server µs/op raw | server µs/op forze |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (name, raw_op, op) in [
        (
            "#[cached] hit (raw: GET + decode)",
            Op::RawGet,
            Op::CachedHit,
        ),
        (
            "#[cached] miss (raw: GET + SET)",
            Op::RawMiss,
            Op::CachedMiss,
        ),
        (
            "document get, hit (raw: GET + decode)",
            Op::RawGet,
            Op::DocGet,
        ),
        (
            "rate_limited, fixed window (raw: GET + decode)",
            Op::RawGet,
            Op::Limited,
        ),
        (
            "idempotent, replay (raw: GET + decode)",
            Op::RawGet,
            Op::Replay,
        ),
    ] {
        for tasks in [1usize, 64] {
            let (mut raw, mut timed, mut ours) = (Vec::new(), Vec::new(), Vec::new());
            let (mut ratios, mut timed_ratios) = (Vec::new(), Vec::new());
            let (mut raw_stats, mut our_stats, mut raw_ops, mut our_ops) = ((0, 0), (0, 0), 0, 0);
            let timed_op = Op::Timed(raw_op == Op::RawMiss);
            for round in 0..5 {
                // The three sides take turns going first.
                let (mut r, mut g, mut o) = (0.0, 0.0, 0.0);
                for side in 0..3 {
                    let which = (side + round) % 3;
                    let run_op = [op, raw_op, timed_op][which];
                    let (c0, u0) = stats(&mut masters, counted(run_op)).await;
                    let (rate, n) = run(&world, run_op, tasks, dur).await;
                    let (c1, u1) = stats(&mut masters, counted(run_op)).await;
                    match which {
                        0 => {
                            o = rate;
                            our_stats = (our_stats.0 + c1 - c0, our_stats.1 + u1 - u0);
                            our_ops += n;
                        }
                        1 => {
                            r = rate;
                            raw_stats = (raw_stats.0 + c1 - c0, raw_stats.1 + u1 - u0);
                            raw_ops += n;
                        }
                        _ => g = rate,
                    }
                }
                raw.push(r);
                timed.push(g);
                ours.push(o);
                ratios.push(o / r);
                timed_ratios.push(o / g);
            }
            println!(
                "| {name} | {tasks} | {:.0} | {:.0} | {:.0} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
                median(raw),
                median(timed),
                median(ours),
                ratio_spread(ratios),
                ratio_spread(timed_ratios),
                raw_stats.0 as f64 / raw_ops as f64,
                our_stats.0 as f64 / our_ops as f64,
                raw_stats.1 as f64 / raw_ops as f64,
                our_stats.1 as f64 / our_ops as f64,
            );
        }
    }
    drop(cluster);
}
