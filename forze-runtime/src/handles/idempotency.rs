use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::RouteCore;
use crate::error::Error;
use crate::ports::{BeginOutcome, IdempotencyPort};

/// A handle to a wired idempotency store: records at `{namespace}/{operation}/{key}`.
///
/// The flow: [`Idempotency::begin`] either hands out a [`Claim`] (first call: run the work, then
/// [`Claim::commit`] its result, or [`Claim::release`] on failure so the client can retry), or
/// reports a [`Snapshot`] to replay, a call still in progress, or a payload mismatch. Only the
/// claim's owner can commit or release it: a claim whose lease ran out and was taken over gives
/// [`Error::NotOwner`]. Idempotency fails closed: backend errors are returned.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), forze_runtime::Error> {
/// use forze_runtime::{Begin, Forze, IdempotencyRoute};
/// let forze = Forze::builder().idempotency("default", IdempotencyRoute::new("app:idem")).build().await?;
/// let idem = forze.idempotency("default")?;
/// let fp = forze_runtime::codec::fingerprint(&("alice", 42)).unwrap();
/// match idem.begin("create_payment", "key-1", &fp).await? {
///     Begin::Proceed(claim) => claim.commit(&"payment-7").await?,
///     other => panic!("first call must proceed, got {other:?}"),
/// }
/// match idem.begin("create_payment", "key-1", &fp).await? {
///     Begin::Replay(snapshot) => assert_eq!(snapshot.decode::<String>()?, "payment-7"),
///     other => panic!("duplicate must replay, got {other:?}"),
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Idempotency {
    pub(crate) core: RouteCore,
    pub(crate) port: Arc<dyn IdempotencyPort>,
    pub(crate) ttl: Duration,
    pub(crate) lease: Duration,
}

impl std::fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idempotency")
            .field("name", &self.core.name)
            .field("ttl", &self.ttl)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

/// What [`Idempotency::begin`] found.
#[derive(Debug)]
pub enum Begin {
    /// First call: run the work, then commit or release the claim.
    Proceed(Claim),
    /// A duplicate of a committed call with the same payload: replay its result.
    Replay(Snapshot),
    /// A duplicate of a call that is still running.
    InProgress,
    /// The key was used with a different payload.
    Mismatch,
}

/// The right to run the work of one idempotency key, and to record its result.
#[derive(Debug)]
#[must_use = "commit the result or release the claim; a dropped claim blocks the key until its lease ends"]
pub struct Claim {
    idem: Idempotency,
    key: String,
    token: String,
}

/// A committed result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    route: Arc<str>,
    key: String,
    bytes: Vec<u8>,
}

impl Snapshot {
    /// The stored bytes (JSON).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The stored result as `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Error> {
        crate::codec::decode(&self.bytes).map_err(|message| Error::Decode {
            kind: crate::RouteKind::Idempotency,
            route: self.route.to_string(),
            key: self.key.clone(),
            message,
        })
    }
}

impl Idempotency {
    /// The route's snapshot TTL.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// This handle, committing snapshots for `ttl` instead of the route's TTL.
    pub fn with_ttl(&self, ttl: Duration) -> Self {
        Self {
            ttl,
            ..self.clone()
        }
    }

    /// This handle, scoped to `tenant` (for tenant-aware routes; ignored otherwise).
    pub fn with_tenant(&self, tenant: &str) -> Self {
        Self {
            core: self.core.with_tenant(tenant),
            ..self.clone()
        }
    }

    /// Claims `key` of `operation` for a payload with `fingerprint` (see
    /// [`crate::codec::fingerprint`]), or reports what holds it. One round trip.
    pub async fn begin(
        &self,
        operation: &str,
        key: &str,
        fingerprint: &str,
    ) -> Result<Begin, Error> {
        if operation.is_empty() || key.is_empty() {
            return Err(self
                .core
                .invalid("operation and idempotency key must not be empty"));
        }
        let full = self.core.space()?.idempotency(operation, key);
        let token = crate::codec::random_token();
        let outcome = self
            .port
            .begin(&full, fingerprint, &token, self.lease)
            .await
            .map_err(|e| self.core.backend_err(&full, e))?;
        Ok(match outcome {
            BeginOutcome::Proceed => Begin::Proceed(Claim {
                idem: self.clone(),
                key: full,
                token,
            }),
            BeginOutcome::Replay(bytes) => Begin::Replay(Snapshot {
                route: self.core.name.clone(),
                key: full,
                bytes,
            }),
            BeginOutcome::InProgress => Begin::InProgress,
            BeginOutcome::Mismatch => Begin::Mismatch,
        })
    }
}

impl Claim {
    /// The storage key of the record.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The owner token (the fencing token checked by commit and release).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Records `value` as the result replayed to duplicates for the route's TTL.
    pub async fn commit<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        let bytes = self.idem.core.encode(&self.key, value)?;
        self.commit_bytes(&bytes).await
    }

    /// Records already-encoded bytes as the result.
    pub async fn commit_bytes(self, bytes: &[u8]) -> Result<(), Error> {
        let i = &self.idem;
        match i.port.commit(&self.key, &self.token, bytes, i.ttl).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(i.core.not_owner(&self.key)),
            Err(e) => Err(i.core.backend_err(&self.key, e)),
        }
    }

    /// Drops the claim after a failed call so that a retry runs again.
    pub async fn release(self) -> Result<(), Error> {
        let i = &self.idem;
        match i.port.release(&self.key, &self.token).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(i.core.not_owner(&self.key)),
            Err(e) => Err(i.core.backend_err(&self.key, e)),
        }
    }
}
