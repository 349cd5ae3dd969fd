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
/// `DELETE`).
///
/// The fingerprint is SHA-256 of method, path, query and body. The first request runs and its
/// response (status, headers, body) is stored — unless it is a `5xx`, which releases the key so
/// a retry runs again; a duplicate gets the stored response back with
/// `Idempotent-Replayed: true`, without reaching the handler; the same key with another request
/// is `409` (`idempotency_key_reused`), and so is a duplicate while the first is still running
/// (`idempotency_in_progress`, with `Retry-After`). A body above the limit (default 1 MiB) is
/// `413`; a malformed key is `400`; the store being down is `503` (fails closed). Requests
/// without the header pass through (or get `400` with [`IdempotencyLayer::required`]).
///
/// Keys are chosen by clients: on an API with several users, scope them with
/// [`IdempotencyLayer::scope_by`] (e.g. by the `Authorization` header or the authenticated
/// user), so that one user's key can never replay another user's response.
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
    /// A layer over a wired idempotency store.
    pub fn new(store: Idempotency) -> Self {
        Self {
            store,
            scope: None,
            header: HeaderName::from_static("idempotency-key"),
            max_body: 1 << 20,
            max_response: 4 << 20,
            required: false,
        }
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

    /// Scopes keys by a property of the request (a user, a tenant, a credential): the same key
    /// sent by two scopes names two records. Requests whose scope cannot be read share one.
    pub fn scope_by(mut self, scope: super::KeyBy) -> Self {
        self.scope = Some(scope);
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

fn valid_key(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?.trim();
    (!s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_graphic()))
        .then(|| s.to_owned())
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
                    return Ok(super::json_error(
                        StatusCode::BAD_REQUEST,
                        "idempotency_key_missing",
                        "this endpoint needs an Idempotency-Key header",
                    ))
                }
                None => return inner.call(req).await,
                Some(v) => match valid_key(v) {
                    Some(k) => k,
                    None => {
                        return Ok(super::json_error(
                            StatusCode::BAD_REQUEST,
                            "idempotency_key_invalid",
                            "Idempotency-Key must be 1 to 255 visible ASCII characters",
                        ))
                    }
                },
            };
            let (parts, body) = req.into_parts();
            let key = match &layer.scope {
                // Hashed: a credential used as the scope never reaches the store in clear.
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
                    return Ok(super::json_error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "body_too_large",
                        &format!("the request body is above {} bytes", layer.max_body),
                    ))
                }
                Err(_) => {
                    return Ok(super::json_error(
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
                            response: super::json_error(
                                StatusCode::INTERNAL_SERVER_ERROR,
                                "response_unreadable",
                                "the response could not be read",
                            ),
                            record: None,
                        };
                    };
                    let rbytes = collected.to_bytes();
                    // A 5xx is never the final answer: the client may retry with the same key.
                    let record = (!rparts.status.is_server_error() && rbytes.len() <= max_response)
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
            let mut resp = super::json_error(
                StatusCode::CONFLICT,
                "idempotency_in_progress",
                "a request with this Idempotency-Key is still being processed",
            );
            resp.headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
            resp
        }
        IdempotencyError::Mismatch { .. } => super::json_error(
            StatusCode::CONFLICT,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request",
        ),
        IdempotencyError::Corrupt { .. } => super::json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "idempotency_record_corrupt",
            "the stored response for this key cannot be read",
        ),
        other => {
            tracing::error!(error = %other, "idempotency store unavailable");
            super::json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "idempotency_unavailable",
                "the idempotency store is unavailable; nothing was done",
            )
        }
    }
}
