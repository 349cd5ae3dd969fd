//! The flows as the macros and hand-written code share them: re-entrant calls that never wait
//! on themselves, a missing runtime that is never a silent pass for a limit or an idempotency
//! guard, and wiring that refuses routes sharing a namespace.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use forze_runtime::ports::{Algorithm, Quota};
use forze_runtime::{
    cache_invalidate, cached, idempotent, rate_limited, CacheRoute, CounterRoute, Error, Forze,
    ForzeBuilder, IdempotencyError, IdempotencyRoute, LimiterRoute, LockRoute, RateLimited,
};
use forze_tests::Harness;

fn routes(b: ForzeBuilder) -> ForzeBuilder {
    b.cache("flows", CacheRoute::new("f:cache"))
        .idempotency("flows", IdempotencyRoute::new("f:idem"))
        .limiter("flows", LimiterRoute::new("f:rl"))
        .lock("flows", LockRoute::new("f:locks"))
}

/// Fails the test instead of hanging it, should a call wait on itself.
async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not return: it waits on itself"))
}

// --- re-entrancy ---------------------------------------------------------------------------

static OUTER: AtomicUsize = AtomicUsize::new(0);

/// The same cache and key template as [`inner_user`], and it calls it.
#[cached(cache = "flows", key = "user:{id}")]
async fn outer_user(id: u64) -> String {
    OUTER.fetch_add(1, Ordering::SeqCst);
    format!("outer({})", inner_user(id).await)
}

#[cached(cache = "flows", key = "user:{id}")]
async fn inner_user(id: u64) -> String {
    format!("inner-{id}")
}

/// Calls itself with the same key (one level deep), under a cross-process fill lock.
#[cached(cache = "flows", key = "rec:{id}", lock = "flows")]
async fn recursive(id: u64, depth: u32) -> u64 {
    if depth == 0 {
        Box::pin(recursive(id, 1)).await + 1
    } else {
        id
    }
}

#[idempotent(store = "flows", operation = "nest", key = key, wait = "5s", skip(depth))]
async fn nested_idem(key: String, depth: u32) -> Result<u32, IdempotencyError> {
    if depth == 0 {
        match Box::pin(nested_idem(key, 1)).await {
            Err(IdempotencyError::Reentrant { .. }) => Ok(1),
            other => panic!("the inner call must be refused as re-entrant, got {other:?}"),
        }
    } else {
        Ok(0)
    }
}

async fn reentrant_calls_return(env: &Harness) {
    env.forze
        .scope(async {
            let got = within("outer_user", outer_user(7)).await;
            assert_eq!(got, "outer(inner-7)");
            // The outer call's value is the one stored under the shared key.
            assert_eq!(outer_user(7).await, "outer(inner-7)");
            assert_eq!(inner_user(7).await, "outer(inner-7)");
            assert_eq!(within("recursive", recursive(3, 0)).await, 4);
            // With `wait`, an inner call that waited for itself would take 5 s and answer
            // InProgress; it is refused as re-entrant instead.
            assert_eq!(
                within("nested_idem", nested_idem("n1".into(), 0))
                    .await
                    .unwrap(),
                1
            );
        })
        .await;
    // Hand-written code: the same flow.
    let cache = env.forze.cache("flows").unwrap();
    let got: u32 = within(
        "get_or_compute",
        cache.get_or_compute("hand", || async {
            cache.get_or_compute("hand", || async { 41u32 }).await + 1
        }),
    )
    .await;
    assert_eq!(got, 42);
    let idem = env.forze.idempotency("flows").unwrap();
    let fp = forze_runtime::codec::fingerprint(&1).unwrap();
    let outer: Result<u32, IdempotencyError> = within(
        "Idempotency::run",
        idem.run("hand", "k", &fp, || async {
            let inner: Result<u32, IdempotencyError> =
                idem.run("hand", "k", &fp, || async { Ok(0) }).await;
            assert!(matches!(inner, Err(IdempotencyError::Reentrant { .. })));
            Ok(5)
        }),
    )
    .await;
    assert_eq!(outer.unwrap(), 5);
}

#[tokio::test]
async fn reentrant_calls_return_in_memory() {
    reentrant_calls_return(&Harness::memory(routes).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reentrant_calls_return_on_redis() {
    reentrant_calls_return(&Harness::redis(routes).await).await;
}

// --- a missing runtime ---------------------------------------------------------------------

static BODIES: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug)]
enum AppError {
    Limited(RateLimited),
    Idem(IdempotencyError),
}

impl From<RateLimited> for AppError {
    fn from(r: RateLimited) -> Self {
        AppError::Limited(r)
    }
}

impl From<IdempotencyError> for AppError {
    fn from(e: IdempotencyError) -> Self {
        AppError::Idem(e)
    }
}

