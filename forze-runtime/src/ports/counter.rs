use async_trait::async_trait;

use super::PortResult;

/// Atomic integer counters.
///
/// ```
/// # async fn demo(port: &dyn forze_runtime::ports::CounterPort) -> Result<(), forze_runtime::BackendError> {
/// port.reset("ns/orders", 0).await?;
/// assert_eq!(port.incr("ns/orders", 10).await?, 10);
/// # Ok(()) }
/// ```
#[async_trait]
pub trait CounterPort: Send + Sync + 'static {
    /// Adds `by` (which may be negative) and returns the new value; a missing counter starts at 0.
    /// Overflow is an error and leaves the counter unchanged.
    async fn incr(&self, key: &str, by: i64) -> PortResult<i64>;
    /// Sets the counter to `value`.
    async fn reset(&self, key: &str, value: i64) -> PortResult<()>;
    /// The current value, if the counter exists.
    async fn get(&self, key: &str) -> PortResult<Option<i64>>;
}
