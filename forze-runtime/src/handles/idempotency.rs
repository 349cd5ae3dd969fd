use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{lease, reentrant, RouteCore};
use crate::error::{Error, RouteKind};
use crate::outcomes::IdempotencyError;
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
    /// How long [`Idempotency::run`] waits for a duplicate's first call to finish.
    pub(crate) wait: Duration,
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
    /// The caller's key (errors show it).
    name: String,
    key: String,
    token: String,
    fingerprint: String,
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

    /// This handle, making [`Idempotency::run`] wait up to `wait` (polling with backoff) for
    /// the result of a first call still in progress, instead of answering
    /// [`IdempotencyError::InProgress`] at once.
    pub fn with_wait(&self, wait: Duration) -> Self {
        Self {
            wait,
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
        self.check_names(operation, key)?;
        let full = self.core.space()?.idempotency(operation, key);
        let (outcome, token) = self.begin_at(&full, key, fingerprint).await?;
        Ok(match outcome {
            BeginOutcome::Proceed => Begin::Proceed(self.claim(key, full, token, fingerprint)),
            BeginOutcome::Replay(bytes) => Begin::Replay(Snapshot {
                route: self.core.name.clone(),
                key: key.to_owned(),
                bytes,
            }),
            BeginOutcome::InProgress => Begin::InProgress,
            BeginOutcome::Mismatch => Begin::Mismatch,
        })
    }

    /// Operation and key must not be empty.
    fn check_names(&self, operation: &str, key: &str) -> Result<(), Error> {
        if operation.is_empty() || key.is_empty() {
            return Err(self
                .core
                .invalid("operation and idempotency key must not be empty"));
        }
        Ok(())
    }

    /// One begin on the storage key `full` of `key`, with a fresh owner token (returned).
    async fn begin_at(
        &self,
        full: &str,
        key: &str,
        fingerprint: &str,
    ) -> Result<(BeginOutcome, String), Error> {
        let token = crate::codec::random_token();
        let outcome = self
            .port
            .begin(full, fingerprint, &token, self.lease)
            .await
            .map_err(|e| self.core.backend_err(key, e))?;
        Ok((outcome, token))
    }

    /// The claim `token` took on `full`.
    fn claim(&self, key: &str, full: String, token: String, fingerprint: &str) -> Claim {
        Claim {
            idem: self.clone(),
            name: key.to_owned(),
            key: full,
            token,
            fingerprint: fingerprint.to_owned(),
        }
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
        let bytes = self.idem.core.encode(&self.name, value)?;
        self.commit_bytes(&bytes).await
    }

    /// Records already-encoded bytes as the result.
    pub async fn commit_bytes(self, bytes: &[u8]) -> Result<(), Error> {
        self.try_commit(bytes).await
    }

    async fn try_commit(&self, bytes: &[u8]) -> Result<(), Error> {
        let i = &self.idem;
        match i
            .port
            .commit(&self.key, &self.token, &self.fingerprint, bytes, i.ttl)
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(i.core.not_owner(&self.name)),
            Err(e) => Err(i.core.backend_err(&self.name, e)),
        }
    }

    /// Renews the claim's lease (the route's `lease`) while the work runs:
    /// [`Idempotency::run`] does it every third of a lease, so that a body longer than the lease
    /// never lets a duplicate start a second run, while a claim whose owner died is free again
    /// within one lease. [`Error::NotOwner`] when the claim lapsed and was taken over.
    pub async fn extend(&self) -> Result<(), Error> {
        let i = &self.idem;
        match i
            .port
            .extend(&self.key, &self.token, &self.fingerprint, i.lease)
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(i.core.not_owner(&self.name)),
            Err(e) => Err(i.core.backend_err(&self.name, e)),
        }
    }

    /// Drops the claim after a failed call so that a retry runs again.
    pub async fn release(self) -> Result<(), Error> {
        let i = &self.idem;
        match i
            .port
            .release(&self.key, &self.token, &self.fingerprint)
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(i.core.not_owner(&self.name)),
            Err(e) => Err(i.core.backend_err(&self.name, e)),
        }
    }
}

