use std::time::Duration;

use async_trait::async_trait;

use super::PortResult;

/// What [`IdempotencyPort::begin`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeginOutcome {
    /// No record existed: the caller now holds the claim (under the token it passed) and runs.
    Proceed,
    /// A committed record with the same fingerprint: its snapshot.
    Replay(Vec<u8>),
    /// A claim with the same fingerprint is held by someone else and not yet committed.
    InProgress,
    /// A record (claimed or committed) exists for another fingerprint.
    Mismatch,
}

/// Claim / extend / commit / release of idempotency records, each one atomic round trip.
///
/// A record is first a *claim* (fingerprint + owner token, expiring after the lease), then, when
/// its owner commits, a *snapshot* kept for the record's TTL.
///
/// ```
/// # async fn demo(port: &dyn forze_runtime::ports::IdempotencyPort) -> Result<(), forze_runtime::BackendError> {
/// use std::time::Duration;
/// use forze_runtime::ports::BeginOutcome;
/// let lease = Duration::from_secs(5);
/// assert_eq!(port.begin("ns/pay/k1", "fp", "t1", lease).await?, BeginOutcome::Proceed);
/// assert!(port.extend("ns/pay/k1", "t1", "fp", lease).await?);
/// assert!(port.commit("ns/pay/k1", "t1", "fp", b"{}", Duration::from_secs(3600)).await?);
/// assert_eq!(port.begin("ns/pay/k1", "fp", "t2", lease).await?, BeginOutcome::Replay(b"{}".to_vec()));
/// # Ok(()) }
/// ```
#[async_trait]
pub trait IdempotencyPort: Send + Sync + 'static {
    /// Claims `key` for `token` if no record exists, else reports what is there.
    async fn begin(
        &self,
        key: &str,
        fingerprint: &str,
        token: &str,
        lease: Duration,
    ) -> PortResult<BeginOutcome>;
    /// Turns the claim held by `token` into a snapshot kept for `ttl`; also when the claim
    /// lapsed and nobody else holds the key (then the record is written anew, with
    /// `fingerprint`): the owner holds the only result. Returns `false`, writing nothing, when
    /// another token holds the key or it is committed already.
    async fn commit(
        &self,
        key: &str,
        token: &str,
        fingerprint: &str,
        snapshot: &[u8],
        ttl: Duration,
    ) -> PortResult<bool>;
    /// Renews the lease of the uncommitted claim held by `token` for the request with
    /// `fingerprint` (its owner calls it while the work runs); `false` when the claim is no
    /// longer its own.
    async fn extend(
        &self,
        key: &str,
        token: &str,
        fingerprint: &str,
        lease: Duration,
    ) -> PortResult<bool>;
    /// Drops the claim held by `token` (for the request with `fingerprint`) so the key can be
    /// retried. Returns `false` when `token` does not hold an uncommitted claim (then nothing
    /// changes).
    async fn release(&self, key: &str, token: &str, fingerprint: &str) -> PortResult<bool>;
}
