//! `#[rate_limited]`, `#[idempotent]` and document reads against a raw redis-rs `GET` + decode,
//! on a redis-server this bench starts itself.
//!
//! ```sh
//! cargo bench -p forze-tests --bench guards
//! ```
//!
//! Same method as `benches/cache.rs`: fixed-time runs, alternating, seven rounds (median and spread of per-round ratios), the
//! Redis commands per operation from `INFO commandstats`. forze runs with `RedisConfig`'s
//! defaults (one connection); `FORZE_BENCH_MAX_SIZE=n` sets its `max_size`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use forze_runtime::document::{Documents, MemoryDocumentStore};
use forze_runtime::ports::{Algorithm, Quota};
use forze_runtime::Limiter;
use forze_runtime::{
    idempotent, rate_limited, CacheRoute, DocumentSpec, Forze, IdempotencyError, IdempotencyRoute,
    LimiterRoute, RateLimited,
};
use forze_tests::bench::{
    command_calls, command_usec, median, profile, ratio_spread, run, Scenario,
};
use forze_tests::RedisServer;
use redis::aio::MultiplexedConnection;
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
    owner: String,
    tags: Vec<String>,
}

type Repo = Documents<Project, MemoryDocumentStore<Project>>;

#[rate_limited(limiter = "api", key = "user:{user}", limit = 1000000000, per = "1h")]
async fn limited(user: u64) -> Result<u64, AppError> {
    Ok(user)
}

#[rate_limited(
    limiter = "api",
    key = "user:{user}",
    limit = 1000000000,
    per = "1h",
    algorithm = "gcra"
)]
async fn limited_gcra(user: u64) -> Result<u64, AppError> {
    Ok(user)
}

#[idempotent(store = "default", operation = "pay", key = key)]
async fn pay(key: u64, amount: u64) -> Result<u64, AppError> {
    Ok(amount)
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    RawGet,
    Limited,
    LimitedGcra,
    IdemNew,
    IdemReplay,
    /// The replay as hand-written code would do it: fingerprint the payload (SHA-256 of its
    /// JSON), send the same `SET key claim NX PX ttl GET`, check the record, decode the result.
    IdemReplayByHand,
    DocGet,
    /// A typed check of one unit against a quota of `limit` per minute.
    Check(Algorithm, u64),
}

const REPLAY_KEYS: u64 = 1000;
/// The commands a scenario's client sends (`INFO commandstats` also counts the commands that
/// scripts run, so count only the client's; a fixed-window check's `PEXPIREAT`, sent once per
/// window and key, is left out).
fn counted(op: Op) -> &'static [&'static str] {
    match op {
        Op::DocGet | Op::RawGet => &["get"],
        Op::Limited => &["incrby"],
        Op::LimitedGcra => &["evalsha"],
        // A begin is a `SET … NX GET`; a commit `SET … IFEQ` or a script.
        Op::IdemNew | Op::IdemReplay | Op::IdemReplayByHand => &["set", "evalsha"],
        Op::Check(Algorithm::FixedWindow, _) => &["incrby", "evalsha"],
        Op::Check(_, _) => &["evalsha"],
    }
}
const DOCS: u64 = 100;

#[derive(Clone)]
struct World {
    forze: Forze,
    conn: MultiplexedConnection,
    fresh: Arc<AtomicU64>,
    repo: Repo,
    limiter: Limiter,
}

impl Scenario for World {
    type Op = Op;

    fn forze(&self) -> &Forze {
        &self.forze
    }

