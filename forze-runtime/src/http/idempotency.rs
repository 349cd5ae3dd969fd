use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use std::borrow::Cow;

use crate::{Idempotency, IdempotencyError, Recorded};

/// A tower layer that honours `Idempotency-Key` on unsafe methods (`POST`, `PUT`, `PATCH`,
/// `DELETE`), per the IETF draft (draft-ietf-httpapi-idempotency-key-header).
///
/// The key is a structured-field string (`Idempotency-Key: "8e03978e-…"`); a bare token is
/// accepted too. The fingerprint is SHA-256 of method, path, query and body. The first request
/// runs and its response (status, headers, body) is stored — unless it is a `5xx` or a `4xx`
/// that a retry may pass (`408`, `409`, `425`, `429`), which release the key so a retry runs
/// again; a duplicate gets the stored response back with `Idempotent-Replayed: true`, without
/// reaching the handler. The same key with another request is `422`
/// (`idempotency_key_reused`); a duplicate while the first is still running is `409`
/// (`idempotency_in_progress`, with `Retry-After`); a malformed key is `400`, and so is a
/// missing one with [`IdempotencyLayer::required`]; a body above the limit (default 1 MiB) is
/// `413`; the store being down is `503` (fails closed). Errors are RFC 9457 problem details.
///
/// Keys are chosen by clients, so the layer is built with an explicit choice of whose keys
/// meet: [`IdempotencyLayer::scoped`] (a key is one caller's: by credential, user or tenant —
/// the draft's "composite of the client key and server-known client attributes"), or
/// [`IdempotencyLayer::shared_keys`] (every caller shares one key space: only for APIs with a
/// single client, or keys that are unguessable and never reused across callers).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), forze_runtime::Error> {
/// use forze_runtime::http::{IdempotencyLayer, KeyBy};
/// use forze_runtime::{Forze, IdempotencyRoute};
/// let forze = Forze::builder().idempotency("http", IdempotencyRoute::new("app:http-idem")).build().await?;
/// let layer = IdempotencyLayer::scoped(
///     forze.idempotency("http")?,
///     KeyBy::Header(http::header::AUTHORIZATION),
/// )
/// .required(true);
/// # let _ = layer; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct IdempotencyLayer {
    store: Idempotency,
    scope: Option<super::KeyBy>,
    header: HeaderName,
    max_body: usize,
    max_response: usize,
    required: bool,
}

impl IdempotencyLayer {
    fn with_scope(store: Idempotency, scope: Option<super::KeyBy>) -> Self {
        Self {
            store,
            scope,
            header: HeaderName::from_static("idempotency-key"),
            max_body: 1 << 20,
            max_response: 4 << 20,
            required: false,
        }
    }

    /// A layer whose keys belong to one caller each: `scope` reads the caller from the request
    /// (a credential header, the authenticated user, a tenant); the same key sent by two
    /// callers names two records, so one caller's key never replays another's response.
    /// Requests whose scope cannot be read share one scope.
    pub fn scoped(store: Idempotency, scope: super::KeyBy) -> Self {
        Self::with_scope(store, Some(scope))
    }

    /// A layer where every caller shares one key space: a key sent by anyone replays the
    /// response stored for it. Only for APIs with a single client (or keys that are never
    /// reused across callers); otherwise use [`IdempotencyLayer::scoped`].
    pub fn shared_keys(store: Idempotency) -> Self {
        Self::with_scope(store, None)
    }

    /// The largest request body accepted (default 1 MiB); larger ones get `413`.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The largest response stored for replay (default 4 MiB); larger ones are returned but not
    /// stored, and the key is released.
    pub fn max_response(mut self, bytes: usize) -> Self {
        self.max_response = bytes;
        self
    }

    /// Unsafe requests without the header get `400`.
    pub fn required(mut self, yes: bool) -> Self {
        self.required = yes;
        self
    }
}

impl<S> tower::Layer<S> for IdempotencyLayer {
    type Service = IdempotencyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        IdempotencyService {
            inner,
            layer: Arc::new(self.clone()),
        }
    }
}

/// The service of [`IdempotencyLayer`].
#[derive(Clone, Debug)]
pub struct IdempotencyService<S> {
    inner: S,
    layer: Arc<IdempotencyLayer>,
}

#[derive(Serialize, Deserialize)]
struct StoredResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Headers that belong to one exchange, not to the stored result.
const NOT_STORED: &[&str] = &[
    "connection",
    "transfer-encoding",
    "content-length",
    "date",
    "set-cookie",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "ratelimit",
    "ratelimit-policy",
    "retry-after",
];

