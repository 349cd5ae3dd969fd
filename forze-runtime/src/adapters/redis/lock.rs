//! The lock port on Redis: `SET NX PX GET`; extend and release only by the owner (`owned`).

use std::time::Duration;

use async_trait::async_trait;

use super::{ms, RedisBackend};
use crate::ports::{LockPort, PortResult};

#[async_trait]
impl LockPort for RedisBackend {
    async fn acquire(&self, key: &str, token: &str, lease: Duration) -> PortResult<bool> {
        // `GET`: nothing there (taken now), or the holder's token — ours when this acquire was
        // sent again after its connection dropped and its first send took the lock.
        let held: Option<Vec<u8>> = self
            .query(
                redis::cmd("SET")
                    .arg(key)
                    .arg(token)
                    .arg("NX")
                    .arg("PX")
                    .arg(ms(lease))
                    .arg("GET"),
            )
            .await?;
        Ok(held.is_none_or(|holder| holder == token.as_bytes()))
    }

    async fn extend(&self, key: &str, token: &str, lease: Duration) -> PortResult<bool> {
        self.expire_if_equal(key, token.as_bytes(), lease).await
    }

    async fn release(&self, key: &str, token: &str) -> PortResult<bool> {
        self.delete_if_equal(key, token.as_bytes()).await
    }
}
