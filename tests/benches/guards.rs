//! `#[rate_limited]` and `#[idempotent]` against a raw redis-rs `GET`, on a redis-server this
//! bench starts itself.
//!
//! ```sh
//! cargo bench -p forze-tests --bench guards
//! ```
//!
//! Same method as `benches/cache.rs`: fixed-time runs, alternating, median of five rounds, the
//! Redis commands per operation from `INFO commandstats`; one connection on every side.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use forze_runtime::{
    idempotent, rate_limited, Forze, IdempotencyError, IdempotencyRoute, LimiterRoute, RateLimited,
    RedisConfig,
};
use forze_tests::RedisServer;
use redis::aio::MultiplexedConnection;

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

#[rate_limited(
    limiter = "api",
    key = "user:{user}",
    limit = 1000000000,
    per = "1h",
    algorithm = "gcra"
)]
async fn limited(user: u64) -> Result<u64, AppError> {
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
    IdemNew,
    IdemReplay,
}

const REPLAY_KEYS: u64 = 1000;

async fn run(
    op: Op,
    tasks: usize,
    dur: Duration,
    forze: &Forze,
    conn: &MultiplexedConnection,
    fresh: &Arc<AtomicU64>,
) -> (f64, u64) {
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks as u64)
        .map(|t| {
            let (forze, mut conn, done, fresh) =
                (forze.clone(), conn.clone(), done.clone(), fresh.clone());
            tokio::spawn(async move {
                let f = forze.clone();
                f.scope(async move {
                    let mut i = t;
                    while start.elapsed() < dur {
                        match op {
                            Op::RawGet => {
                                let v: Option<Vec<u8>> = redis::cmd("GET")
                                    .arg("bench:key")
                                    .query_async(&mut conn)
                                    .await
                                    .unwrap();
                                std::hint::black_box(v);
                            }
                            Op::Limited => {
                                limited(t).await.unwrap();
                            }
                            Op::IdemNew => {
                                pay(fresh.fetch_add(1, Ordering::Relaxed), 5).await.unwrap();
                            }
                            Op::IdemReplay => {
                                pay(i % REPLAY_KEYS, 5).await.unwrap();
                            }
                        }
                        i += tasks as u64;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .await
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    let n = done.load(Ordering::Relaxed);
    (n as f64 / start.elapsed().as_secs_f64(), n)
}

/// Client round trips of forze's operations: every one is an `EVALSHA` (the commands run inside
/// scripts have lines of their own and are not counted).
async fn commands(conn: &mut MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .filter(|l| l.starts_with("cmdstat_evalsha:"))
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let server = RedisServer::start();
    let forze = Forze::builder()
        .redis(RedisConfig::new(server.url()).max_size(1))
        .limiter("api", LimiterRoute::new("bench:rl"))
        .idempotency("default", IdempotencyRoute::new("bench:idem"))
        .build()
        .await
        .unwrap();
    let mut conn = server.client().await;
    let _: () = redis::cmd("SET")
        .arg("bench:key")
        .arg("{\"id\":1}")
        .query_async(&mut conn)
        .await
        .unwrap();
    forze
        .scope(async {
            for k in 0..REPLAY_KEYS {
                pay(k, 5).await.unwrap();
            }
        })
        .await;
    let fresh = Arc::new(AtomicU64::new(1_000_000));
    let dur = Duration::from_millis(800);
    println!("| scenario | tasks | raw redis-rs GET ops/s | forze ops/s | ratio | commands/op |");
    println!("|---|---|---|---|---|---|");
    for (name, op) in [
        ("rate_limited check", Op::Limited),
        ("idempotent, new key", Op::IdemNew),
        ("idempotent, replay", Op::IdemReplay),
    ] {
        for tasks in [1usize, 64] {
            let (mut raw, mut ours) = (Vec::new(), Vec::new());
            let (mut cmds, mut ops) = (0, 0);
            for _ in 0..5 {
                let (r, _) = run(Op::RawGet, tasks, dur, &forze, &conn, &fresh).await;
                let c0 = commands(&mut conn).await;
                let (o, n) = run(op, tasks, dur, &forze, &conn, &fresh).await;
                let c1 = commands(&mut conn).await;
                raw.push(r);
                ours.push(o);
                cmds += c1 - c0;
                ops += n;
            }
            let (r, o) = (median(raw), median(ours));
            println!(
                "| {name} | {tasks} | {r:.0} | {o:.0} | {:.2} | {:.2} |",
                o / r,
                cmds as f64 / ops as f64
            );
        }
    }
    drop(server);
}
