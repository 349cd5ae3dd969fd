//! The counter port on Redis: `INCRBY`, `SET`, `GET`.

use async_trait::async_trait;

use super::{command, RedisBackend};
use crate::ports::{CounterPort, PortResult};

#[async_trait]
impl CounterPort for RedisBackend {
    async fn incr(&self, key: &str, by: i64) -> PortResult<i64> {
        self.query(command("INCRBY", 2, key.len() + 20).arg(key).arg(by))
            .await
    }

    async fn reset(&self, key: &str, value: i64) -> PortResult<()> {
        self.query(redis::cmd("SET").arg(key).arg(value)).await
    }

    async fn get(&self, key: &str) -> PortResult<Option<i64>> {
        self.query(command("GET", 1, key.len()).arg(key)).await
    }
}