#[rate_limited(limiter = "flows", key = "u:{user}", limit = 1, per = "1m")]
async fn limited(user: u64) -> Result<(), AppError> {
    let _ = user;
    BODIES.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[idempotent(store = "flows", operation = "guarded", key = key)]
async fn guarded(key: String) -> Result<(), AppError> {
    BODIES.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[cached(cache = "flows", key = "plain:{n}")]
async fn plain(n: u64) -> u64 {
    BODIES.fetch_add(1, Ordering::SeqCst);
    n
}

#[cache_invalidate(cache = "flows", key = "plain:{n}")]
async fn drop_plain(n: u64) -> Result<(), AppError> {
    let _ = n;
    Ok(())
}

/// No `install`, no `scope`, no `via`: this test binary never installs a runtime.
#[tokio::test]
async fn without_a_runtime_limits_and_guards_refuse_and_caches_call_through() {
    assert!(Forze::current().is_none());
    let before = BODIES.load(Ordering::SeqCst);
    for _ in 0..2 {
        match limited(1).await {
            Err(AppError::Limited(r)) => {
                let reason = r.reason.clone().expect("a refusal that says why");
                assert!(
                    reason.contains("Forze::install") && reason.contains("via"),
                    "{reason}"
                );
                assert!(r.to_string().contains("not checked"), "{r}");
            }
            other => panic!("a rate limit without a runtime must refuse, got {other:?}"),
        }
    }
    match guarded("k".into()).await {
        Err(AppError::Idem(IdempotencyError::Unavailable(Error::NoRuntime { function }))) => {
            assert!(function.ends_with("::guarded"), "{function}");
        }
        other => panic!("idempotency without a runtime must refuse, got {other:?}"),
    }
    assert_eq!(BODIES.load(Ordering::SeqCst), before, "no guarded body ran");
    // A cache is an optimisation: the call goes through, every time.
    assert_eq!(plain(5).await, 5);
    assert_eq!(plain(5).await, 5);
    assert_eq!(BODIES.load(Ordering::SeqCst), before + 2);
    assert!(drop_plain(5).await.is_ok());
}

/// `Forze::scope` gives a test (or a task) its own runtime; inside, the limit holds.
#[tokio::test]
async fn a_scoped_runtime_applies_the_limit() {
    let env = Harness::memory(routes).await;
    env.forze
        .scope(async {
            assert!(limited(9).await.is_ok());
            assert!(matches!(limited(9).await, Err(AppError::Limited(r)) if r.reason.is_none()));
        })
        .await;
}

// --- wiring --------------------------------------------------------------------------------

#[tokio::test]
async fn routes_of_any_kind_never_share_or_nest_namespaces() {
    let err = Forze::builder()
        .idempotency("payments", IdempotencyRoute::new("app:ops"))
        .limiter(
            "api",
            LimiterRoute::new("app:ops").quota(Quota::new(
                5,
                Duration::from_secs(60),
                Algorithm::Gcra,
            )),
        )
        .cache("users", CacheRoute::new("app"))
        .counter("seq", CounterRoute::new("app:seq-1"))
        .allow_unwired_annotations()
        .build()
        .await
        .unwrap_err();
    let Error::Config { problems } = &err else {
        panic!("expected a config error, got {err:?}");
    };
    let text = problems.join("\n");
    assert!(
        text.contains("idempotency store \"payments\"")
            && text.contains("limiter \"api\"")
            && text.contains("share"),
        "{text}"
    );
    assert!(
        text.contains("cache \"users\"") && text.contains("nest"),
        "{text}"
    );
    // `app` nests `app:ops` (twice) and `app:seq-1`: four pairs in all, one line each.
    assert_eq!(problems.len(), 4, "{text}");
}

// --- stacking ------------------------------------------------------------------------------

static STACKED: AtomicUsize = AtomicUsize::new(0);
static NAMES: AtomicUsize = AtomicUsize::new(0);

/// The limiter outside the cache: every call counts, hits too.
#[rate_limited(limiter = "flows", key = "every:{id}", limit = 2, per = "1m")]
#[cached(cache = "flows", key = "every:{id}")]
async fn every_call_counts(id: u64) -> Result<u64, AppError> {
    STACKED.fetch_add(1, Ordering::SeqCst);
    Ok(id)
}

/// The limiter inside the cache: only misses reach it.
#[cached(cache = "flows", key = "miss:{id}")]
#[rate_limited(limiter = "flows", key = "miss:{id}", limit = 2, per = "1m")]
async fn misses_count(id: u64) -> Result<u64, AppError> {
    STACKED.fetch_add(1, Ordering::SeqCst);
    Ok(id)
}

#[cached(cache = "flows", key = "name:{id}")]
async fn name(id: u64) -> u64 {
    NAMES.fetch_add(1, Ordering::SeqCst);
    id
}

/// Idempotency outside the invalidation: the first run invalidates, a replay does not run
/// (nor invalidate) again.
#[idempotent(store = "flows", operation = "rename", key = key)]
#[cache_invalidate(cache = "flows", key = "name:{id}")]
async fn rename(key: String, id: u64) -> Result<u64, AppError> {
    Ok(id)
}

#[tokio::test]
async fn stacked_macros_run_outer_first() {
    let env = Harness::memory(routes).await;
    env.forze
        .scope(async {
            let before = STACKED.load(Ordering::SeqCst);
            assert_eq!(every_call_counts(1).await.ok(), Some(1), "a miss, admitted");
            assert_eq!(every_call_counts(1).await.ok(), Some(1), "a hit, admitted");
            assert!(
                matches!(every_call_counts(1).await, Err(AppError::Limited(_))),
                "the limiter outside counts hits: the third call is refused"
            );
            assert_eq!(STACKED.load(Ordering::SeqCst) - before, 1, "one body run");
            for _ in 0..5 {
                assert_eq!(
                    misses_count(2).await.ok(),
                    Some(2),
                    "hits never reach the limiter"
                );
            }
            assert_eq!(STACKED.load(Ordering::SeqCst) - before, 2);

            let names = NAMES.load(Ordering::SeqCst);
            assert_eq!(name(3).await, 3);
            assert_eq!(rename("k".into(), 3).await.ok(), Some(3));
            assert_eq!(name(3).await, 3);
            assert_eq!(
                NAMES.load(Ordering::SeqCst) - names,
                2,
                "the first run invalidated"
            );
            assert_eq!(rename("k".into(), 3).await.ok(), Some(3), "a replay");
            assert_eq!(name(3).await, 3);
            assert_eq!(
                NAMES.load(Ordering::SeqCst) - names,
                2,
                "a replay invalidates nothing"
            );
        })
        .await;
}
