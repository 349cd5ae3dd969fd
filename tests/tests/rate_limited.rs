//! `#[rate_limited]` end to end, on the in-memory backend and on a real redis-server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use forze_runtime::ports::{Algorithm, Quota};
use forze_runtime::{rate_limited, ForzeBuilder, LimiterFailure, LimiterRoute, RateLimited};

#[derive(Debug)]
enum AppError {
    Limited(RateLimited),
}

impl From<RateLimited> for AppError {
    fn from(r: RateLimited) -> Self {
        AppError::Limited(r)
    }
}

fn routes(b: ForzeBuilder) -> ForzeBuilder {
    let wired = Quota::new(2, Duration::from_secs(3600), Algorithm::SlidingWindow);
    b.limiter("api", LimiterRoute::new("t:rl"))
        .limiter("wired", LimiterRoute::new("t:rl-wired").quota(wired))
        .limiter(
            "deny",
            LimiterRoute::new("t:rl-deny").on_unavailable(LimiterFailure::Deny),
        )
}

use forze_tests::Harness as Env;

async fn memory() -> Env {
    Env::memory(routes).await
}

async fn redis() -> Env {
    Env::redis(routes).await
}

#[rate_limited(limiter = "api", key = "user:{user_id}", limit = 3, per = "1h")]
async fn search(runs: &AtomicUsize, user_id: u64) -> Result<u64, AppError> {
    runs.fetch_add(1, Ordering::SeqCst);
    Ok(user_id)
}