/// What an idempotent run produces (see [`Idempotency::run`]): which results are recorded, how a
/// replay is rebuilt from the record, and how a refusal reads.
///
/// Implemented for `Result<T, E>` with `T: Serialize + DeserializeOwned` and
/// `E: From<IdempotencyError>`: `Ok` is recorded and replayed, `Err` releases the claim.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the result of an idempotent call",
    label = "an idempotent call returns `Result<T, E>`",
    note = "`T` must be `Serialize + DeserializeOwned` (it is recorded and replayed) and `E: From<forze_runtime::IdempotencyError>`"
)]
pub trait Recorded: Sized {
    /// The bytes to record for this result, or `None` to release the claim (a failure: a
    /// retry runs again). `Some(Err(_))`: the result should be recorded but does not encode.
    fn record(&self) -> Option<Result<Cow<'_, [u8]>, String>>;
    /// The result of a duplicate, from the first call's record.
    fn replay(bytes: &[u8]) -> Result<Self, String>;
    /// The result of a call that did not run.
    fn refused(error: IdempotencyError) -> Self;
}

impl<T, E> Recorded for Result<T, E>
where
    T: Serialize + DeserializeOwned,
    E: From<IdempotencyError>,
{
    fn record(&self) -> Option<Result<Cow<'_, [u8]>, String>> {
        self.as_ref()
            .ok()
            .map(|v| crate::codec::encode(v).map(Cow::Owned))
    }

    fn replay(bytes: &[u8]) -> Result<Self, String> {
        crate::codec::decode(bytes).map(Ok)
    }

    fn refused(error: IdempotencyError) -> Self {
        Err(E::from(error))
    }
}

impl Idempotency {
    /// Runs `body` at most once for `key` of `operation` (the flow of `#[idempotent]` and of
    /// the HTTP idempotency layer):
    ///
    /// - the first call claims the key, runs `body`, and records its result (an `Ok`) for the
    ///   route's TTL, or releases the claim when it failed, so that a retry runs again;
    /// - a duplicate with the same `fingerprint` gets the recorded result without running
    ///   `body`; with another fingerprint, [`IdempotencyError::Mismatch`];
    /// - a duplicate while the first call runs gets [`IdempotencyError::InProgress`] (after
    ///   waiting up to [`Idempotency::with_wait`]'s bound for the first call's result);
    /// - a `body` that runs the same key again inside itself gets
    ///   [`IdempotencyError::Reentrant`] there, instead of waiting for itself;
    /// - the store down is [`IdempotencyError::Unavailable`]: idempotency fails closed and
    ///   `body` does not run.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), forze_runtime::Error> {
    /// use forze_runtime::{codec, Forze, IdempotencyError, IdempotencyRoute};
    /// let forze = Forze::builder().idempotency("default", IdempotencyRoute::new("app:idem")).build().await?;
    /// let idem = forze.idempotency("default")?;
    /// let fp = codec::fingerprint(&("alice", 42)).unwrap();
    /// let pay = || async { Ok::<_, IdempotencyError>("payment-7".to_owned()) };
    /// let first = idem.run("create_payment", "key-1", &fp, pay).await;
    /// let again: Result<String, IdempotencyError> =
    ///     idem.run("create_payment", "key-1", &fp, || async { unreachable!() }).await;
    /// assert_eq!(first.unwrap(), again.unwrap());
    /// # Ok(()) }
    /// ```
    pub async fn run<R, F, Fut>(&self, operation: &str, key: &str, fingerprint: &str, body: F) -> R
    where
        R: Recorded,
        F: FnOnce() -> Fut,
        Fut: Future<Output = R>,
    {
        self.run_as(RunCodec::<R>::of(), operation, key, fingerprint, body)
            .await
    }

    /// [`Idempotency::run`] with `R`'s [`Recorded`] functions passed as a value (generated code
    /// makes it at the return type's span, so that the call itself puts no bound on `R`).
    pub(crate) async fn run_as<R, F, Fut>(
        &self,
        codec: RunCodec<R>,
        operation: &str,
        key: &str,
        fingerprint: &str,
        body: F,
    ) -> R
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = R>,
    {
        crate::telemetry::in_flow_span!(
            crate::telemetry::flow_span("idempotency", &self.core.name),
            self.run_in_span(codec, operation, key, fingerprint, body)
        )
    }

