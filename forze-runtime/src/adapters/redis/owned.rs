//! Conditional writes on a value its owner holds (a lock's token, an idempotency claim): the
//! server's own commands where it has them (`SET … IFEQ`, `DELIFEQ`, `DELEX … IFEQ`), a script
//! elsewhere. One round trip either way.

use std::time::Duration;

use super::server::DeleteIfEqual;
use super::{command, ms, RedisBackend};
use crate::ports::PortResult;

impl RedisBackend {
    /// Renews the expiry of `key` to `ttl` if it holds `value`.
    pub(super) async fn expire_if_equal(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> PortResult<bool> {
        if self.inner.native.set_ifeq {
            return self.set_if_equal(key, value, value, ttl).await;
        }
        let done: i64 = self
            .run(
                "if_equal_expire",
                self.inner
                    .scripts
                    .if_equal_expire
                    .key(key)
                    .arg(value)
                    .arg(ms(ttl)),
            )
            .await?;
        Ok(done == 1)
    }

    /// Deletes `key` if it holds `value`.
    pub(super) async fn delete_if_equal(&self, key: &str, value: &[u8]) -> PortResult<bool> {
        let deleted: i64 = match self.inner.native.delete {
            Some(DeleteIfEqual::DelIfEq) => {
                self.query(
                    command("DELIFEQ", 2, key.len() + value.len())
                        .arg(key)
                        .arg(value),
                )
                .await?
            }
            Some(DeleteIfEqual::DelEx) => {
                self.query(
                    command("DELEX", 3, key.len() + value.len() + 4)
                        .arg(key)
                        .arg("IFEQ")
                        .arg(value),
                )
                .await?
            }
            None => {
                self.run(
                    "if_equal_delete",
                    self.inner.scripts.if_equal_delete.key(key).arg(value),
                )
                .await?
            }
        };
        Ok(deleted == 1)
    }

    /// `SET key new IFEQ expected PX ttl` (the caller checks `native.set_ifeq`).
    pub(super) async fn set_if_equal(
        &self,
        key: &str,
        new: &[u8],
        expected: &[u8],
        ttl: Duration,
    ) -> PortResult<bool> {
        let set: Option<String> = self
            .query(
                command("SET", 6, key.len() + new.len() + expected.len() + 30)
                    .arg(key)
                    .arg(new)
                    .arg("IFEQ")
                    .arg(expected)
                    .arg("PX")
                    .arg(ms(ttl)),
            )
            .await?;
        Ok(set.is_some())
    }
}
