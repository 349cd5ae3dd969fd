//! `#[cached]` and `#[cache_invalidate]` end to end, on the in-memory backend and on a real
//! redis-server (each Redis test starts its own).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use forze_runtime::{
    cache_invalidate, cached, tenant, CacheRoute, Error, Forze, ForzeBuilder, LockRoute, RouteKind,
};
use forze_tests::{eventually, redis_config, RedisServer};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
}

#[derive(Debug, PartialEq)]
struct AppError(String);

type AppResult<T> = Result<T, AppError>;

/// Counts how often each function body really ran.
static RUNS: AtomicUsize = AtomicUsize::new(0);

fn routes(b: ForzeBuilder) -> ForzeBuilder {
    b.cache("users", CacheRoute::new("t:users"))
        .cache("teams", CacheRoute::new("t:teams"))
        .cache("tenant", CacheRoute::new("t:tenant").tenant_aware(true))
        .cache("small", CacheRoute::new("t:small").max_value_bytes(32))
        .lock("fills", LockRoute::new("t:fills"))
}

use forze_tests::Harness as Env;

async fn memory() -> Env {
    Env::memory(routes).await
}

async fn redis() -> Env {
    Env::redis(routes).await
}

// --- annotated functions -------------------------------------------------------------------

#[cached(cache = "users", key = "user:{id}", ttl = "10m")]
async fn get_user(runs: &AtomicUsize, id: u64) -> Result<User, AppError> {
    runs.fetch_add(1, Ordering::SeqCst);
    if id == 0 {
        return Err(AppError("no user 0".into()));
    }
    Ok(User {
        id,
        name: format!("user-{id}"),
    })
}

/// An alias of `Result`: errors must not be cached either.
#[cached(cache = "users", key = "alias:{id}")]
async fn get_user_alias(runs: &AtomicUsize, id: u64) -> AppResult<u64> {
    runs.fetch_add(1, Ordering::SeqCst);
    if id == 0 {
        Err(AppError("zero".into()))
    } else {
        Ok(id * 2)
    }
}

#[cached(cache = "users", key = "opt:{id}")]
async fn find_user(runs: &AtomicUsize, id: u64) -> Option<u64> {
    runs.fetch_add(1, Ordering::SeqCst);
    (id != 0).then_some(id)
}

#[cached(cache = "users", key = "optnone:{id}", cache_none)]
async fn find_user_caching_none(runs: &AtomicUsize, id: u64) -> Option<u64> {
    runs.fetch_add(1, Ordering::SeqCst);
    (id != 0).then_some(id)
}

/// A plain return type, the default key (function path + parameters), a skipped parameter.
#[cached(cache = "users", skip(runs))]
async fn square(runs: &AtomicUsize, x: i64, label: String) -> (i64, String) {
    runs.fetch_add(1, Ordering::SeqCst);
    (x * x, label)
}

#[derive(Serialize)]
struct Query {
    team_id: u32,
    page: u16,
}

#[cached(cache = "teams", key = "team:{q.team_id}:page:{q.page}", tags = ["team:{q.team_id}"])]
async fn team_page(runs: &AtomicUsize, q: &Query) -> Vec<String> {
    runs.fetch_add(1, Ordering::SeqCst);
    vec![format!("team {} page {}", q.team_id, q.page)]
}

#[cache_invalidate(cache = "teams", tags = ["team:{team_id}"])]
async fn rename_team(team_id: u32, fail: bool) -> Result<(), AppError> {
    if fail {
        Err(AppError("refused".into()))
    } else {
        Ok(())
    }
}

#[cache_invalidate(cache = "users", key = "user:{id}")]
async fn update_user(id: u64, fail: bool) -> Result<(), AppError> {
    let _ = id;
    if fail {
        Err(AppError("refused".into()))
    } else {
        Ok(())
    }
}

#[cached(cache = "users", key = "short:{id}", ttl = "40ms")]
async fn short_lived(runs: &AtomicUsize, id: u32) -> u32 {
    runs.fetch_add(1, Ordering::SeqCst);
    id
}

#[cached(cache = "tenant", key = "profile")]
async fn tenant_profile(runs: &AtomicUsize) -> String {
    runs.fetch_add(1, Ordering::SeqCst);
    tenant::current().map(|t| t.to_string()).unwrap_or_default()
}

