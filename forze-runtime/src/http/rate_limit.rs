use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use futures_util::future::BoxFuture;
use http::{HeaderName, HeaderValue, Request, StatusCode};

use crate::error::{Error, RouteKind};
use crate::keys::client_key;
use crate::ports::{Decision, Quota};
use crate::Limiter;

/// What a rate-limited request is counted by.
#[derive(Clone)]
pub enum KeyBy {
    /// The peer's IP address (needs `into_make_service_with_connect_info::<SocketAddr>()`).
    PeerIp,
    /// The client's IP behind trusted proxies: when the peer is one of `trusted`, the right-most
    /// `X-Forwarded-For` entry that is not a trusted proxy; otherwise the peer itself. Entries
    /// a client wrote itself (left of the proxies') are never believed.
    ForwardedFor {
        /// The proxies whose `X-Forwarded-For` is believed.
        trusted: Vec<IpAddr>,
    },
    /// A request header's value (e.g. an API key); requests without it share one bucket.
    Header(HeaderName),
    /// Anything else (e.g. the authenticated user from an extension); `None` shares one bucket.
    Custom(KeyFn),
}

/// A function that picks a request's rate-limit key.
pub type KeyFn = Arc<dyn Fn(&http::request::Parts) -> Option<String> + Send + Sync>;

impl std::fmt::Debug for KeyBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyBy::PeerIp => f.write_str("PeerIp"),
            KeyBy::ForwardedFor { trusted } => write!(f, "ForwardedFor({trusted:?})"),
            KeyBy::Header(h) => write!(f, "Header({h})"),
            KeyBy::Custom(_) => f.write_str("Custom"),
        }
    }
}

fn peer(parts: &http::request::Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

impl KeyBy {
    pub(crate) fn key(&self, parts: &http::request::Parts) -> Option<String> {
        match self {
            KeyBy::PeerIp => peer(parts).map(|ip| client_key("ip", &ip.to_string())),
            KeyBy::ForwardedFor { trusted } => {
                let peer = peer(parts)?;
                if !trusted.contains(&peer) {
                    return Some(client_key("ip", &peer.to_string()));
                }
                let chain: Vec<IpAddr> = parts
                    .headers
                    .get_all("x-forwarded-for")
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .flat_map(|v| v.split(','))
                    .filter_map(|s| s.trim().parse().ok())
                    .collect();
                let client = chain
                    .iter()
                    .rev()
                    .find(|ip| !trusted.contains(ip))
                    .copied()
                    .unwrap_or(peer);
                Some(client_key("ip", &client.to_string()))
            }
            KeyBy::Header(name) => parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| client_key("h", v)),
            KeyBy::Custom(f) => f(parts),
        }
    }
}

/// A tower layer that rate limits every request with a wired limiter (one round trip each).
///
/// Admitted requests get `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`
/// (seconds until the full quota is back); refused ones get `429 Too Many Requests`, the same
/// headers, `Retry-After` (seconds) and a JSON body. With [`RateLimitLayer::ietf_headers`], the
/// fields of draft-ietf-httpapi-ratelimit-headers-11 are added: `RateLimit-Policy:
/// "name";q=100;w=60` and `RateLimit: "name";r=42;t=17`, the limiter's name as a structured-field
/// String (a refused request's `t` is its `Retry-After`, and its body the draft's
/// `quota-exceeded` problem with `violated-policies`). When the limiter's backend is down, its
/// [`crate::LimiterFailure`] policy decides (`Error` answers `503`).
#[derive(Clone, Debug)]
pub struct RateLimitLayer {
    limiter: Limiter,
    quota: Quota,
    key_by: KeyBy,
    ietf: bool,
    warned: Arc<std::sync::atomic::AtomicBool>,
}

impl RateLimitLayer {
    /// A layer counting by `key_by` against the limiter's wired quota (an error if it has none).
    pub fn new(limiter: Limiter, key_by: KeyBy) -> Result<Self, Error> {
        let quota = limiter.quota().ok_or_else(|| Error::InvalidArgument {
            kind: RouteKind::Limiter,
            route: limiter.core.name.to_string(),
            message: "the rate-limit layer needs a limiter with a quota in the wiring".into(),
        })?;
        Ok(Self {
            limiter,
            quota,
            key_by,
            ietf: false,
            warned: Arc::default(),
        })
    }

