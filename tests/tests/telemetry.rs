//! Every backend operation is a `tracing` span named and with fields after the OpenTelemetry
//! database conventions, asserted with a subscriber that records them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use forze_runtime::ports::{Algorithm, Quota};
use forze_runtime::{
    cached, idempotent, rate_limited, CacheRoute, Forze, IdempotencyError, IdempotencyRoute,
    LimiterRoute, RateLimited, RedisConfig,
};
use forze_tests::RedisServer;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

/// A span's name (as `span`) and fields.
type SpanFields = BTreeMap<String, String>;

/// The spans seen, in the order they were opened.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<(Id, SpanFields)>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_owned(),
            format!("{value:?}").trim_matches('"').to_owned(),
        );
    }
}

impl<S: tracing::Subscriber> Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        fields.insert("span".to_owned(), attrs.metadata().name().to_owned());
        fields.insert("id".to_owned(), format!("{}", id.into_u64()));
        let parent = attrs
            .parent()
            .cloned()
            .or_else(|| ctx.current_span().id().cloned());
        if let Some(parent) = parent {
            fields.insert("parent".to_owned(), format!("{}", parent.into_u64()));
        }
        attrs.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push((id.clone(), fields));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap();
        if let Some((_, fields)) = spans.iter_mut().find(|(i, _)| i == id) {
            values.record(&mut Fields(fields));
        }
    }
}

impl Spans {
    fn redis(&self) -> Vec<SpanFields> {
        self.named("redis")
    }

    fn named(&self, name: &str) -> Vec<SpanFields> {
        let spans = self.0.lock().unwrap();
        spans
            .iter()
            .map(|(_, f)| f.clone())
            .filter(|f| f.get("span").map(String::as_str) == Some(name))
            .collect()
    }
}

#[tokio::test]
async fn backend_operations_are_spans_with_the_database_conventions() {
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut server = RedisServer::start();
    let forze = Forze::builder()
        .redis(
            RedisConfig::new(server.url())
                .socket_timeout(Duration::from_millis(500))
                .connect_timeout(Duration::from_millis(500)),
        )
        .cache("c", CacheRoute::new("t:c"))
        .limiter("l", LimiterRoute::new("t:l"))
        .allow_unwired_annotations()
        .build()
        .await
        .unwrap();
    let cache = forze.cache("c").unwrap();
    cache.set("k", &1u32).await.unwrap();
    let _ = cache.get::<u32>("k").await.unwrap();
    let gcra = Quota::new(10, Duration::from_secs(60), Algorithm::Gcra);
    forze
        .limiter("l")
        .unwrap()
        .check_quota("u", &gcra, 1)
        .await
        .unwrap();

    let seen = spans.redis();
    let by_op = |op: &str| {
        seen.iter()
            .find(|f| f.get("db.operation.name").map(String::as_str) == Some(op))
            .cloned()
            .unwrap_or_else(|| panic!("no span for {op}: {seen:?}"))
    };
    let get = by_op("GET");
    assert_eq!(get["db.system.name"], "redis");
    assert_eq!(get["otel.name"], "GET");
    assert_eq!(get["server.address"], "127.0.0.1");
    assert_eq!(get["server.port"], server.port().to_string());
    assert!(!get.contains_key("error.type"), "{get:?}");
    assert!(!get.contains_key("db.stored_procedure.name"), "{get:?}");
    let script = by_op("EVALSHA");
    assert_eq!(script["db.stored_procedure.name"], "rate_gcra");

    // A failed operation says what failed.
    server.stop();
    let _ = cache.get::<u32>("k").await;
    let failed = spans.redis().into_iter().last().unwrap();
    assert_eq!(failed["db.operation.name"], "GET");
    assert!(
        ["unreachable", "timed out"].contains(&failed["error.type"].as_str()),
        "{failed:?}"
    );
}

#[derive(Debug, PartialEq)]
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

#[cached(cache = "c", key = "n:{n}")]
async fn doubled(n: u32) -> u32 {
    n * 2
}

#[rate_limited(limiter = "l", key = "u", limit = 1, per = "1m")]
async fn once() -> Result<(), AppError> {
    Ok(())
}

#[idempotent(store = "i", operation = "pay", key = key)]
async fn pay(key: u32) -> Result<u32, AppError> {
    Ok(key)
}

/// Each annotated call is a `forze` span under the caller's, with its route, kind and outcome;
/// its backend operations' spans are under it.
#[tokio::test]
async fn annotated_calls_are_spans_with_their_outcome() {
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = RedisServer::start();
    let forze = Forze::builder()
        .redis(RedisConfig::new(server.url()))
        .cache("c", CacheRoute::new("t:c"))
        .limiter("l", LimiterRoute::new("t:l"))
        .idempotency("i", IdempotencyRoute::new("t:i"))
        .build()
        .await
        .unwrap();
    let caller = tracing::debug_span!("handler");
    let caller_id = caller.id().unwrap().into_u64().to_string();
    forze
        .scope(tracing::Instrument::instrument(
            async {
                assert_eq!(doubled(2).await, 4);
                assert_eq!(doubled(2).await, 4);
                assert_eq!(once().await, Ok(()));
                assert_eq!(once().await, Err(AppError::Limited));
                assert_eq!(pay(7).await, Ok(7));
                assert_eq!(pay(7).await, Ok(7));
            },
            caller,
        ))
        .await;

    let flows = spans.named("forze");
    let outcomes: Vec<(&str, &str, &str)> = flows
        .iter()
        .map(|f| {
            (
                f["forze.kind"].as_str(),
                f["forze.route"].as_str(),
                f.get("forze.outcome").map_or("", String::as_str),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("cache", "c", "fill"),
            ("cache", "c", "hit"),
            ("limiter", "l", "allowed"),
            ("limiter", "l", "denied"),
            ("idempotency", "i", "ran"),
            ("idempotency", "i", "replay"),
        ]
    );
    assert!(flows.iter().all(|f| f["parent"] == caller_id), "{flows:?}");
    // The hit's GET is under the hit's span.
    let hit = &flows[1];
    let under_hit: Vec<_> = spans
        .redis()
        .into_iter()
        .filter(|r| r.get("parent") == Some(&hit["id"]))
        .collect();
    assert_eq!(under_hit.len(), 1, "{under_hit:?}");
    assert_eq!(under_hit[0]["db.operation.name"], "GET");
}