    /// [`Idempotency::run_as`] within its span.
    async fn run_in_span<R, F, Fut>(
        &self,
        codec: RunCodec<R>,
        operation: &str,
        key: &str,
        fingerprint: &str,
        body: F,
    ) -> R
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = R>,
    {
        let RunCodec {
            record,
            replay,
            refused,
        } = codec;
        let full = match self
            .check_names(operation, key)
            .and_then(|()| self.core.space())
        {
            Ok(space) => space.idempotency(operation, key),
            Err(e) => {
                crate::telemetry::outcome("refused");
                return refused(IdempotencyError::Unavailable(e));
            }
        };
        if reentrant::holds(&full) {
            crate::telemetry::outcome("refused");
            return refused(IdempotencyError::Reentrant {
                operation: operation.to_owned(),
                key: key.to_owned(),
            });
        }
        let deadline = Instant::now() + self.wait;
        let mut pause = Duration::from_millis(5);
        let claim = loop {
            match self.begin_at(&full, key, fingerprint).await {
                Ok((BeginOutcome::Proceed, token)) => {
                    break self.claim(key, full.clone(), token, fingerprint)
                }
                Ok((BeginOutcome::Replay(bytes), _)) => {
                    crate::telemetry::idempotency_outcome(&self.core.name, "replay");
                    return replay(&bytes).unwrap_or_else(|message| {
                        refused(IdempotencyError::Corrupt {
                            operation: operation.to_owned(),
                            key: key.to_owned(),
                            source: Error::Decode {
                                kind: RouteKind::Idempotency,
                                route: self.core.name.to_string(),
                                key: key.to_owned(),
                                message,
                            },
                        })
                    });
                }
                Ok((BeginOutcome::InProgress, _)) if Instant::now() < deadline => {
                    tokio::time::sleep(pause.min(deadline - Instant::now())).await;
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
                Ok((BeginOutcome::InProgress, _)) => {
                    crate::telemetry::idempotency_outcome(&self.core.name, "in_progress");
                    return refused(IdempotencyError::InProgress {
                        operation: operation.to_owned(),
                        key: key.to_owned(),
                    });
                }
                Ok((BeginOutcome::Mismatch, _)) => {
                    crate::telemetry::idempotency_outcome(&self.core.name, "mismatch");
                    return refused(IdempotencyError::Mismatch {
                        operation: operation.to_owned(),
                        key: key.to_owned(),
                    });
                }
                Err(e) => {
                    crate::telemetry::idempotency_outcome(&self.core.name, "refused");
                    return refused(IdempotencyError::Unavailable(e));
                }
            }
        };
        crate::telemetry::idempotency_outcome(&self.core.name, "ran");
        let work = reentrant::holding(&full, body());
        let result = lease::renewing(key, self.lease, || claim.extend(), work).await;
        match record(&result) {
            Some(Ok(bytes)) => {
                // The body's effect happened: a commit that meets an outage is retried for up
                // to one lease (a claim that lapsed meanwhile with nobody else on the key is
                // still recorded), so that a duplicate after the outage replays instead of
                // running again.
                let started = Instant::now();
                let mut pause = Duration::from_millis(5);
                loop {
                    match claim.try_commit(&bytes).await {
                        Ok(()) => break,
                        Err(e) if e.is_unavailable() && started.elapsed() < self.lease => {
                            tokio::time::sleep(pause).await;
                            pause = (pause * 2).min(Duration::from_millis(200));
                        }
                        Err(e) => {
                            tracing::error!(store = %self.core.name, operation, key, error = %e, "result not recorded; a retry will run again");
                            break;
                        }
                    }
                }
            }
            Some(Err(e)) => {
                tracing::error!(store = %self.core.name, operation, key, error = %e, "result does not serialize; releasing the claim");
                if let Err(e) = claim.release().await {
                    tracing::warn!(store = %self.core.name, operation, key, error = %e, "claim not released; it expires with its lease");
                }
            }
            None => {
                if let Err(e) = claim.release().await {
                    tracing::warn!(store = %self.core.name, operation, key, error = %e, "claim not released; it expires with its lease");
                }
            }
        }
        result
    }
}

/// What a result records (see [`Recorded::record`]).
type RecordFn<R> = for<'a> fn(&'a R) -> Option<Result<Cow<'a, [u8]>, String>>;

/// The functions of a [`Recorded`] type, as a value.
#[doc(hidden)]
pub struct RunCodec<R> {
    record: RecordFn<R>,
    replay: fn(&[u8]) -> Result<R, String>,
    refused: fn(IdempotencyError) -> R,
}

impl<R> Clone for RunCodec<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for RunCodec<R> {}

impl<R> RunCodec<R> {
    /// `R`'s functions.
    pub(crate) fn of() -> Self
    where
        R: Recorded,
    {
        Self {
            record: R::record,
            replay: R::replay,
            refused: R::refused,
        }
    }

    /// A refusal as an `R`.
    pub(crate) fn refuse(&self, error: IdempotencyError) -> R {
        (self.refused)(error)
    }
}
