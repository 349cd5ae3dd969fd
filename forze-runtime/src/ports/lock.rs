use std::time::Duration;

use async_trait::async_trait;

use super::PortResult;

/// Leased locks owned by a token: only the owner can extend or release.
///
/// ```
/// # async fn demo(port: &dyn forze_runtime::ports::LockPort) -> Result<(), forze_runtime::BackendError> {
/// use std::time::Duration;
/// let lease = Duration::from_secs(10);
/// assert!(port.acquire("ns/lock/job", "me", lease).await?);
/// assert!(!port.acquire("ns/lock/job", "you", lease).await?);
/// assert!(!port.release("ns/lock/job", "you").await?);
/// assert!(port.release("ns/lock/job", "me").await?);
/// # Ok(()) }
/// ```
#[async_trait]
pub trait LockPort: Send + Sync + 'static {
    /// Takes the lock for `token` for `lease` if nobody holds it.
    async fn acquire(&self, key: &str, token: &str, lease: Duration) -> PortResult<bool>;
    /// Renews the lease if `token` still holds the lock.
    async fn extend(&self, key: &str, token: &str, lease: Duration) -> PortResult<bool>;
    /// Frees the lock if `token` still holds it.
    async fn release(&self, key: &str, token: &str) -> PortResult<bool>;
}
