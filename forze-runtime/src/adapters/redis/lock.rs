//! The lock port on Redis: `SET NX PX`, extend and release scripts.

use std::time::Duration;

use async_trait::async_trait;

use super::{ms, RedisBackend};
use crate::ports::{LockPort, PortResult};

#[async_trait]
impl LockPort for RedisBackend {
    async fn acquire(&self, key: &str, token: &str, lease: Duration) -> PortResult<bool> {
        let set: Option<String> = self
            .query(
                redis::cmd("SET")
                    .arg(key)
                    .arg(token)
                    .arg("NX")
                    .arg("PX")
                    .arg(ms(lease)),
            )
            .await?;
        Ok(set.is_some())
    }

    async fn extend(&self, key: &str, token: &str, lease: Duration) -> PortResult<bool> {
        let done: i64 = self
            .run(
                self.inner
                    .scripts
                    .lock_extend
                    .key(key)
                    .arg(token)
                    .arg(ms(lease)),
            )
            .await?;
        Ok(done == 1)
    }

    async fn release(&self, key: &str, token: &str) -> PortResult<bool> {
        let done: i64 = self
            .run(self.inner.scripts.lock_release.key(key).arg(token))
            .await?;
        Ok(done == 1)
    }
}