    /// Also sends the IETF draft `RateLimit` and `RateLimit-Policy` fields.
    pub fn ietf_headers(mut self, yes: bool) -> Self {
        self.ietf = yes;
        self
    }
}

impl<S> tower::Layer<S> for RateLimitLayer {
    type Service = RateLimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimitService {
            inner,
            layer: Arc::new(self.clone()),
        }
    }
}

/// The service of [`RateLimitLayer`].
#[derive(Clone, Debug)]
pub struct RateLimitService<S> {
    inner: S,
    layer: Arc<RateLimitLayer>,
}

fn secs_ceil(d: std::time::Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn set(resp: &mut Response, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().insert(HeaderName::from_static(name), v);
    }
}

/// The policy's name as a structured-field String (RFC 9651 §3.3.3), as draft-11 of the
/// RateLimit fields requires of a policy's identifier: `\\` and `"` escaped, any byte outside
/// printable ASCII written `_` (`api` → `"api"`, `per user` → `"per user"`).
fn policy_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        match c {
            '\\' | '"' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('_'),
        }
    }
    out.push('"');
    out
}

/// The rate-limit fields of a response. `window` is the `t` of the IETF `RateLimit` field: the
/// seconds until the full quota is back on an admitted request, and on a refused one the
/// `Retry-After` delay (the draft: `Retry-After` no earlier than the end of the effective window).
fn decorate(resp: &mut Response, layer: &RateLimitLayer, d: &Decision, window: u64) {
    set(resp, "x-ratelimit-limit", d.limit.to_string());
    set(resp, "x-ratelimit-remaining", d.remaining.to_string());
    set(
        resp,
        "x-ratelimit-reset",
        secs_ceil(d.reset_after).to_string(),
    );
    if layer.ietf {
        let name = policy_name(&layer.limiter.core.name);
        set(
            resp,
            "ratelimit-policy",
            format!(
                "{name};q={};w={}",
                layer.quota.limit,
                secs_ceil(layer.quota.period).max(1)
            ),
        );
        set(
            resp,
            "ratelimit",
            format!("{name};r={};t={window}", d.remaining),
        );
    }
}

/// The answer to a refused request ([`super::quota_exceeded`] and the rate-limit fields).
fn refused(layer: &RateLimitLayer, d: &Decision) -> Response {
    let retry = d.retry_after.map_or(1, secs_ceil).max(1);
    let mut resp = super::quota_exceeded(&layer.limiter.core.name, retry);
    decorate(&mut resp, layer, d, retry);
    resp
}

impl<S> tower::Service<Request<Body>> for RateLimitService<S>
where
    S: tower::Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let mut inner = super::take_ready(&mut self.inner);
        let layer = Arc::clone(&self.layer);
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let key = layer.key_by.key(&parts).unwrap_or_else(|| {
                if matches!(layer.key_by, KeyBy::PeerIp | KeyBy::ForwardedFor { .. })
                    && !layer
                        .warned
                        .swap(true, std::sync::atomic::Ordering::Relaxed)
                {
                    tracing::warn!(
                        "no peer address on the request: serve with \
                         into_make_service_with_connect_info::<SocketAddr>(); until then all \
                         requests share one rate-limit bucket"
                    );
                }
                "unknown".to_owned()
            });
            let decision = layer.limiter.check_quota(&key, &layer.quota, 1).await;
            match decision {
                Ok(d) if d.allowed => {
                    let mut resp = inner.call(Request::from_parts(parts, body)).await?;
                    decorate(&mut resp, &layer, &d, secs_ceil(d.reset_after));
                    Ok(resp)
                }
                Ok(d) => Ok(refused(&layer, &d)),
                Err(e) => {
                    tracing::error!(error = %e, "rate limit check failed");
                    Ok(super::problem(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "rate_limiter_unavailable",
                        "the rate limiter is unavailable",
                    ))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::policy_name;

    #[test]
    fn policy_names_are_structured_field_strings() {
        assert_eq!(policy_name("http"), "\"http\"");
        assert_eq!(policy_name("api:v1/users"), "\"api:v1/users\"");
        assert_eq!(policy_name("per user"), "\"per user\"");
        assert_eq!(policy_name("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(policy_name("é"), "\"_\"");
        assert_eq!(policy_name(""), "\"\"");
    }
}