#[cached(cache = "small", key = "big:{n}")]
async fn big(runs: &AtomicUsize, n: usize) -> String {
    runs.fetch_add(1, Ordering::SeqCst);
    "x".repeat(n)
}

/// Held until the test opens the gate: lets the test pile up concurrent callers.
#[cached(cache = "users", key = "slow:{id}")]
async fn slow(runs: &AtomicUsize, gate: &Notify, id: u64) -> Result<u64, AppError> {
    runs.fetch_add(1, Ordering::SeqCst);
    gate.notified().await;
    Ok(id)
}

/// Guarded across processes by the lock route "fills".
#[cached(cache = "users", key = "storm:{id}", lock = "fills")]
async fn storm(runs: &AtomicUsize, gate: &Notify, id: u64) -> u64 {
    runs.fetch_add(1, Ordering::SeqCst);
    gate.notified().await;
    id
}

struct UserService {
    forze: Forze,
    runs: AtomicUsize,
}

impl UserService {
    /// A method: the runtime comes from `self`; `self` is not part of the key.
    #[cached(cache = "users", key = "svc:{id}", via = self.forze)]
    async fn load(&self, id: u64) -> Result<User, AppError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        Ok(User {
            id,
            name: "from service".into(),
        })
    }
}

// --- cases, each run on both backends -------------------------------------------------------

async fn ok_values_are_cached_and_errors_are_not(env: &Env) {
    let runs = &env.runs;
    env.forze
        .scope(async {
            assert_eq!(get_user(runs, 7).await.unwrap().name, "user-7");
            assert_eq!(get_user(runs, 7).await.unwrap().name, "user-7");
            assert_eq!(runs.load(Ordering::SeqCst), 1);
            assert!(get_user(runs, 0).await.is_err());
            assert!(get_user(runs, 0).await.is_err());
            assert_eq!(runs.load(Ordering::SeqCst), 3);
            // Through an alias of Result, too.
            assert!(get_user_alias(runs, 0).await.is_err());
            assert!(get_user_alias(runs, 0).await.is_err());
            assert_eq!(get_user_alias(runs, 4).await, Ok(8));
            assert_eq!(get_user_alias(runs, 4).await, Ok(8));
            assert_eq!(runs.load(Ordering::SeqCst), 6);
        })
        .await;
}

async fn options_cache_some_unless_told(env: &Env) {
    let runs = &env.runs;
    env.forze
        .scope(async {
            assert_eq!(find_user(runs, 0).await, None);
            assert_eq!(find_user(runs, 0).await, None);
            assert_eq!(find_user(runs, 3).await, Some(3));
            assert_eq!(find_user(runs, 3).await, Some(3));
            assert_eq!(runs.load(Ordering::SeqCst), 3);
            assert_eq!(find_user_caching_none(runs, 0).await, None);
            assert_eq!(find_user_caching_none(runs, 0).await, None);
            assert_eq!(runs.load(Ordering::SeqCst), 4);
        })
        .await;
}

async fn default_keys_and_plain_values(env: &Env) {
    let runs = &env.runs;
    env.forze
        .scope(async {
            assert_eq!(square(runs, 3, "a".into()).await, (9, "a".into()));
            assert_eq!(square(runs, 3, "a".into()).await, (9, "a".into()));
            assert_eq!(square(runs, 3, "b".into()).await, (9, "b".into()));
            assert_eq!(square(runs, -3, "a".into()).await, (9, "a".into()));
            assert_eq!(runs.load(Ordering::SeqCst), 3);
        })
        .await;
    // The default key is the function's path and its parameters, readable in the store.
    let users = env.forze.cache("users").unwrap();
    let stored: Option<(i64, String)> = users.get("cached::square:3:a").await.unwrap();
    assert_eq!(stored, Some((9, "a".into())));
}

async fn methods_use_their_runtime(env: &Env) {
    let svc = UserService {
        forze: env.forze.clone(),
        runs: AtomicUsize::new(0),
    };
    // No ambient runtime here: `via = self.forze` is enough.
    assert_eq!(svc.load(1).await.unwrap().name, "from service");
    assert_eq!(svc.load(1).await.unwrap().name, "from service");
    assert_eq!(svc.runs.load(Ordering::SeqCst), 1);
}

