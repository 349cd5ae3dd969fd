//! Metrics, with the `metrics` feature, through the [`metrics`](https://docs.rs/metrics) facade
//! (the application installs a recorder, e.g. a Prometheus exporter; without one they cost a
//! check). Names and labels follow the OpenTelemetry conventions where they exist and stay low
//! in cardinality (route names and outcomes, never keys):
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `db.client.operation.duration` | histogram, seconds | `db.system.name`, `db.operation.name`, `error.type` (on failures) |
//! | `forze.cache.requests` | counter | `route`, `result` = `hit` / `miss` / `near` (a near-cache hit) |
//! | `forze.near.invalidations` | counter | keys dropped from near tiers (by the server or own writes) |
//! | `forze.near.flushes` | counter | times every near tier was emptied |
//! | `forze.near.state` | gauge | `1` near tiers serve, `0` off (tracking not established) |
//! | `forze.limiter.decisions` | counter | `route`, `allowed` = `true` / `false` |
//! | `forze.idempotency.outcomes` | counter | `route`, `outcome` = `ran` / `replay` / `in_progress` / `mismatch` / `refused` |
//! | `forze.breaker.state` | gauge | `0` closed, `1` open |
//!
//! Without the feature every function here is empty and compiles away. (The spans of each
//! operation are `tracing`'s, always on: see the README's telemetry section.)

use std::sync::Arc;
#[cfg(feature = "metrics")]
use std::time::Instant;

/// A route's name as a label: shared, not copied.
#[cfg(feature = "metrics")]
fn label(route: &Arc<str>) -> metrics::SharedString {
    metrics::SharedString::from_shared(Arc::clone(route))
}

/// The name of a command as a label, without allocating (the commands forze sends).
#[cfg(feature = "metrics")]
fn operation_label(name: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "GET",
        "SET",
        "DEL",
        "MGET",
        "INCRBY",
        "PEXPIREAT",
        "PTTL",
        "EVALSHA",
        "PIPELINE",
        "DELIFEQ",
        "DELEX",
        "PING",
        "INFO",
        "CONFIG",
    ];
    KNOWN
        .iter()
        .find(|k| **k == name)
        .copied()
        .unwrap_or("other")
}

/// When an operation started (nothing without the `metrics` feature).
#[derive(Clone, Copy)]
pub(crate) struct Started(#[cfg(feature = "metrics")] Instant);

impl Started {
    pub(crate) fn now() -> Self {
        #[cfg(feature = "metrics")]
        return Self(Instant::now());
        #[cfg(not(feature = "metrics"))]
        Self()
    }
}

/// One backend operation ended: its duration, by operation and error class.
pub(crate) fn operation(_started: Started, _operation: &str, _error: Option<&'static str>) {
    #[cfg(feature = "metrics")]
    {
        let seconds = _started.0.elapsed().as_secs_f64();
        match _error {
            None => metrics::histogram!("db.client.operation.duration", "db.system.name" => "redis", "db.operation.name" => operation_label(_operation)).record(seconds),
            Some(e) => metrics::histogram!("db.client.operation.duration", "db.system.name" => "redis", "db.operation.name" => operation_label(_operation), "error.type" => e).record(seconds),
        }
    }
}

/// A cache read of `route` was a `hit`, a `miss` or a `near` hit.
pub(crate) fn cache_request(_route: &Arc<str>, _result: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("forze.cache.requests", "route" => label(_route), "result" => _result)
        .increment(1);
}

/// A key was dropped from a near tier.
pub(crate) fn near_invalidation() {
    #[cfg(feature = "metrics")]
    metrics::counter!("forze.near.invalidations").increment(1);
}

/// Every near tier was emptied.
pub(crate) fn near_flush() {
    #[cfg(feature = "metrics")]
    metrics::counter!("forze.near.flushes").increment(1);
}

/// The near tiers started (`true`) or stopped serving.
pub(crate) fn near_state(_on: bool) {
    #[cfg(feature = "metrics")]
    metrics::gauge!("forze.near.state").set(if _on { 1.0 } else { 0.0 });
}

/// A limiter of `route` decided.
pub(crate) fn limiter_decision(_route: &Arc<str>, _allowed: bool) {
    #[cfg(feature = "metrics")]
    metrics::counter!("forze.limiter.decisions", "route" => label(_route), "allowed" => if _allowed { "true" } else { "false" }).increment(1);
}

/// An idempotent run of `route` ended with `outcome` (also recorded on its span).
pub(crate) fn idempotency_outcome(_route: &Arc<str>, _outcome: &'static str) {
    outcome(_outcome);
    #[cfg(feature = "metrics")]
    metrics::counter!("forze.idempotency.outcomes", "route" => label(_route), "outcome" => _outcome).increment(1);
}

/// The span of one flow (a `#[cached]`, `#[idempotent]` or `#[rate_limited]` call, or the
/// typed call it makes): `forze` at `debug` level, with `forze.kind` (`cache`, `idempotency`,
/// `limiter`), `forze.route` and, once known, `forze.outcome` (see [`outcome`]). It nests
/// under the caller's span, and the backend operations' spans under it.
pub(crate) fn flow_span(kind: &'static str, route: &str) -> tracing::Span {
    // Checked first: with `tracing`'s `log` feature on (any crate in the build may turn it on),
    // a disabled span is still built and recorded for `log` (~160 instructions per call,
    // measured on a near hit); spans are for tracing subscribers.
    if !tracing::level_enabled!(tracing::Level::DEBUG) {
        return tracing::Span::none();
    }
    tracing::debug_span!(
        "forze",
        otel.name = kind,
        forze.kind = kind,
        forze.route = route,
        forze.outcome = tracing::field::Empty,
    )
}

/// Records how the current flow ended on its span (`forze.outcome`): a cache's `hit`, `fill`
/// (computed here and stored), `shared` (another computation's value, in this process or
/// another) or `bypass` (computed without the cache: it was down, re-entered or had no key);
/// a limiter's `allowed` / `denied`; an idempotent run's `ran`, `replay`, `in_progress`,
/// `mismatch`, `refused`. Costs a level check when nothing listens at `debug`.
pub(crate) fn outcome(outcome: &'static str) {
    if tracing::level_enabled!(tracing::Level::DEBUG) {
        tracing::Span::current().record("forze.outcome", outcome);
    }
}

/// Runs `fut` in `span` — or, when nothing records the span, as it is (no wrapper to move).
macro_rules! in_flow_span {
    ($span:expr, $fut:expr) => {{
        let span: tracing::Span = $span;
        if span.is_disabled() {
            $fut.await
        } else {
            tracing::Instrument::instrument($fut, span).await
        }
    }};
}
pub(crate) use in_flow_span;

/// The breaker opened (`true`) or closed.
pub(crate) fn breaker_state(_open: bool) {
    #[cfg(feature = "metrics")]
    metrics::gauge!("forze.breaker.state").set(if _open { 1.0 } else { 0.0 });
}
