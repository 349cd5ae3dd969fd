//! The idempotency port on Redis: begin, commit and release scripts.

use std::time::Duration;

use async_trait::async_trait;

use super::{ms, RedisBackend};
use crate::error::{BackendError, BackendErrorKind};
use crate::ports::{BeginOutcome, IdempotencyPort, PortResult};

#[async_trait]
impl IdempotencyPort for RedisBackend {
    async fn begin(
        &self,
        key: &str,
        fingerprint: &str,
        token: &str,
        lease: Duration,
    ) -> PortResult<BeginOutcome> {
        let reply: Vec<Vec<u8>> = self
            .run(
                self.inner
                    .scripts
                    .idem_begin
                    .key(key)
                    .arg(fingerprint)
                    .arg(token)
                    .arg(ms(lease)),
            )
            .await?;
        let mut parts = reply.into_iter();
        match (parts.next().as_deref(), parts.next()) {
            (Some(b"proceed"), None) => Ok(BeginOutcome::Proceed),
            (Some(b"replay"), Some(snapshot)) => Ok(BeginOutcome::Replay(snapshot)),
            (Some(b"in_progress"), None) => Ok(BeginOutcome::InProgress),
            (Some(b"mismatch"), None) => Ok(BeginOutcome::Mismatch),
            _ => Err(BackendError::new(
                BackendErrorKind::Protocol,
                "unexpected reply from the idempotency begin script",
            )),
        }
    }

    async fn commit(
        &self,
        key: &str,
        token: &str,
        fingerprint: &str,
        snapshot: &[u8],
        ttl: Duration,
    ) -> PortResult<bool> {
        let done: i64 = self
            .run(
                self.inner
                    .scripts
                    .idem_commit
                    .key(key)
                    .arg(token)
                    .arg(snapshot)
                    .arg(ms(ttl))
                    .arg(fingerprint),
            )
            .await?;
        Ok(done == 1)
    }

    async fn extend(&self, key: &str, token: &str, lease: Duration) -> PortResult<bool> {
        let done: i64 = self
            .run(
                self.inner
                    .scripts
                    .idem_extend
                    .key(key)
                    .arg(token)
                    .arg(ms(lease)),
            )
            .await?;
        Ok(done == 1)
    }

    async fn release(&self, key: &str, token: &str) -> PortResult<bool> {
        let done: i64 = self
            .run(self.inner.scripts.idem_release.key(key).arg(token))
            .await?;
        Ok(done == 1)
    }
}
