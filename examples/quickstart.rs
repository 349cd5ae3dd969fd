//! The forze quickstart: in memory by default, on Redis when `REDIS_URL` is set.
//!
//! ```sh
//! cargo run -p forze-examples --bin quickstart
//! REDIS_URL=redis://127.0.0.1:6379 cargo run -p forze-examples --bin quickstart
//! ```

use std::time::{Duration, Instant};

use forze_runtime::ports::{Algorithm, Quota};
use forze_runtime::{
    codec, BackendConfig, Begin, CacheRoute, CounterRoute, Forze, IdempotencyRoute, LimiterRoute,
    LockRoute,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
}

/// Pretend this is a slow database query.
async fn load_user(id: u64) -> User {
    tokio::time::sleep(Duration::from_millis(50)).await;
    User {
        id,
        name: format!("user-{id}"),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();

    let forze = Forze::builder()
        .backend(BackendConfig::from_env())
        .cache(
            "users",
            CacheRoute::new("quickstart:users").ttl(Duration::from_secs(600)),
        )
        .counter("orders", CounterRoute::new("quickstart:seq:orders"))
        .idempotency("default", IdempotencyRoute::new("quickstart:idem"))
        .limiter(
            "api",
            LimiterRoute::new("quickstart:rl").quota(Quota::new(
                3,
                Duration::from_secs(10),
                Algorithm::Gcra,
            )),
        )
        .lock("jobs", LockRoute::new("quickstart:locks"))
        .build()
        .await?;
    let health = forze.health().await;
    println!(
        "backend: {} ({}; {})",
        forze.backend_name(),
        health.state,
        health.config
    );

    // Cache-aside: a miss runs the query and stores the result; the next call is a hit.
    let users = forze.cache("users")?;
    users.invalidate("user:42").await?;
    for attempt in 1..=2 {
        let start = Instant::now();
        let user = match users.get::<User>("user:42").await? {
            Some(hit) => hit,
            None => {
                let fresh = load_user(42).await;
                users.set("user:42", &fresh).await?;
                fresh
            }
        };
        println!(
            "cache  attempt {attempt}: {} in {:?} ({})",
            user.name,
            start.elapsed(),
            if attempt == 1 { "miss, loaded" } else { "hit" }
        );
    }

    // Counters: order numbers, and a block of 10 reserved in one call.
    let orders = forze.counter("orders")?;
    orders.reset().await?;
    let first = orders.incr().await?;
    let last = orders.incr_batch(10).await?;
    println!(
        "counter: order #{first}, then block #{}..=#{last}",
        last - 9
    );

    // Idempotency: the second call with the same key replays the first call's result.
    let idem = forze.idempotency("default")?;
    let request = ("alice", 1999);
    let fp = codec::fingerprint(&request)?;
    // A fresh key per run, so that each run shows a first call and a duplicate.
    let key = format!("pay-{}-{}", std::process::id(), first);
    for attempt in 1..=2 {
        match idem.begin("create_payment", &key, &fp).await? {
            Begin::Proceed(claim) => {
                let payment_id = format!("payment-{}", orders.incr().await?);
                claim.commit(&payment_id).await?;
                println!("idempotency attempt {attempt}: ran, created {payment_id}");
            }
            Begin::Replay(snapshot) => println!(
                "idempotency attempt {attempt}: replayed {} without running",
                snapshot.decode::<String>()?
            ),
            Begin::InProgress => println!("idempotency attempt {attempt}: still in progress"),
            Begin::Mismatch => {
                println!("idempotency attempt {attempt}: key reused with another payload")
            }
        }
    }

    // Rate limiting: 3 per 10 s per user, GCRA.
    let api = forze.limiter("api")?;
    let who = format!("user:{}", std::process::id());
    for call in 1..=4 {
        let d = api.check(&who).await?;
        println!(
            "limiter call {call}: {} (remaining {}, retry after {:?})",
            if d.allowed { "allowed" } else { "denied" },
            d.remaining,
            d.retry_after
        );
    }

    // Locks: only one holder; only the holder releases.
    let jobs = forze.lock("jobs")?;
    let guard = jobs.try_acquire("nightly-report").await?;
    let second = jobs.try_acquire("nightly-report").await?;
    println!(
        "lock: first acquire {}, second acquire {}",
        if guard.is_some() { "got it" } else { "busy" },
        if second.is_some() { "got it" } else { "busy" }
    );
    if let Some(g) = guard {
        g.release().await?;
    }
    forze.shutdown().await;
    Ok(())
}
