//! `#[idempotent]` end to end, on the in-memory backend and on a real redis-server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use forze_runtime::{idempotent, Begin, Forze, ForzeBuilder, IdempotencyError, IdempotencyRoute};
use forze_tests::{eventually, redis_config};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

#[derive(Debug)]
enum AppError {
    Idem(IdempotencyError),
    Declined,
}

impl From<IdempotencyError> for AppError {
    fn from(e: IdempotencyError) -> Self {
        AppError::Idem(e)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Payment {
    id: usize,
    amount: u64,
}

#[derive(Serialize)]
struct NewPayment {
    customer: String,
    amount: u64,
}

fn routes(b: ForzeBuilder) -> ForzeBuilder {
    b.idempotency("default", IdempotencyRoute::new("t:idem"))
        .idempotency(
            "short",
            IdempotencyRoute::new("t:idem-short").lease(Duration::from_millis(80)),
        )
}

use forze_tests::Harness as Env;

async fn memory() -> Env {
    Env::memory(routes).await
}

async fn redis() -> Env {
    Env::redis(routes).await
}

#[idempotent(store = "default", operation = "create_payment", key = idem_key, skip(runs, decline))]
async fn create_payment(
    runs: &AtomicUsize,
    idem_key: String,
    cmd: NewPayment,
    decline: bool,
) -> Result<Payment, AppError> {
    let id = runs.fetch_add(1, Ordering::SeqCst) + 1;
    if decline {
        return Err(AppError::Declined);
    }
    Ok(Payment {
        id,
        amount: cmd.amount,
    })
}

/// The key is optional: `None` means no idempotency for this call.
#[idempotent(store = "default", key = idem_key, skip(runs))]
async fn maybe_idempotent(
    runs: &AtomicUsize,
    idem_key: Option<u64>,
    amount: u64,
) -> Result<u64, AppError> {
    runs.fetch_add(1, Ordering::SeqCst);
    Ok(amount)
}

/// Held until the test opens the gate.
#[idempotent(store = "default", operation = "slow", key = idem_key, skip(runs, gate))]
async fn slow_payment(
    runs: &AtomicUsize,
    gate: &Notify,
    idem_key: String,
    amount: u64,
) -> Result<usize, AppError> {
    let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
    gate.notified().await;
    let _ = amount;
    Ok(n)
}

#[idempotent(store = "default", operation = "patient", key = idem_key, wait = "10s", skip(runs, gate))]
async fn patient_payment(
    runs: &AtomicUsize,
    gate: &Notify,
    idem_key: String,
) -> Result<usize, AppError> {
    let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
    gate.notified().await;
    Ok(n)
}

/// A store with a short lease (80 ms), renewed while the body runs.
#[idempotent(store = "short", operation = "fenced", key = idem_key, skip(runs, gate))]
async fn fenced(
    runs: &AtomicUsize,
    gate: Option<&Notify>,
    idem_key: String,
) -> Result<usize, AppError> {
    let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
    if let Some(gate) = gate {
        gate.notified().await;
    }
    Ok(n)
}

fn cmd(amount: u64) -> NewPayment {
    NewPayment {
        customer: "alice".into(),
        amount,
    }
}

async fn duplicates_replay_without_running(env: &Env) {
    let runs = &env.runs;
    env.forze
        .scope(async {
            let first = create_payment(runs, "k1".into(), cmd(10), false)
                .await
                .unwrap();
            let again = create_payment(runs, "k1".into(), cmd(10), false)
                .await
                .unwrap();
            assert_eq!(first, again);
            assert_eq!(runs.load(Ordering::SeqCst), 1);
            // Another key runs.
            create_payment(runs, "k2".into(), cmd(10), false)
                .await
                .unwrap();
            assert_eq!(runs.load(Ordering::SeqCst), 2);
        })
        .await;
}

async fn another_payload_is_a_mismatch(env: &Env) {
    let runs = &env.runs;
    env.forze
        .scope(async {
            create_payment(runs, "k1".into(), cmd(10), false)
                .await
                .unwrap();
            match create_payment(runs, "k1".into(), cmd(11), false).await {
                Err(AppError::Idem(IdempotencyError::Mismatch { operation, key })) => {
                    assert_eq!((operation.as_str(), key.as_str()), ("create_payment", "k1"));
                }
                other => panic!("expected a mismatch, got {other:?}"),
            }
            assert_eq!(runs.load(Ordering::SeqCst), 1);
        })
        .await;
}

async fn failures_release_the_key_for_a_retry(env: &Env) {
    let runs = &env.runs;
    env.forze
        .scope(async {
            assert!(matches!(
                create_payment(runs, "k1".into(), cmd(10), true).await,
                Err(AppError::Declined)
            ));
            let retried = create_payment(runs, "k1".into(), cmd(10), false)
                .await
                .unwrap();
            assert_eq!(retried.id, 2);
            assert_eq!(
                create_payment(runs, "k1".into(), cmd(10), false)
                    .await
                    .unwrap(),
                retried
            );
            assert_eq!(runs.load(Ordering::SeqCst), 2);
        })
        .await;
}

async fn a_duplicate_of_a_running_call_is_in_progress(env: &Env) {
    let runs = env.runs.clone();
    let gate = Arc::new(Notify::new());
    let first = {
        let (f, runs, gate) = (env.forze.clone(), runs.clone(), gate.clone());
        tokio::spawn(async move {
            let rt = f.clone();
            rt.scope(async move { slow_payment(&runs, &gate, "k9".into(), 5).await })
                .await
        })
    };
    eventually(Duration::from_secs(10), "first call is running", || async {
        (runs.load(Ordering::SeqCst) == 1).then_some(())
    })
    .await;
    let dup = env
        .forze
        .scope(slow_payment(&runs, &gate, "k9".into(), 5))
        .await;
    assert!(
        matches!(
            dup,
            Err(AppError::Idem(IdempotencyError::InProgress { .. }))
        ),
        "{dup:?}"
    );
    gate.notify_one();
    assert_eq!(first.await.unwrap().unwrap(), 1);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

async fn concurrent_identical_calls_run_once(env: &Env) {
    let runs = env.runs.clone();
    let gate = Arc::new(Notify::new());
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (f, runs, gate) = (env.forze.clone(), runs.clone(), gate.clone());
            tokio::spawn(async move {
                let rt = f.clone();
                rt.scope(async move { patient_payment(&runs, &gate, "hot".into()).await })
                    .await
            })
        })
        .collect();
    eventually(Duration::from_secs(10), "one call is running", || async {
        (runs.load(Ordering::SeqCst) == 1).then_some(())
    })
    .await;
    gate.notify_one();
    for t in tasks {
        assert_eq!(
            t.await.unwrap().unwrap(),
            1,
            "every caller gets the one result"
        );
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

async fn no_key_means_no_idempotency(env: &Env) {
    let runs = &env.runs;
    env.forze
        .scope(async {
            maybe_idempotent(runs, None, 1).await.unwrap();
            maybe_idempotent(runs, None, 1).await.unwrap();
            maybe_idempotent(runs, Some(7), 1).await.unwrap();
            maybe_idempotent(runs, Some(7), 1).await.unwrap();
        })
        .await;
    assert_eq!(runs.load(Ordering::SeqCst), 3);
}

/// The first call's body runs for many leases (80 ms each): its claim is renewed, so no
/// duplicate ever starts a second run, and once it commits, duplicates replay its result.
async fn a_body_longer_than_the_lease_runs_once(env: &Env) {
    let runs = env.runs.clone();
    let gate = Arc::new(Notify::new());
    let first = {
        let (f, runs, gate) = (env.forze.clone(), runs.clone(), gate.clone());
        tokio::spawn(async move {
            let rt = f.clone();
            rt.scope(async move { fenced(&runs, Some(&gate), "k".into()).await })
                .await
        })
    };
    eventually(Duration::from_secs(10), "first call is running", || async {
        (runs.load(Ordering::SeqCst) == 1).then_some(())
    })
    .await;
    let lease = Duration::from_millis(80);
    let start = std::time::Instant::now();
    let mut duplicates = 0;
    while start.elapsed() < lease * 10 || duplicates < 10 {
        match env.forze.scope(fenced(&runs, None, "k".into())).await {
            Err(AppError::Idem(IdempotencyError::InProgress { .. })) => duplicates += 1,
            other => panic!("a duplicate must wait for the running first call, got {other:?}"),
        }
        tokio::time::sleep(lease / 4).await;
    }
    gate.notify_one();
    assert_eq!(first.await.unwrap().unwrap(), 1);
    let replay = env.forze.scope(fenced(&runs, None, "k".into())).await;
    assert_eq!(replay.unwrap(), 1);
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the body ran once");
}

/// A claim whose owner stopped (died, or its begin's answer was lost) is free again after one
/// lease; its owner cannot commit over the new owner's, but may commit a claim that lapsed with
/// nobody else holding the key (it holds the only result).
async fn an_abandoned_claim_frees_itself_within_a_lease(env: &Env) {
    let store = env.forze.idempotency("short").unwrap();
    let fp = forze_runtime::codec::fingerprint(&1).unwrap();
    let Begin::Proceed(abandoned) = store.begin("op", "dead", &fp).await.unwrap() else {
        panic!("first begin must proceed");
    };
    let started = std::time::Instant::now();
    let taken = eventually(Duration::from_secs(2), "the key is free again", || async {
        match store
            .run("op", "dead", &fp, || async {
                Ok::<_, IdempotencyError>(5u32)
            })
            .await
        {
            Ok(v) => Some(v),
            Err(IdempotencyError::InProgress { .. }) => None,
            Err(e) => panic!("unexpected {e:?}"),
        }
    })
    .await;
    assert_eq!(taken, 5);
    assert!(
        started.elapsed() < Duration::from_millis(80) * 5,
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(
        abandoned.commit(&9u32).await,
        Err(forze_runtime::Error::NotOwner { .. })
    ));
    // A claim that lapsed while nobody took the key: its owner's commit is recorded.
    let Begin::Proceed(late) = store.begin("op", "late", &fp).await.unwrap() else {
        panic!("first begin must proceed");
    };
    // Waiting for the lease (80 ms) to run out is the behaviour under test, not a
    // synchronisation between tasks.
    tokio::time::sleep(Duration::from_millis(80) * 3).await;
    late.commit(&7u32).await.unwrap();
    match store.begin("op", "late", &fp).await.unwrap() {
        Begin::Replay(snapshot) => assert_eq!(snapshot.decode::<u32>().unwrap(), 7),
        other => panic!("the late commit must be recorded, got {other:?}"),
    }
}

forze_tests::on_both_backends!(
    duplicates_replay_without_running,
    another_payload_is_a_mismatch,
    failures_release_the_key_for_a_retry,
    a_duplicate_of_a_running_call_is_in_progress,
    concurrent_identical_calls_run_once,
    no_key_means_no_idempotency,
    a_body_longer_than_the_lease_runs_once,
    an_abandoned_claim_frees_itself_within_a_lease,
);

#[tokio::test]
async fn replay_survives_a_new_process_on_the_same_redis() {
    let env = redis().await;
    let server = env.server.as_ref().unwrap();
    let runs = &env.runs;
    let first = env
        .forze
        .scope(create_payment(runs, "k1".into(), cmd(10), false))
        .await
        .unwrap();
    env.forze.clone().shutdown().await;
    let restarted = routes(Forze::builder().redis(redis_config(server)))
        .build()
        .await
        .unwrap();
    let replayed = restarted
        .scope(create_payment(runs, "k1".into(), cmd(10), false))
        .await
        .unwrap();
    assert_eq!(first, replayed);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_store_that_is_down_fails_closed() {
    let mut env = redis().await;
    env.server.as_mut().unwrap().stop();
    let runs = &env.runs;
    let r = env
        .forze
        .scope(create_payment(runs, "k1".into(), cmd(10), false))
        .await;
    assert!(
        matches!(&r, Err(AppError::Idem(IdempotencyError::Unavailable(e))) if e.is_unavailable()),
        "{r:?}"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 0, "the body must not run");
}

#[tokio::test]
async fn without_a_runtime_nothing_runs() {
    let runs = AtomicUsize::new(0);
    let r = create_payment(&runs, "k1".into(), cmd(10), false).await;
    assert!(
        matches!(r, Err(AppError::Idem(IdempotencyError::Unavailable(_)))),
        "{r:?}"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_call_is_two_round_trips_and_a_replay_one() {
    let env = redis().await;
    let mut mon = forze_tests::monitor::Monitor::start(env.server.as_ref().unwrap()).await;
    let runs = &env.runs;
    // The claim is a plain `SET … NX PX … GET`; the commit `SET … IFEQ` where the server has
    // it (Valkey ≥ 8.1, Redis ≥ 8.4), a script elsewhere.
    let commit = if env
        .forze
        .health()
        .await
        .native_commands
        .contains(&"SET IFEQ")
    {
        "SET"
    } else {
        "EVALSHA"
    };
    env.forze
        .scope(async {
            let _ = mon.commands().await;
            create_payment(runs, "rt".into(), cmd(1), false)
                .await
                .unwrap();
            assert_eq!(mon.commands().await, vec!["SET", commit], "claim, commit");
            create_payment(runs, "rt".into(), cmd(1), false)
                .await
                .unwrap();
            assert_eq!(
                mon.commands().await,
                vec!["SET"],
                "a replay is one plain SET … GET"
            );
        })
        .await;
}
