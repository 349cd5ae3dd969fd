//! The cache port on Redis: `GET`, `SET PX`, `DEL`, `MGET`, a pipeline; scripts for tags and
//! versions (on a Redis Cluster, tags and `set_many` work per slot: `per_slot`).

use std::time::Duration;

use async_trait::async_trait;

use super::{command, ms, RedisBackend};
use crate::ports::{CachePort, FencedEntry, PortResult, VersionWrite, VersionedKeys};

#[async_trait]
impl CachePort for RedisBackend {
    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        self.query(command("GET", 1, key.len()).arg(key)).await
    }

    async fn get_with_ttl(&self, key: &str) -> PortResult<Option<(Vec<u8>, Option<Duration>)>> {
        // Tracked: `CLIENT CACHING yes` makes the server note the `GET` for this process's
        // tracking connection (`OPTIN`), and tell it of the key's next change.
        let mut pipe = redis::pipe();
        pipe.cmd("CLIENT").arg("CACHING").arg("yes");
        pipe.cmd("GET").arg(key).cmd("PTTL").arg(key);
        let replies = match self.on_tracking(key, "GET", &pipe).await {
            Some(answer) => answer?,
            // Not tracked (tracking off, or a slot that moved): read, not to be kept.
            None => return Ok(self.get(key).await?.map(|v| (v, Some(Duration::ZERO)))),
        };
        let (value, pttl): (Option<Vec<u8>>, i64) =
            redis::from_redis_value(redis::Value::Array(replies.into_iter().skip(1).collect()))
                .map_err(|e| crate::error::BackendError::from(redis::RedisError::from(e)))?;
        Ok(value.map(|v| (v, u64::try_from(pttl).ok().map(Duration::from_millis))))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> PortResult<()> {
        self.query(
            command("SET", 4, key.len() + value.len() + 22)
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(ms(ttl)),
        )
        .await
    }

    async fn set_kept(&self, key: &str, value: &[u8], ttl: Duration) -> PortResult<bool> {
        // On the tracking connection: `NOLOOP` spares this process the invalidation of its own
        // write, and the tracked `PTTL` after it has the server tell of the key's next change.
        // In one transaction: a write of the key means the server forgets who tracked it, and
        // another client's write between this write and the tracked read would go unnoticed
        // (a value as large as a socket read would split the pipeline there).
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.cmd("SET").arg(key).arg(value).arg("PX").arg(ms(ttl));
        pipe.cmd("CLIENT").arg("CACHING").arg("yes");
        pipe.cmd("PTTL").arg(key);
        match self.on_tracking(key, "SET", &pipe).await {
            Some(answer) => answer.map(|_| true),
            // Not tracked (tracking off, or a slot that moved): written, not to be kept.
            None => self.set(key, value, ttl).await.map(|()| false),
        }
    }

    async fn delete(&self, keys: &[String]) -> PortResult<u64> {
        if keys.is_empty() {
            return Ok(0);
        }
        self.query(redis::cmd("DEL").arg(keys)).await
    }

    async fn get_many(&self, keys: &[String]) -> PortResult<Vec<Option<Vec<u8>>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.query(redis::cmd("MGET").arg(keys)).await
    }

    async fn set_many(&self, entries: &[(String, Vec<u8>)], ttl: Duration) -> PortResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        if self.is_cluster() {
            return self.set_many_per_slot(entries, ttl).await;
        }
        let mut pipe = redis::pipe();
        for (k, v) in entries {
            pipe.cmd("SET")
                .arg(k)
                .arg(v)
                .arg("PX")
                .arg(ms(ttl))
                .ignore();
        }
        self.pipeline::<()>(&pipe).await
    }

    async fn set_tagged(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        tags: &[String],
    ) -> PortResult<()> {
        if tags.is_empty() {
            return self.set(key, value, ttl).await;
        }
        if self.is_cluster() {
            return self.set_tagged_per_slot(key, value, ttl, tags).await;
        }
        let mut inv = self.inner.scripts.set_tagged.key(key);
        for tag in tags {
            inv.key(tag);
        }
        inv.arg(value).arg(ms(ttl));
        self.run::<i64>("set_tagged", &inv).await.map(|_| ())
    }

    async fn invalidate_tags(&self, tags: &[String], list: bool) -> PortResult<(u64, Vec<String>)> {
        if tags.is_empty() {
            return Ok((0, Vec::new()));
        }
        if self.is_cluster() {
            return self.invalidate_tags_per_slot(tags, list).await;
        }
        let mut inv = self.inner.scripts.invalidate_tags.prepare_invoke();
        for tag in tags {
            inv.key(tag);
        }
        self.run_invalidate_tags(&mut inv, list).await
    }

    async fn set_version(
        &self,
        keys: VersionedKeys<'_>,
        version: u64,
        current: &[u8],
        body_at: usize,
        ttl: Duration,
        write: VersionWrite,
    ) -> PortResult<bool> {
        let (who, deleted) = match write {
            VersionWrite::Rewarm => ("r", "0"),
            VersionWrite::Fenced { deleted } => ("f", if deleted { "1" } else { "0" }),
            VersionWrite::Create => ("c", "0"),
        };
        let moved: i64 = self
            .run(
                "set_version",
                self.inner
                    .scripts
                    .set_version
                    .key(keys.pointer)
                    .key(keys.body(version))
                    .key(keys.current)
                    .arg(version)
                    .arg(current)
                    .arg(ms(ttl))
                    .arg(ms(ttl.saturating_mul(crate::ports::POINTER_TTL_FACTOR)))
                    .arg(body_at)
                    .arg(who)
                    .arg(deleted),
            )
            .await?;
        Ok(moved == 1)
    }

    async fn fence(&self, keys: VersionedKeys<'_>, ttl: Duration) -> PortResult<FencedEntry> {
        let pointer_ttl = ms(ttl.saturating_mul(crate::ports::POINTER_TTL_FACTOR));
        let (pointer, current): (Option<Vec<u8>>, Option<Vec<u8>>) = self
            .run(
                "fence",
                self.inner
                    .scripts
                    .fence
                    .key(keys.pointer)
                    .key(keys.current)
                    .arg(pointer_ttl),
            )
            .await?;
        Ok(FencedEntry { pointer, current })
    }

    async fn unfence(
        &self,
        keys: VersionedKeys<'_>,
        previous: &FencedEntry,
        ttl: Duration,
    ) -> PortResult<bool> {
        let pointer_ttl = ms(ttl.saturating_mul(crate::ports::POINTER_TTL_FACTOR));
        let done: i64 = self
            .run(
                "unfence",
                self.inner
                    .scripts
                    .unfence
                    .key(keys.pointer)
                    .key(keys.current)
                    .arg(previous.pointer.as_deref().unwrap_or_default())
                    .arg(previous.current.as_deref().unwrap_or_default())
                    .arg(pointer_ttl)
                    .arg(ms(ttl)),
            )
            .await?;
        Ok(done == 1)
    }
}
