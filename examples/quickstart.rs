//! The forze quickstart: in memory by default, on Redis when `REDIS_URL` is set.
//!
//! ```sh
//! cargo run -p forze-examples --bin quickstart
//! REDIS_URL=redis://127.0.0.1:6379 cargo run -p forze-examples --bin quickstart
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use forze_runtime::document::{DocumentSpec as _, MemoryDocumentStore};
use forze_runtime::ports::{Algorithm, Quota};
use forze_runtime::{
    cache_invalidate, cached, codec, BackendConfig, Begin, CacheRoute, CounterRoute, DocumentSpec,
    Forze, IdempotencyRoute, LimiterRoute, LockRoute,
};
use serde::{Deserialize, Serialize};

/// How many times the body of [`profile`] ran (what a cache hit saves).
static PROFILE_RUNS: AtomicUsize = AtomicUsize::new(0);

/// A cached function: the first call runs the body, the next ones read the cache.
#[cached(cache = "users", key = "profile:{id}", ttl = "10m")]
async fn profile(id: u64) -> Result<String, std::io::Error> {
    PROFILE_RUNS.fetch_add(1, Ordering::SeqCst);
    Ok(format!("profile of user {id}"))
}

/// Drops the cached profile once it succeeds.
#[cache_invalidate(cache = "users", key = "profile:{id}")]
async fn rename(id: u64) -> Result<(), std::io::Error> {
    let _ = id;
    Ok(())
}

/// A document with a versioned cache.
#[derive(Debug, Clone, Serialize, Deserialize, DocumentSpec)]
#[document(name = "projects", cache(name = "projects", ttl = "5m"))]
struct Project {
    #[document(id)]
    id: u64,
    #[document(version)]
    rev: u64,
    name: String,
}

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
async fn main() {
    // Errors are printed as sentences (`Display`), not as the structs `main` would print.
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
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
        .cache("projects", CacheRoute::new("quickstart:projects"))
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
        let (user, seen) = match users.get::<User>("user:42").await? {
            Some(hit) => (hit, "hit"),
            None => {
                let fresh = load_user(42).await;
                users.set("user:42", &fresh).await?;
                (fresh, "miss, loaded")
            }
        };
        println!(
            "cache  attempt {attempt}: {} in {:?} ({seen})",
            user.name,
            start.elapsed()
        );
    }

    // The same through the macros: what each call did is read off the body's run count.
    forze
        .scope(async {
            rename(7).await?;
            for call in 1..=3 {
                let before = PROFILE_RUNS.load(Ordering::SeqCst);
                let p = profile(7).await?;
                let ran = PROFILE_RUNS.load(Ordering::SeqCst) > before;
                println!(
                    "#[cached] call {call}: {p} ({})",
                    if ran {
                        "miss: the body ran"
                    } else {
                        "hit: the body did not run"
                    }
                );
                if call == 2 {
                    rename(7).await?;
                    println!("#[cache_invalidate]: profile:7 dropped");
                }
            }
            Ok::<_, std::io::Error>(())
        })
        .await?;

    // Documents: the store is the truth; reads after a write are never older than it.
    let projects = forze.documents(MemoryDocumentStore::<Project>::new())?;
    let created = projects
        .create(Project {
            id: 1,
            rev: 0,
            name: "forze".into(),
        })
        .await?;
    let updated = projects
        .update(
            &1,
            Project {
                name: "forze 2".into(),
                ..created.clone()
            },
        )
        .await?;
    let read = projects.get(&1).await?;
    println!(
        "documents: created rev {}, updated to rev {}, read back {:?} (key {})",
        created.version(),
        updated.version(),
        read.map(|p| (p.rev, p.name)),
        Project::key_patterns().current
    );

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