async fn invalidation_after_success_only(env: &Env) {
    let runs = &env.runs;
    env.forze
        .scope(async {
            get_user(runs, 5).await.unwrap();
            assert!(update_user(5, true).await.is_err());
            get_user(runs, 5).await.unwrap();
            assert_eq!(
                runs.load(Ordering::SeqCst),
                1,
                "failed update must not invalidate"
            );
            update_user(5, false).await.unwrap();
            get_user(runs, 5).await.unwrap();
            assert_eq!(
                runs.load(Ordering::SeqCst),
                2,
                "successful update invalidates"
            );
        })
        .await;
    // The typed runtime call drops the same entry.
    let users = env.forze.cache("users").unwrap();
    assert!(users.invalidate("user:5").await.unwrap());
}

async fn tags_drop_a_group_at_once(env: &Env) {
    let runs = &env.runs;
    env.forze
        .scope(async {
            for page in 0..3 {
                team_page(runs, &Query { team_id: 1, page }).await;
            }
            team_page(
                runs,
                &Query {
                    team_id: 2,
                    page: 0,
                },
            )
            .await;
            assert_eq!(runs.load(Ordering::SeqCst), 4);
            rename_team(1, true).await.unwrap_err();
            team_page(
                runs,
                &Query {
                    team_id: 1,
                    page: 0,
                },
            )
            .await;
            assert_eq!(runs.load(Ordering::SeqCst), 4);
            rename_team(1, false).await.unwrap();
            for page in 0..3 {
                team_page(runs, &Query { team_id: 1, page }).await;
            }
            team_page(
                runs,
                &Query {
                    team_id: 2,
                    page: 0,
                },
            )
            .await;
            assert_eq!(
                runs.load(Ordering::SeqCst),
                7,
                "team 1 recomputed, team 2 kept"
            );
        })
        .await;
    let teams = env.forze.cache("teams").unwrap();
    assert_eq!(teams.invalidate_tag("team:2").await.unwrap(), 1);
    assert_eq!(teams.invalidate_tag("team:2").await.unwrap(), 0);
}

