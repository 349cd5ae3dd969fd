//! The errors annotated functions return through the user's error type: `E: From<IdempotencyError>`
//! for `#[idempotent]`, `E: From<RateLimited>` for `#[rate_limited]`.

use std::time::Duration;

use crate::error::Error;
use crate::ports::Decision;

/// Why an `#[idempotent]` call did not run (or could not record its result).
///
/// ```
/// use forze_runtime::IdempotencyError;
/// let e = IdempotencyError::InProgress { operation: "pay".into(), key: "k1".into() };
/// assert!(e.to_string().contains("still in progress"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdempotencyError {
    /// A call with this key is still running (HTTP: 409 Conflict).
    #[error("a call of {operation:?} with idempotency key {key:?} is still in progress")]
    InProgress {
        /// The operation.
        operation: String,
        /// The idempotency key.
        key: String,
    },
    /// The key was used before with a different payload (HTTP: 422 or 409).
    #[error("idempotency key {key:?} of {operation:?} was used with a different payload")]
    Mismatch {
        /// The operation.
        operation: String,
        /// The idempotency key.
        key: String,
    },
    /// The stored result of the first call does not decode as the return type.
    #[error(
        "the stored result for idempotency key {key:?} of {operation:?} does not decode: {source}"
    )]
    Corrupt {
        /// The operation.
        operation: String,
        /// The idempotency key.
        key: String,
        /// The decoder's error.
        #[source]
        source: Error,
    },
    /// The call ran its own key again inside itself (a recursive call, a second annotation):
    /// refused there instead of waiting for itself.
    #[error(
        "a call of {operation:?} with idempotency key {key:?} ran the same key again inside itself"
    )]
    Reentrant {
        /// The operation.
        operation: String,
        /// The idempotency key.
        key: String,
    },
    /// The store could not be used; idempotency fails closed, so the call did not run.
    #[error("idempotency store unavailable: {0}")]
    Unavailable(#[source] Error),
    /// The payload could not be fingerprinted.
    #[error("cannot fingerprint the payload of {operation:?}: {message}")]
    Fingerprint {
        /// The operation.
        operation: String,
        /// The serializer's words.
        message: String,
    },
}

/// A call refused by `#[rate_limited]` (HTTP: 429 with `Retry-After`).
///
/// ```
/// use std::time::Duration;
/// use forze_runtime::RateLimited;
/// let r = RateLimited { limit: 10, remaining: 0, retry_after: Duration::from_secs(3), reset_after: Duration::from_secs(6), unavailable: false, reason: None };
/// assert_eq!(r.retry_after_secs(), 3);
/// assert_eq!(r.to_string(), "rate limited: 0 of 10 left, retry after 3s");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct RateLimited {
    /// The quota's limit.
    pub limit: u64,
    /// Units left.
    pub remaining: u64,
    /// When a call of the same cost could pass.
    pub retry_after: Duration,
    /// When the full quota is back.
    pub reset_after: Duration,
    /// True when the call was refused because the limiter's backend was unreachable (policy
    /// `Deny` or `Error`), not because the quota was used.
    pub unavailable: bool,
    /// Why the quota could not be checked, when it could not (no runtime, an unknown limiter,
    /// an invalid cost, the backend's error under policy `Error`): the call was refused.
    pub reason: Option<String>,
}

impl RateLimited {
    /// `retry_after` rounded up to whole seconds (for a `Retry-After` header).
    pub fn retry_after_secs(&self) -> u64 {
        let d = self.retry_after;
        d.as_secs() + u64::from(d.subsec_nanos() > 0)
    }

    pub(crate) fn from_decision(d: &Decision) -> Self {
        Self {
            limit: d.limit,
            remaining: d.remaining,
            retry_after: d.retry_after.unwrap_or(d.reset_after),
            reset_after: d.reset_after,
            unavailable: d.degraded,
            reason: None,
        }
    }

    /// A refusal because the quota could not be checked at all (fail closed).
    pub(crate) fn unchecked(limit: u64, unavailable: bool, reason: String) -> Self {
        Self {
            limit,
            remaining: 0,
            retry_after: Duration::from_secs(1),
            reset_after: Duration::from_secs(1),
            unavailable,
            reason: Some(reason),
        }
    }

    fn describe(&self) -> String {
        match &self.reason {
            Some(reason) => format!("rate limit not checked, call refused: {reason}"),
            None => format!(
                "rate limited: {} of {} left, retry after {:?}",
                self.remaining, self.limit, self.retry_after
            ),
        }
    }
}