#[rate_limited(
    limiter = "api",
    key = "fixed",
    limit = 50,
    per = "1h",
    algorithm = "fixed_window"
)]
async fn hot_fixed(runs: &AtomicUsize) -> Result<(), AppError> {
    runs.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[rate_limited(
    limiter = "api",
    key = "sliding",
    limit = 50,
    per = "1h",
    algorithm = "sliding_window"
)]
async fn hot_sliding(runs: &AtomicUsize) -> Result<(), AppError> {
    runs.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[rate_limited(
    limiter = "api",
    key = "gcra",
    limit = 50,
    per = "1h",
    algorithm = "gcra"
)]
async fn hot_gcra(runs: &AtomicUsize) -> Result<(), AppError> {
    runs.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

/// Weighted: each call costs its batch size.
#[rate_limited(limiter = "api", key = "batch:{tenant}", limit = 10, per = "1h", cost = items.len() as u64)]
async fn import(runs: &AtomicUsize, tenant: &str, items: Vec<u32>) -> Result<usize, AppError> {
    runs.fetch_add(1, Ordering::SeqCst);
    Ok(items.len())
}

/// The quota comes from the wiring (2 per hour, sliding window).
#[rate_limited(limiter = "wired", key = "k", from_wiring)]
async fn wired(runs: &AtomicUsize) -> Result<(), AppError> {
    runs.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[rate_limited(limiter = "deny", key = "k", limit = 5, per = "1m")]
async fn strict(runs: &AtomicUsize) -> Result<(), AppError> {
    runs.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[rate_limited(limiter = "api", key = "lenient", limit = 5, per = "1m")]
async fn lenient(runs: &AtomicUsize) -> Result<(), AppError> {
    runs.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

async fn quota_then_refusal_with_details(env: &Env) {
    let runs = &env.runs;
    env.forze
        .scope(async {
            for _ in 0..3 {
                assert_eq!(search(runs, 1).await.unwrap(), 1);
            }
            match search(runs, 1).await {
                Err(AppError::Limited(r)) => {
                    assert_eq!((r.limit, r.remaining, r.unavailable), (3, 0, false));
                    assert!(
                        r.retry_after > Duration::ZERO
                            && r.retry_after <= Duration::from_secs(3600)
                    );
                    assert!(r.reset_after >= r.retry_after);
                    assert!(r.retry_after_secs() >= 1);
                }
                other => panic!("expected a refusal, got {other:?}"),
            }
            assert_eq!(
                runs.load(Ordering::SeqCst),
                3,
                "a refused call does not run"
            );
            // Another user has their own quota.
            assert!(search(runs, 2).await.is_ok());
        })
        .await;
}

async fn hammer(env: &Env, which: u8) -> usize {
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (f, runs) = (env.forze.clone(), env.runs.clone());
            tokio::spawn(async move {
                let rt = f.clone();
                rt.scope(async move {
                    let mut ok = 0;
                    for _ in 0..4 {
                        let r = match which {
                            0 => hot_fixed(&runs).await,
                            1 => hot_sliding(&runs).await,
                            _ => hot_gcra(&runs).await,
                        };
                        ok += usize::from(r.is_ok());
                    }
                    ok
                })
                .await
            })
        })
        .collect();
    let mut admitted = 0;
    for t in tasks {
        admitted += t.await.unwrap();
    }
    admitted
}

async fn sixty_four_tasks_never_exceed_the_quota(env: &Env) {
    for which in 0..3 {
        let before = env.runs.load(Ordering::SeqCst);
        let admitted = hammer(env, which).await;
        assert_eq!(admitted, 50, "algorithm {which}");
        assert_eq!(
            env.runs.load(Ordering::SeqCst) - before,
            50,
            "bodies run = admitted"
        );
    }
}

async fn weighted_calls(env: &Env) {
    let runs = &env.runs;
    env.forze
        .scope(async {
            assert_eq!(import(runs, "a", vec![1; 6]).await.unwrap(), 6);
            let refused = import(runs, "a", vec![1; 6]).await;
            assert!(
                matches!(&refused, Err(AppError::Limited(r)) if r.remaining == 4),
                "{refused:?}"
            );
            assert_eq!(import(runs, "a", vec![1; 4]).await.unwrap(), 4);
            // A cost above the limit can never pass: refused, body not run.
            assert!(import(runs, "b", vec![1; 11]).await.is_err());
        })
        .await;
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

async fn quota_from_the_wiring(env: &Env) {
    let runs = &env.runs;
    env.forze
        .scope(async {
            assert!(wired(runs).await.is_ok());
            assert!(wired(runs).await.is_ok());
            assert!(wired(runs).await.is_err());
        })
        .await;
}

forze_tests::on_both_backends!(
    quota_then_refusal_with_details,
    sixty_four_tasks_never_exceed_the_quota,
    weighted_calls,
    quota_from_the_wiring,
);

#[tokio::test]
async fn an_unreachable_limiter_follows_its_policy() {
    let mut env = redis().await;
    env.server.as_mut().unwrap().stop();
    let runs = &env.runs;
    // Policy Allow (the default): the call runs.
    assert!(env.forze.scope(lenient(runs)).await.is_ok());
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    // Policy Deny: refused, marked as unavailable, the body does not run.
    match env.forze.scope(strict(runs)).await {
        Err(AppError::Limited(r)) => assert!(r.unavailable),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

/// The default fixed window is one `INCRBY` for a call of cost 1 (no script), plus a
/// `PEXPIREAT` from the call that opens the window's counter; GCRA and the sliding window are
/// one script each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_is_one_round_trip() {
    let env = redis().await;
    let mut mon = forze_tests::monitor::Monitor::start(env.server.as_ref().unwrap()).await;
    let runs = &env.runs;
    env.forze
        .scope(async {
            let _ = mon.commands().await;
            search(runs, 77).await.unwrap();
            assert_eq!(mon.commands().await, vec!["INCRBY", "PEXPIREAT"]);
            search(runs, 77).await.unwrap();
            assert_eq!(mon.commands().await, vec!["INCRBY"]);
            hot_gcra(runs).await.unwrap();
            assert_eq!(mon.commands().await, vec!["EVALSHA"]);
            hot_sliding(runs).await.unwrap();
            assert_eq!(mon.commands().await, vec!["EVALSHA"]);
        })
        .await;
}

/// A fixed window's counter is `{key}/{window}` and expires shortly after its window; a denied
/// weighted call counts nothing, and a counter of another type is an error for the limiter's
/// policy, never a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_window_counters_expire_after_their_window() {
    use redis::AsyncCommands;
    let env = redis().await;
    let l = env.forze.limiter("api").unwrap();
    let q = Quota::new(5, Duration::from_secs(3600), Algorithm::FixedWindow);
    assert!(l.check_quota("w", &q, 3).await.unwrap().allowed);
    let mut c = env.server.as_ref().unwrap().client().await;
    let keys: Vec<String> = c.keys("t:rl/ratelimit/w/*").await.unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let window: u64 = keys[0].rsplit('/').next().unwrap().parse().unwrap();
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        window == now_s / 3600 || window + 1 == now_s / 3600,
        "{window}"
    );
    let ttl: i64 = c.pttl(&keys[0]).await.unwrap();
    assert!(ttl > 0 && ttl <= 3_601_000, "{ttl}");
    // Denied (3 + 3 > 5): nothing counted.
    let d = l.check_quota("w", &q, 3).await.unwrap();
    assert!(!d.allowed);
    assert_eq!(d.remaining, 2);
    let used: i64 = c.get(&keys[0]).await.unwrap();
    assert_eq!(used, 3);
    // Calls of cost 1 fill the rest; past the limit they are counted, and refused.
    for left in [1, 0] {
        assert_eq!(l.check_quota("w", &q, 1).await.unwrap().remaining, left);
    }
    let d = l.check_quota("w", &q, 1).await.unwrap();
    assert!(!d.allowed);
    assert_eq!(d.remaining, 0);
    assert!(!l.check_quota("w", &q, 2).await.unwrap().allowed);
    let _: () = c.del(&keys[0]).await.unwrap();
    let _: () = c.hset(&keys[0], "f", "v").await.unwrap();
    // A counter of another type is no valid count: it is replaced (see tests/faults.rs).
    assert_eq!(l.check_quota("w", &q, 1).await.unwrap().remaining, 4);
    assert_eq!(l.check_quota("w", &q, 2).await.unwrap().remaining, 2);
}

/// The sliding window keeps at most one bucket per 60th of its period, whatever the quota
/// and the traffic: a check's work on Redis is bounded (the old sliding log grew with every
/// admitted call).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sliding_window_state_is_bounded_whatever_the_quota() {
    use redis::AsyncCommands;
    let env = redis().await;
    let l = env.forze.limiter("api").unwrap();
    let q = Quota::new(100_000, Duration::from_secs(60), Algorithm::SlidingWindow);
    let mut last = None;
    for _ in 0..3_000 {
        last = Some(l.check_quota("busy", &q, 1).await.unwrap());
    }
    let last = last.unwrap();
    assert!(last.allowed);
    assert_eq!(
        last.remaining,
        100_000 - 3_000,
        "every admitted unit is counted"
    );
    let mut c = env.server.as_ref().unwrap().client().await;
    let key = forze_runtime::keys::KeySpace::new("t:rl", None).rate_limit("busy");
    let buckets: usize = c.hlen(&key).await.unwrap();
    // At most 61 buckets, plus the count and the oldest and newest bucket indexes.
    assert!((1..=62).contains(&buckets), "{buckets} fields");
}

/// The sliding window over time on Redis: units leave with their bucket (10 ms here), and what
/// is left is counted right — never more than the limit in any 600 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sliding_window_buckets_leave_with_time() {
    let env = redis().await;
    let l = env.forze.limiter("api").unwrap();
    let q = Quota::new(3, Duration::from_millis(600), Algorithm::SlidingWindow);
    let mut admitted_at = Vec::new();
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_millis(2_000) {
        let d = l.check_quota("moving", &q, 1).await.unwrap();
        if d.allowed {
            admitted_at.push(start.elapsed());
        } else {
            let retry = d.retry_after.expect("a denial says when to retry");
            assert!(retry <= Duration::from_millis(620), "{retry:?}");
        }
        tokio::time::sleep(Duration::from_millis(7)).await;
    }
    // The window moved: more than one window's worth was admitted over 2 s...
    assert!(admitted_at.len() >= 6, "{admitted_at:?}");
    // ...and no 600 ms ever held more than 3 (seen from the client, whose clock reads each
    // answer a little after the server decided: 50 ms of slack for that).
    for (i, t) in admitted_at.iter().enumerate() {
        let within = admitted_at[i..]
            .iter()
            .take_while(|u| **u < *t + Duration::from_millis(550))
            .count();
        assert!(
            within <= 3,
            "{within} admitted within 600 ms from {t:?}: {admitted_at:?}"
        );
    }
}