/// The key in an `Idempotency-Key` header: a structured-field string (RFC 8941: `"…"`, with
/// `\"` and `\\` escapes, visible ASCII and spaces) or, leniently, a bare token of visible
/// ASCII; 1 to 255 characters either way.
fn valid_key(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?.trim();
    let key = match s.strip_prefix('"') {
        Some(rest) => {
            let mut out = String::with_capacity(rest.len());
            let mut chars = rest.chars();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => match chars.next()? {
                        c @ ('"' | '\\') => out.push(c),
                        _ => return None,
                    },
                    c if (' '..='~').contains(&c) => out.push(c),
                    _ => return None,
                }
            }
            if chars.next().is_some() {
                return None;
            }
            out
        }
        None if s.bytes().all(|b| b.is_ascii_graphic()) => s.to_owned(),
        None => return None,
    };
    (!key.is_empty() && key.len() <= 255).then_some(key)
}

/// Whether a response of `status` is the request's final answer, to record and replay: not a
/// `5xx`, nor a `4xx` that a retry may pass.
fn final_answer(status: StatusCode) -> bool {
    !status.is_server_error() && !matches!(status.as_u16(), 408 | 409 | 425 | 429)
}

fn stored_headers(h: &HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .filter(|(n, _)| !NOT_STORED.contains(&n.as_str()))
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect()
}

fn replay(stored: StoredResponse) -> Response {
    let mut resp = Response::new(Body::from(stored.body));
    *resp.status_mut() = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    for (n, v) in stored.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(n), HeaderValue::try_from(v)) {
            resp.headers_mut().append(n, v);
        }
    }
    resp.headers_mut().insert(
        HeaderName::from_static("idempotent-replayed"),
        HeaderValue::from_static("true"),
    );
    resp
}

impl<S> tower::Service<Request<Body>> for IdempotencyService<S>
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
            let unsafe_method = matches!(
                *req.method(),
                Method::POST | Method::PUT | Method::PATCH | Method::DELETE
            );
            if !unsafe_method {
                return inner.call(req).await;
            }
            let key = match req.headers().get(&layer.header) {
                None if layer.required => {
                    return Ok(super::problem(
                        StatusCode::BAD_REQUEST,
                        "idempotency_key_missing",
                        "this endpoint needs an Idempotency-Key header",
                    ))
                }
                None => return inner.call(req).await,
                Some(v) => match valid_key(v) {
                    Some(k) => k,
                    None => {
                        return Ok(super::problem(
                            StatusCode::BAD_REQUEST,
                            "idempotency_key_invalid",
                            "Idempotency-Key must be a structured-field string (\"...\") or a \
                             token of 1 to 255 visible ASCII characters",
                        ))
                    }
                },
            };
            let (parts, body) = req.into_parts();
            let key = match &layer.scope {
                // Hashed: a credential used as the scope never reaches the store in clear.
                // (`shared_keys` has none: every caller's key meets every other's.)
                Some(scope) => {
                    crate::keys::scoped_key(&scope.key(&parts).unwrap_or_default(), &key)
                }
                None => key,
            };
            let bytes = match http_body_util::Limited::new(body, layer.max_body)
                .collect()
                .await
            {
                Ok(c) => c.to_bytes(),
                Err(e)
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some() =>
                {
                    return Ok(super::problem(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "body_too_large",
                        &format!("the request body is above {} bytes", layer.max_body),
                    ))
                }
                Err(_) => {
                    return Ok(super::problem(
                        StatusCode::BAD_REQUEST,
                        "body_unreadable",
                        "the request body could not be read",
                    ))
                }
            };
            let mut h = Sha256::new();
            h.update(parts.method.as_str().as_bytes());
            h.update([0]);
            h.update(parts.uri.path().as_bytes());
            h.update([0]);
            h.update(parts.uri.query().unwrap_or("").as_bytes());
            h.update([0]);
            h.update(&bytes);
            let fingerprint = crate::codec::hex(&h.finalize());
            let operation = format!("{} {}", parts.method, parts.uri.path());
            let request = Request::from_parts(parts, Body::from(bytes));
            let max_response = layer.max_response;
            let run = layer
                .store
                .run(&operation, &key, &fingerprint, || async move {
                    let resp = match inner.call(request).await {
                        Ok(r) => r,
                        Err(e) => return HttpRun::Failed(e),
                    };
                    let (rparts, rbody) = resp.into_parts();
                    let Ok(collected) = rbody.collect().await else {
                        return HttpRun::Fresh {
                            response: super::problem(
                                StatusCode::INTERNAL_SERVER_ERROR,
                                "response_unreadable",
                                "the response could not be read",
                            ),
                            record: None,
                        };
                    };
                    let rbytes = collected.to_bytes();
                    // A 5xx (or a 4xx a retry may pass) is not the final answer: the client may
                    // retry with the same key.
                    let record = (final_answer(rparts.status) && rbytes.len() <= max_response)
                        .then(|| {
                            crate::codec::encode(&StoredResponse {
                                status: rparts.status.as_u16(),
                                headers: stored_headers(&rparts.headers),
                                body: rbytes.to_vec(),
                            })
                            .ok()
                        })
                        .flatten();
                    HttpRun::Fresh {
                        response: Response::from_parts(rparts, Body::from(rbytes)),
                        record,
                    }
                });
            Ok(match run.await {
                HttpRun::Fresh { response, .. } => response,
                HttpRun::Failed(e) => return Err(e),
                HttpRun::Replayed(stored) => replay(stored),
                HttpRun::Refused(e) => refusal(&e),
            })
        })
    }
}