    async fn step(&mut self, op: Op, i: u64, t: u64) {
        let w = self;
        match op {
            Op::RawGet => {
                let key = format!("bench:projects/cache/body/{{projects:{}}}/1", i % DOCS);
                let v: Vec<u8> = redis::cmd("GET")
                    .arg(key)
                    .query_async(&mut w.conn)
                    .await
                    .unwrap();
                std::hint::black_box(serde_json::from_slice::<Project>(&v).unwrap());
            }
            Op::Limited => {
                limited(t).await.unwrap();
            }
            Op::LimitedGcra => {
                limited_gcra(t).await.unwrap();
            }
            Op::IdemNew => {
                pay(w.fresh.fetch_add(1, Ordering::Relaxed), 5)
                    .await
                    .unwrap();
            }
            Op::IdemReplay => {
                pay(i % REPLAY_KEYS, 5).await.unwrap();
            }
            Op::IdemReplayByHand => {
                use sha2::Digest;
                let key = format!("bench:idem/pay/{}", i % REPLAY_KEYS);
                #[derive(serde::Serialize)]
                struct Payload {
                    amount: u64,
                }
                let payload = serde_json::to_vec(&Payload { amount: 5 }).unwrap();
                let fp = hex::encode(sha2::Sha256::digest(&payload));
                let claim = format!(
                    "c{}:{fp}{}",
                    fp.len(),
                    hex::encode(rand::random::<[u8; 16]>())
                );
                let held: Option<Vec<u8>> = redis::cmd("SET")
                    .arg(&key)
                    .arg(&claim)
                    .arg("NX")
                    .arg("PX")
                    .arg(60_000)
                    .arg("GET")
                    .query_async(&mut w.conn)
                    .await
                    .unwrap();
                let held = held.expect("a recorded key");
                let head = format!("d{}:{fp}", fp.len());
                let snapshot = held
                    .strip_prefix(head.as_bytes())
                    .expect("this payload's record");
                std::hint::black_box(serde_json::from_slice::<u64>(snapshot).unwrap());
            }
            Op::DocGet => {
                std::hint::black_box(w.repo.get(&(i % DOCS)).await.unwrap().unwrap());
            }
            Op::Check(algorithm, limit) => {
                let quota = Quota::new(limit, Duration::from_secs(60), algorithm);
                let key = format!("check:{}", t % 4);
                std::hint::black_box(w.limiter.check_quota(&key, &quota, 1).await.unwrap());
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let server = RedisServer::start();
    let forze = Forze::builder()
        .redis(forze_tests::bench::bench_config(server.url()))
        .limiter("api", LimiterRoute::new("bench:rl"))
        .idempotency("default", IdempotencyRoute::new("bench:idem"))
        .cache("projects", CacheRoute::new("bench:projects"))
        .build()
        .await
        .unwrap();
    let repo: Repo = forze.documents(MemoryDocumentStore::new()).unwrap();
    for id in 0..DOCS {
        let p = Project {
            id,
            rev: 0,
            name: format!("project {id}"),
            owner: "ada".into(),
            tags: vec!["a".into(), "b".into()],
        };
        repo.create(p).await.unwrap();
    }
    forze
        .scope(async {
            for k in 0..REPLAY_KEYS {
                pay(k, 5).await.unwrap();
            }
        })
        .await;
    let mut conn = server.client().await;
    let world = World {
        forze: forze.clone(),
        conn: conn.clone(),
        fresh: Arc::new(AtomicU64::new(1_000_000)),
        repo,
        limiter: forze.limiter("api").unwrap(),
    };
    // FORZE_BENCH_PROFILE=raw-get|replay: one task's operations, for callgrind (`bench::profile`).
    let profiled = profile(&world, |side| {
        if side == "raw-get" {
            Op::RawGet
        } else {
            Op::IdemReplay
        }
    });
    if profiled.await {
        return;
    }
    let only = std::env::var("FORZE_BENCH_ONLY").ok();
    let dur = Duration::from_millis(800);
    println!("| scenario | tasks | raw redis-rs GET + decode ops/s | forze ops/s | ratio, median (min–max) | round trips/op |");
    println!("|---|---|---|---|---|---|");
    for (name, op) in [
        ("rate_limited check, fixed window", Op::Limited),
        ("rate_limited check, gcra", Op::LimitedGcra),
        ("idempotent, new key", Op::IdemNew),
        ("idempotent, replay", Op::IdemReplay),
        ("idempotent, replay by hand", Op::IdemReplayByHand),
        ("document get, hit", Op::DocGet),
    ] {
        for tasks in [1usize, 64] {
            if only.as_ref().is_some_and(|o| !name.starts_with(o.as_str())) {
                continue;
            }
            let (mut raw, mut ours, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            let (mut cmds, mut ops) = (0, 0);
            for round in 0..7 {
                // The sides take turns going first.
                let mut ours_first = round % 2 == 0;
                let (mut r, mut o) = (0.0, 0.0);
                for _ in 0..2 {
                    if ours_first {
                        let c0 = command_calls(&mut conn, counted(op)).await;
                        let (rate, n) = run(&world, op, tasks, dur).await;
                        let c1 = command_calls(&mut conn, counted(op)).await;
                        (o, cmds, ops) = (rate, cmds + c1 - c0, ops + n);
                    } else {
                        r = run(&world, Op::RawGet, tasks, dur).await.0;
                    }
                    ours_first = !ours_first;
                }
                raw.push(r);
                ours.push(o);
                ratios.push(o / r);
            }
            let (r, o) = (median(raw), median(ours));
            println!(
                "| {name} | {tasks} | {r:.0} | {o:.0} | {} | {:.2} |",
                ratio_spread(ratios),
                cmds as f64 / ops as f64
            );
        }
    }
    limiter_rows(&world, &mut conn, only.as_deref(), dur).await;
    drop(server);
}

/// Each algorithm at 100 and at 100 000 per minute, on 4 hot keys, 64 tasks: throughput beside a
/// raw `GET`, and what a check costs the server (`usec` per operation from `INFO commandstats`,
/// beside a plain `GET`'s).
async fn limiter_rows(
    world: &World,
    conn: &mut MultiplexedConnection,
    only: Option<&str>,
    dur: Duration,
) {
    if only.is_some_and(|o| !"limiter".starts_with(o) && !o.starts_with("limiter")) {
        return;
    }
    println!();
    println!("| limiter check (64 tasks, 4 keys) | raw GET ops/s | forze ops/s | ratio, median (min–max) | server µs/check | server µs/GET |");
    println!("|---|---|---|---|---|---|");
    for (name, algorithm) in [
        ("fixed window", Algorithm::FixedWindow),
        ("sliding window", Algorithm::SlidingWindow),
        ("gcra", Algorithm::Gcra),
    ] {
        for limit in [100u64, 100_000] {
            let op = Op::Check(algorithm, limit);
            let (mut raw, mut ours, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            let (mut usec, mut ops, mut get_usec, mut gets) = (0, 0, 0, 0);
            for round in 0..5 {
                let mut ours_first = round % 2 == 0;
                let (mut r, mut o) = (0.0, 0.0);
                for _ in 0..2 {
                    if ours_first {
                        let u0 = command_usec(conn, counted(op)).await;
                        let (rate, n) = run(world, op, 64, dur).await;
                        let u1 = command_usec(conn, counted(op)).await;
                        (o, usec, ops) = (rate, usec + u1 - u0, ops + n);
                    } else {
                        let u0 = command_usec(conn, &["get"]).await;
                        let (rate, n) = run(world, Op::RawGet, 64, dur).await;
                        let u1 = command_usec(conn, &["get"]).await;
                        (r, get_usec, gets) = (rate, get_usec + u1 - u0, gets + n);
                    }
                    ours_first = !ours_first;
                }
                raw.push(r);
                ours.push(o);
                ratios.push(o / r);
            }
            println!(
                "| {name}, {limit}/min | {:.0} | {:.0} | {} | {:.2} | {:.2} |",
                median(raw),
                median(ours),
                ratio_spread(ratios),
                usec as f64 / ops as f64,
                get_usec as f64 / gets as f64
            );
        }
    }
}
