//! Every backend operation is a `tracing` span named and with fields after the OpenTelemetry
//! database conventions, asserted with a subscriber that records them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use forze_runtime::ports::{Algorithm, Quota};
use forze_runtime::{CacheRoute, Forze, LimiterRoute, RedisConfig};
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
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        fields.insert("span".to_owned(), attrs.metadata().name().to_owned());
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
        let spans = self.0.lock().unwrap();
        spans
            .iter()
            .map(|(_, f)| f.clone())
            .filter(|f| f.get("span").map(String::as_str) == Some("redis"))
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
