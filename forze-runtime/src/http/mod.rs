//! HTTP integration for axum / tower (feature `axum`): a rate-limit layer with `X-RateLimit-*`
//! (and optionally the IETF `RateLimit` / `RateLimit-Policy`) headers, an `Idempotency-Key`
//! layer for unsafe methods, and a health response for the backend.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), forze_runtime::Error> {
//! use std::time::Duration;
//! use axum::{routing::{get, post}, Router};
//! use forze_runtime::http::{health_response, IdempotencyLayer, KeyBy, RateLimitLayer};
//! use forze_runtime::ports::{Algorithm, Quota};
//! use forze_runtime::{Forze, IdempotencyRoute, LimiterRoute};
//!
//! let forze = Forze::builder()
//!     .limiter("http", LimiterRoute::new("app:http").quota(Quota::new(100, Duration::from_secs(60), Algorithm::Gcra)))
//!     .idempotency("http", IdempotencyRoute::new("app:http-idem"))
//!     .build()
//!     .await?;
//! let health = forze.clone();
//! let app: Router = Router::new()
//!     .route("/projects", post(|| async { "created" }))
//!     .layer(IdempotencyLayer::scoped(forze.idempotency("http")?, KeyBy::Header(http::header::AUTHORIZATION)))
//!     .layer(RateLimitLayer::new(forze.limiter("http")?, KeyBy::PeerIp)?)
//!     .route("/health/redis", get(move || async move { health_response(&health).await }));
//! // axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
//! # let _ = app; Ok(()) }
//! ```

mod health;
mod idempotency;
mod rate_limit;

pub use health::health_response;
pub use idempotency::IdempotencyLayer;
pub use idempotency::IdempotencyService;
pub use rate_limit::{KeyBy, KeyFn, RateLimitLayer, RateLimitService};

use axum::body::Body;
use axum::response::Response;
use http::StatusCode;

/// The service that was polled ready, leaving a clone in its place for the next call.
fn take_ready<S: Clone>(slot: &mut S) -> S {
    let clone = slot.clone();
    std::mem::replace(slot, clone)
}

/// An error response as RFC 9457 problem details (`application/problem+json`): `type` (a URN
/// naming the problem, `urn:forze:problem:{code}`), `title`, `status`, `detail`, and `error`
/// (the code alone, for clients that match on it). The layers answer their errors with it;
/// handlers can too, so that every error of an API reads alike.
///
/// ```
/// use forze_runtime::http::problem;
/// let resp = problem(http::StatusCode::NOT_FOUND, "not_found", "no such project");
/// assert_eq!(resp.status(), 404);
/// assert_eq!(resp.headers()["content-type"], "application/problem+json");
/// ```
pub fn problem(status: StatusCode, code: &str, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": format!("urn:forze:problem:{code}"),
        "title": status.canonical_reason().unwrap_or("error"),
        "status": status.as_u16(),
        "detail": detail,
        "error": code,
    });
    problem_response(status, &body)
}

/// The answer to a refused request: `429 Too Many Requests` with `Retry-After`, its body the
/// `quota-exceeded` problem of draft-ietf-httpapi-ratelimit-headers-11 naming the policy in
/// `violated-policies` (and `error: "rate_limited"`). [`RateLimitLayer`] answers with it;
/// a handler refused by `#[rate_limited]` can too, so both refusals read alike.
///
/// ```
/// use forze_runtime::http::quota_exceeded;
/// let resp = quota_exceeded("stars", 12);
/// assert_eq!(resp.status(), 429);
/// assert_eq!(resp.headers()["retry-after"], "12");
/// assert_eq!(resp.headers()["content-type"], "application/problem+json");
/// ```
pub fn quota_exceeded(policy: &str, retry_after_secs: u64) -> Response {
    let body = serde_json::json!({
        "type": "https://iana.org/assignments/http-problem-types#quota-exceeded",
        "title": "Request cannot be satisfied as assigned quota has been exceeded",
        "status": 429,
        "detail": format!("too many requests; retry after {retry_after_secs}s"),
        "error": "rate_limited",
        "violated-policies": [policy],
    });
    let mut resp = problem_response(StatusCode::TOO_MANY_REQUESTS, &body);
    resp.headers_mut().insert(
        http::header::RETRY_AFTER,
        http::HeaderValue::from(retry_after_secs),
    );
    resp
}

/// A problem-details body as the response.
fn problem_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/problem+json"),
    );
    resp
}