/// What one request through the layer came to (the [`Recorded`] result of
/// [`Idempotency::run`]).
enum HttpRun<E> {
    /// This request's own response, and what to record of it (`None`: release the key).
    Fresh {
        response: Response,
        record: Option<Vec<u8>>,
    },
    /// The inner service failed: nothing recorded, the key released.
    Failed(E),
    /// A duplicate: the first request's recorded response.
    Replayed(StoredResponse),
    /// Not run: in progress, another payload, the store unavailable, a corrupt record.
    Refused(IdempotencyError),
}

impl<E> Recorded for HttpRun<E> {
    fn record(&self) -> Option<Result<Cow<'_, [u8]>, String>> {
        match self {
            HttpRun::Fresh {
                record: Some(bytes),
                ..
            } => Some(Ok(Cow::Borrowed(bytes))),
            _ => None,
        }
    }

    fn replay(bytes: &[u8]) -> Result<Self, String> {
        crate::codec::decode(bytes).map(HttpRun::Replayed)
    }

    fn refused(error: IdempotencyError) -> Self {
        HttpRun::Refused(error)
    }
}

/// The answer to a request that did not run.
fn refusal(e: &IdempotencyError) -> Response {
    match e {
        IdempotencyError::InProgress { .. } | IdempotencyError::Reentrant { .. } => {
            let mut resp = super::problem(
                StatusCode::CONFLICT,
                "idempotency_in_progress",
                "a request with this Idempotency-Key is still being processed",
            );
            resp.headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
            resp
        }
        IdempotencyError::Mismatch { .. } => super::problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request",
        ),
        IdempotencyError::Corrupt { .. } => super::problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "idempotency_record_corrupt",
            "the stored response for this key cannot be read",
        ),
        other => {
            tracing::error!(error = %other, "idempotency store unavailable");
            super::problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "idempotency_unavailable",
                "the idempotency store is unavailable; nothing was done",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_structured_field_strings_or_tokens() {
        let key = |s: &str| valid_key(&HeaderValue::from_str(s).unwrap());
        assert_eq!(key(r#""8e03978e-40d5""#).as_deref(), Some("8e03978e-40d5"));
        assert_eq!(
            key(r#""a \"quoted\" key\\""#).as_deref(),
            Some(r#"a "quoted" key\"#)
        );
        assert_eq!(key("bare-token_1").as_deref(), Some("bare-token_1"));
        for bad in [
            r#""""#,
            r#""unterminated"#,
            r#""x"y"#,
            r#""\n""#,
            "two words",
            "",
        ] {
            assert_eq!(key(bad), None, "{bad:?}");
        }
        assert!(key(&format!("\"{}\"", "k".repeat(256))).is_none());
    }

    #[test]
    fn only_final_answers_are_recorded() {
        for (status, recorded) in [
            (200, true),
            (201, true),
            (404, true),
            (422, true),
            (409, false),
            (429, false),
            (408, false),
            (500, false),
            (503, false),
        ] {
            assert_eq!(
                final_answer(StatusCode::from_u16(status).unwrap()),
                recorded,
                "{status}"
            );
        }
    }
}
