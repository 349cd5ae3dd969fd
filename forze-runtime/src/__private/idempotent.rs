//! Glue of `#[idempotent]`: the site's facts, the payload's fingerprint, and the call into
//! [`crate::Idempotency::run`].

use std::future::Future;
use std::time::Duration;

use super::bounds::{Fingerprinted, IdempotentResult, Replayable, TakesRefusal};
use super::with_runtime;
use crate::error::Error;
use crate::handles::RunCodec;
use crate::{Forze, IdempotencyError};

/// A canonical fingerprint of named arguments (the sorted-key JSON object of them, SHA-256;
/// [`crate::codec::fingerprint`] of that object).
#[derive(Default)]
pub struct Fingerprint {
    fields: Vec<(&'static str, serde_json::Value)>,
    error: Option<String>,
}

impl Fingerprint {
    /// No fields yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the argument `name`.
    pub fn field<T: Fingerprinted + ?Sized>(&mut self, name: &'static str, value: &T) {
        match serde_json::to_value(value) {
            Ok(v) => self.fields.push((name, v)),
            Err(e) => self.error = Some(format!("argument `{name}`: {e}")),
        }
    }

    /// The fingerprint, or why it could not be made.
    pub fn finish(mut self) -> Result<String, String> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(crate::codec::fingerprint_fields(&mut self.fields)),
        }
    }
}

/// One `#[idempotent]` annotation's static facts.
#[derive(Debug)]
pub struct IdemSite {
    /// The idempotency store's name.
    pub store: &'static str,
    /// The operation name.
    pub operation: &'static str,
    /// The record's TTL from the annotation (`None`: the route's).
    pub ttl: Option<Duration>,
    /// How long a duplicate waits for an in-progress first call (`None`: not at all).
    pub wait: Option<Duration>,
    /// `module::path::function`.
    pub function: &'static str,
}

/// How `R`, an idempotent call's result, is recorded and replayed (generated code makes it at
/// the return type's span, so that a return type that does not fit gives one error there).
pub fn recorded<R: IdempotentResult>() -> RunCodec<R> {
    RunCodec::<R>::of()
}

/// [`recorded`] for a `Result<T, E>` written as such: generated code names `T` and `E` as the
/// user wrote them, so that each requirement is one error on its own type.
pub fn recorded_result<T: Replayable, E: TakesRefusal>() -> RunCodec<Result<T, E>> {
    RunCodec::of()
}

/// The body of every `#[idempotent]` function: [`crate::Idempotency::run`] on the site's store.
/// `key: None` runs the call without idempotency; no runtime, or an unknown store, refuses the
/// call ([`IdempotencyError::Unavailable`]): idempotency fails closed.
pub async fn idempotent<R, F>(
    site: &'static IdemSite,
    via: Option<Forze>,
    key: Option<String>,
    fingerprint: Result<String, String>,
    codec: RunCodec<R>,
    body: F,
) -> R
where
    F: Future<Output = R>,
{
    let Some(key) = key else {
        return body.await;
    };
    let fp = match fingerprint {
        Ok(fp) => fp,
        Err(message) => {
            return codec.refuse(IdempotencyError::Fingerprint {
                operation: site.operation.to_owned(),
                message,
            })
        }
    };
    let store = match with_runtime(via.as_ref(), |rt| rt.idempotency(site.store)) {
        Some(Ok(store)) => store,
        Some(Err(e)) => return codec.refuse(IdempotencyError::Unavailable(e)),
        None => {
            return codec.refuse(IdempotencyError::Unavailable(Error::NoRuntime {
                function: site.function.to_owned(),
            }))
        }
    };
    let store = match site.ttl {
        Some(ttl) => store.with_ttl(ttl),
        None => store,
    };
    let store = match site.wait {
        Some(wait) => store.with_wait(wait),
        None => store,
    };
    store
        .run_as(codec, site.operation, &key, &fp, || body)
        .await
}
