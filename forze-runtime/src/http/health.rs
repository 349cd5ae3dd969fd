use axum::body::Body;
use axum::response::Response;
use http::StatusCode;

use crate::Forze;

/// The backend's health as JSON: `200` when it answers, `503` with the reason when it does not.
///
/// The body: `{"backend": "redis", "status": "up" | "down", "state": "connected" | "down" |
/// "embedded", "latency_ms": 0.21, "connections": 10, "config": "RedisConfig { url: \"redis://:***@…\", … }",
/// "error": null, "breaker": "closed" | "open" | "none", "persistence": "aof" | "rdb" | "none" | "unknown" |
/// "memory"}` — secrets redacted.
pub async fn health_response(forze: &Forze) -> Response {
    let h = forze.health().await;
    let body = serde_json::json!({
        "backend": h.backend,
        "status": if h.reachable { "up" } else { "down" },
        "state": h.state,
        "latency_ms": h.latency.map(|d| d.as_secs_f64() * 1000.0),
        "connections": h.connections,
        "config": h.config,
        "error": h.error,
        "breaker": h.breaker,
        "persistence": h.persistence,
    });
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = if h.reachable {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    resp
}
