//! The metrics of the `metrics` feature, read from a recording recorder: the operation
//! duration histogram with the OpenTelemetry name and labels, and forze's outcome counters.

use std::time::Duration;

use forze_runtime::ports::{Algorithm, Quota};
use forze_runtime::{
    CacheRoute, Forze, IdempotencyError, IdempotencyRoute, LimiterRoute, NearCache,
};
use forze_tests::{eventually, redis_config, RedisServer};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::MetricKind;

/// `(kind, name, sorted labels)` → value, for the assertions.
fn read(recorder: &DebuggingRecorder) -> Vec<(MetricKind, String, Vec<String>, DebugValue)> {
    recorder
        .snapshotter()
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let (kind, key) = key.into_parts();
            let mut labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            (kind, key.name().to_owned(), labels, value)
        })
        .collect()
}

fn counter(
    all: &[(MetricKind, String, Vec<String>, DebugValue)],
    name: &str,
    labels: &[&str],
) -> u64 {
    all.iter()
        .find(|(k, n, l, _)| {
            *k == MetricKind::Counter
                && n == name
                && labels.iter().all(|x| l.contains(&x.to_string()))
        })
        .map(|(_, _, _, v)| match v {
            DebugValue::Counter(c) => *c,
            _ => 0,
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn operations_and_outcomes_are_measured() {
    let recorder = DebuggingRecorder::new();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let server = RedisServer::start();
    let forze = Forze::builder()
        .redis(redis_config(&server))
        .cache("c", CacheRoute::new("m:c"))
        .limiter("l", LimiterRoute::new("m:l"))
        .idempotency("i", IdempotencyRoute::new("m:i"))
        // The example service's annotations are linked in too (the test below).
        .allow_unwired_annotations()
        .build()
        .await
        .unwrap();
    let cache = forze.cache("c").unwrap();
    for _ in 0..3 {
        let _: u32 = cache.get_or_compute("k", || async { 7u32 }).await;
    }
    let quota = Quota::new(1, Duration::from_secs(60), Algorithm::FixedWindow);
    let limiter = forze.limiter("l").unwrap();
    assert!(limiter.check_quota("u", &quota, 1).await.unwrap().allowed);
    assert!(!limiter.check_quota("u", &quota, 1).await.unwrap().allowed);
    let idem = forze.idempotency("i").unwrap();
    let fp = forze_runtime::codec::fingerprint(&1).unwrap();
    for _ in 0..2 {
        let r: Result<u32, IdempotencyError> = idem.run("op", "k", &fp, || async { Ok(1) }).await;
        assert_eq!(r.unwrap(), 1);
    }

    let all = read(&recorder);
    assert_eq!(
        counter(&all, "forze.cache.requests", &["route=c", "result=miss"]),
        1
    );
    assert_eq!(
        counter(&all, "forze.cache.requests", &["route=c", "result=hit"]),
        2
    );
    assert_eq!(
        counter(
            &all,
            "forze.limiter.decisions",
            &["route=l", "allowed=true"]
        ),
        1
    );
    assert_eq!(
        counter(
            &all,
            "forze.limiter.decisions",
            &["route=l", "allowed=false"]
        ),
        1
    );
    assert_eq!(
        counter(
            &all,
            "forze.idempotency.outcomes",
            &["route=i", "outcome=ran"]
        ),
        1
    );
    assert_eq!(
        counter(
            &all,
            "forze.idempotency.outcomes",
            &["route=i", "outcome=replay"]
        ),
        1
    );
    let gets = all
        .iter()
        .find(|(k, n, l, _)| {
            *k == MetricKind::Histogram
                && n == "db.client.operation.duration"
                && l.contains(&"db.operation.name=GET".to_owned())
                && l.contains(&"db.system.name=redis".to_owned())
        })
        .map(|(_, _, _, v)| match v {
            DebugValue::Histogram(samples) => samples.len(),
            _ => 0,
        })
        .expect("a duration histogram for GET");
    assert_eq!(gets, 3, "one sample per GET");
}

#[forze_runtime::cached(cache = "near", key = "n:{id}")]
async fn near_value(id: u32) -> u32 {
    id
}

#[tokio::test]
async fn the_near_cache_is_measured() {
    let recorder = DebuggingRecorder::new();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let server = RedisServer::start();
    let forze = Forze::builder()
        .redis(redis_config(&server))
        .cache("near", CacheRoute::new("m:n").near(NearCache::new(1 << 20)))
        .allow_unwired_annotations()
        .build()
        .await
        .unwrap();
    eventually(Duration::from_secs(5), "tracking on", || {
        let on = forze.near_stats().on;
        async move { on.then_some(()) }
    })
    .await;
    // The first call misses (its value not kept: the key's first computation), the second
    // reads it back and keeps it, the third is served near.
    for _ in 0..3 {
        forze
            .scope(async { assert_eq!(near_value(1).await, 1) })
            .await;
    }
    assert_eq!(forze.near_stats().hits, 1);
    // Another client's write drops it; the next call reads it from the backend (a hit).
    let mut raw = server.client().await;
    let invalidated = forze.near_stats().invalidations;
    let _: () = redis::AsyncCommands::set(&mut raw, "m:n/cache/kv/n:1", "2")
        .await
        .unwrap();
    eventually(Duration::from_secs(5), "the write's invalidation", || {
        let n = forze.near_stats().invalidations;
        async move { (n > invalidated).then_some(()) }
    })
    .await;
    forze
        .scope(async { assert_eq!(near_value(1).await, 2) })
        .await;
    // This process's own write drops its near value: counted as an invalidation too.
    assert!(forze
        .cache("near")
        .unwrap()
        .invalidate("n:1")
        .await
        .unwrap());
    // (A snapshot drains what it reads: one, at the end.)
    let all = read(&recorder);
    for (result, n) in [("near", 1), ("miss", 1), ("hit", 2)] {
        assert_eq!(
            counter(
                &all,
                "forze.cache.requests",
                &["route=near", &format!("result={result}")]
            ),
            n,
            "{result}"
        );
    }
    assert!(counter(&all, "forze.near.invalidations", &[]) >= 2);
    assert!(
        counter(&all, "forze.near.flushes", &[]) >= 1,
        "tracking established"
    );
    let state = all
        .iter()
        .find(|(k, n, _, _)| *k == MetricKind::Gauge && n == "forze.near.state")
        .map(|(_, _, _, v)| match v {
            DebugValue::Gauge(g) => g.into_inner(),
            _ => -1.0,
        });
    assert_eq!(state, Some(1.0));
}

/// The example service (built with its `metrics` feature) serves `/metrics` in the Prometheus
/// text format: after one request, the limiter's decision and the Redis operations are there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_service_serves_prometheus_metrics() {
    use forze_examples::service::{build, serve, Config};
    let server = RedisServer::start();
    let cfg = Config {
        redis: Some(redis_config(&server)),
        database_url: None,
        table: "unused".into(),
        requests_per_minute: 100,
        create_gate: None,
    };
    let (app, _forze, _store) = build(cfg).await.expect("service builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, app, async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    let missing = http.get(format!("{base}/projects/1")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let scrape = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(scrape.status(), 200);
    let text = scrape.text().await.unwrap();
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in:\n{text}"))
            .to_owned()
    };
    let decisions = line("forze_limiter_decisions");
    assert!(
        decisions.contains("route=\"http\"") && decisions.contains("allowed=\"true\""),
        "{decisions}"
    );
    assert!(line("db_client_operation_duration").contains("db_system_name=\"redis\""));
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}