async fn concurrent_misses_run_the_body_once(env: &Env) {
    let runs = Arc::clone(&env.runs);
    let gate = Arc::new(Notify::new());
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (forze, runs, gate) = (env.forze.clone(), runs.clone(), gate.clone());
            tokio::spawn(async move {
                let f = forze.clone();
                f.scope(async move { slow(&runs, &gate, 9).await }).await
            })
        })
        .collect();
    let users = env.forze.cache("users").unwrap();
    eventually(
        Duration::from_secs(10),
        "63 callers wait for the first",
        || async { (users.followers("slow:9") == 63).then_some(()) },
    )
    .await;
    gate.notify_one();
    for t in tasks {
        assert_eq!(t.await.unwrap(), Ok(9));
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

async fn ttl_from_the_annotation(env: &Env) {
    let runs = &env.runs;
    env.forze
        .scope(async {
            short_lived(runs, 1).await;
            let before = runs.load(Ordering::SeqCst);
            eventually(
                Duration::from_secs(5),
                "entry expires after 40ms",
                || async {
                    short_lived(runs, 1).await;
                    (runs.load(Ordering::SeqCst) > before).then_some(())
                },
            )
            .await;
        })
        .await;
}

async fn old_shaped_entries_are_misses_that_get_replaced(env: &Env) {
    let users = env.forze.cache("users").unwrap();
    users.set("user:8", &"an older shape").await.unwrap();
    let runs = &env.runs;
    env.forze
        .scope(async {
            assert_eq!(get_user(runs, 8).await.unwrap().id, 8);
            assert_eq!(get_user(runs, 8).await.unwrap().id, 8);
        })
        .await;
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(users.get::<User>("user:8").await.unwrap().unwrap().id, 8);
}

async fn tenants_get_their_own_entries(env: &Env) {
    let runs = &env.runs;
    let f = &env.forze;
    let a = f.scope(tenant::scope("acme", tenant_profile(runs))).await;
    let b = f.scope(tenant::scope("globex", tenant_profile(runs))).await;
    let a2 = f.scope(tenant::scope("acme", tenant_profile(runs))).await;
    assert_eq!(
        (a.as_str(), b.as_str(), a2.as_str()),
        ("acme", "globex", "acme")
    );
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    // Without a tenant the key cannot be built: the call goes through, uncached.
    assert_eq!(f.scope(tenant_profile(runs)).await, "");
    assert_eq!(f.scope(tenant_profile(runs)).await, "");
    assert_eq!(runs.load(Ordering::SeqCst), 4);
}

async fn oversized_results_are_returned_not_stored(env: &Env) {
    let runs = &env.runs;
    env.forze
        .scope(async {
            assert_eq!(big(runs, 100).await.len(), 100);
            assert_eq!(big(runs, 100).await.len(), 100);
            assert_eq!(big(runs, 4).await.len(), 4);
            assert_eq!(big(runs, 4).await.len(), 4);
        })
        .await;
    assert_eq!(runs.load(Ordering::SeqCst), 3);
}

forze_tests::on_both_backends!(
    ok_values_are_cached_and_errors_are_not,
    options_cache_some_unless_told,
    default_keys_and_plain_values,
    methods_use_their_runtime,
    invalidation_after_success_only,
    tags_drop_a_group_at_once,
    concurrent_misses_run_the_body_once,
    ttl_from_the_annotation,
    old_shaped_entries_are_misses_that_get_replaced,
    tenants_get_their_own_entries,
    oversized_results_are_returned_not_stored,
);

// --- backend-specific and wiring ------------------------------------------------------------

#[tokio::test]
async fn without_a_runtime_calls_go_straight_through() {
    let runs = AtomicUsize::new(0);
    assert_eq!(get_user(&runs, 1).await.unwrap().id, 1);
    assert_eq!(get_user(&runs, 1).await.unwrap().id, 1);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    let _ = RUNS.load(Ordering::SeqCst);
}

#[tokio::test]
async fn start_up_lists_every_cache_the_annotations_use_but_the_wiring_lacks() {
    let err = Forze::builder()
        .cache("users", CacheRoute::new("t:users"))
        .build()
        .await
        .unwrap_err();
    match err {
        Error::MissingRoutes { missing, .. } => assert_eq!(
            missing,
            vec![
                (RouteKind::Cache, "small".to_owned()),
                (RouteKind::Cache, "teams".to_owned()),
                (RouteKind::Cache, "tenant".to_owned()),
                (RouteKind::Lock, "fills".to_owned()),
            ]
        ),
        other => panic!("expected MissingRoutes, got {other:?}"),
    }
    // Opting out is explicit.
    Forze::builder()
        .allow_unwired_annotations()
        .build()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hit_is_one_round_trip_and_a_miss_two() {
    let env = redis().await;
    let server = env.server.as_ref().unwrap();
    let mut mon = forze_tests::monitor::Monitor::start(server).await;
    let runs = &env.runs;
    env.forze
        .scope(async {
            let _ = mon.commands().await;
            get_user(runs, 11).await.unwrap();
            assert_eq!(mon.commands().await, vec!["GET", "SET"], "miss");
            get_user(runs, 11).await.unwrap();
            assert_eq!(mon.commands().await, vec!["GET"], "hit");
            team_page(
                runs,
                &Query {
                    team_id: 3,
                    page: 1,
                },
            )
            .await;
            assert_eq!(mon.commands().await, vec!["GET", "EVALSHA"], "tagged miss");
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_never_fails_the_call() {
    let mut env = redis().await;
    let runs = &env.runs;
    env.forze.scope(get_user(runs, 21)).await.unwrap();
    env.server.as_mut().unwrap().stop();
    // Each call runs the body and returns its value, bounded by the socket timeout.
    for _ in 0..3 {
        assert_eq!(env.forze.scope(get_user(runs, 21)).await.unwrap().id, 21);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_miss_storm_across_processes_runs_the_body_once() {
    // Two runtimes on one Redis stand for two processes: separate single-flight, shared cache.
    let server = RedisServer::start();
    let mut procs = Vec::new();
    for _ in 0..2 {
        procs.push(
            routes(Forze::builder().redis(redis_config(&server)))
                .build()
                .await
                .unwrap(),
        );
    }
    let runs = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Notify::new());
    let mut tasks = Vec::new();
    for p in &procs {
        for _ in 0..32 {
            let (p, runs, gate) = (p.clone(), runs.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                let f = p.clone();
                f.scope(async move { storm(&runs, &gate, 5).await }).await
            }));
        }
    }
    // Every call in each process is either the local leader (one of them filling, the other
    // waiting on the fill lock) or following it.
    for p in &procs {
        let users = p.cache("users").unwrap();
        eventually(
            Duration::from_secs(10),
            "31 followers per process",
            || async { (users.followers("storm:5") == 31).then_some(()) },
        )
        .await;
    }
    gate.notify_one();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 5);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}
