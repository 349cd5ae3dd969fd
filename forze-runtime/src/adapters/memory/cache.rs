//! The cache port in memory: a byte-bounded moka cache; tags and versions in the state map.

use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::*;
use crate::ports::cache::{fence_value, parse_fence};
use crate::ports::VersionDecision;

#[async_trait]
impl CachePort for MemoryBackend {
    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        Ok(self.cache_get(key))
    }

    async fn get_with_ttl(&self, key: &str) -> PortResult<Option<(Vec<u8>, Option<Duration>)>> {
        Ok(self.cache_get_with_ttl(key))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> PortResult<()> {
        self.cache_put(key, value, ttl);
        Ok(())
    }

    async fn delete(&self, keys: &[String]) -> PortResult<u64> {
        Ok(keys
            .iter()
            .filter(|k| self.inner.cache.remove(k.as_str()).is_some())
            .count() as u64)
    }

    async fn get_many(&self, keys: &[String]) -> PortResult<Vec<Option<Vec<u8>>>> {
        Ok(keys.iter().map(|k| self.cache_get(k)).collect())
    }

    async fn set_many(&self, entries: &[(String, Vec<u8>)], ttl: Duration) -> PortResult<()> {
        for (k, v) in entries {
            self.cache_put(k, v, ttl);
        }
        Ok(())
    }

    async fn set_tagged(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        tags: &[String],
    ) -> PortResult<()> {
        let now = Instant::now();
        let mut state = self.state();
        // Check room for every tag first, so that a full backend writes nothing.
        let new_tags = tags.iter().filter(|t| state.live(t, now).is_none()).count();
        state.make_room(new_tags, now, key)?;
        for tag in tags {
            let until = now + ttl;
            match state.live(tag, now) {
                Some(Slot {
                    value: Value::Tag(members),
                    expires_at,
                }) => {
                    members.insert(key.to_owned());
                    if expires_at.is_some_and(|t| t < until) {
                        *expires_at = Some(until);
                    }
                }
                Some(_) => return Err(wrong_type(tag)),
                None => state.put(
                    tag,
                    Slot {
                        value: Value::Tag([key.to_owned()].into()),
                        expires_at: Some(until),
                    },
                    now,
                )?,
            }
        }
        drop(state);
        self.cache_put(key, value, ttl);
        Ok(())
    }

    async fn invalidate_tags(&self, tags: &[String], list: bool) -> PortResult<(u64, Vec<String>)> {
        let now = Instant::now();
        let mut state = self.state();
        let mut removed = 0;
        let mut listed = Vec::new();
        for tag in tags {
            match state.live(tag, now).map(|s| &s.value) {
                Some(Value::Tag(_)) => {}
                Some(_) => return Err(wrong_type(tag)),
                None => continue,
            }
            if let Some(Slot {
                value: Value::Tag(members),
                ..
            }) = state.slots.remove(tag.as_str())
            {
                for m in members {
                    if self.inner.cache.remove(m.as_str()).is_some() {
                        removed += 1;
                    }
                    if list {
                        listed.push(m);
                    }
                }
            }
        }
        Ok((removed, listed))
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
        let body = current.get(body_at..).unwrap_or_default();
        let _writer = unpoison(self.inner.versions.lock());
        let pointer_ttl = ttl.saturating_mul(crate::ports::POINTER_TTL_FACTOR);
        match write.decide(self.cache_get(keys.pointer).as_deref(), version) {
            VersionDecision::Refuse => Ok(false),
            VersionDecision::Keep(pointer) => {
                self.cache_put(&keys.body(version), body, ttl);
                self.cache_put(keys.pointer, pointer.as_bytes(), pointer_ttl);
                Ok(false)
            }
            VersionDecision::Install => {
                self.cache_put(&keys.body(version), body, ttl);
                self.cache_put(keys.current, current, ttl);
                self.cache_put(keys.pointer, write.pointer(version).as_bytes(), pointer_ttl);
                Ok(true)
            }
        }
    }

    async fn fence(&self, keys: VersionedKeys<'_>, ttl: Duration) -> PortResult<FencedEntry> {
        let _writer = unpoison(self.inner.versions.lock());
        let previous = FencedEntry {
            pointer: self.cache_get(keys.pointer),
            current: self.cache_get(keys.current),
        };
        let (writers, newest, deleted) = previous
            .pointer
            .as_deref()
            .and_then(parse_fence)
            .unwrap_or((0, 0, false));
        let pointer_ttl = ttl.saturating_mul(crate::ports::POINTER_TTL_FACTOR);
        let fence = fence_value(writers + 1, newest, deleted);
        self.cache_put(keys.pointer, fence.as_bytes(), pointer_ttl);
        self.inner.cache.remove(keys.current);
        Ok(previous)
    }

    async fn unfence(
        &self,
        keys: VersionedKeys<'_>,
        previous: &FencedEntry,
        ttl: Duration,
    ) -> PortResult<bool> {
        let _writer = unpoison(self.inner.versions.lock());
        let Some((writers, newest, deleted)) = self
            .cache_get(keys.pointer)
            .as_deref()
            .and_then(parse_fence)
        else {
            return Ok(false);
        };
        let pointer_ttl = ttl.saturating_mul(crate::ports::POINTER_TTL_FACTOR);
        match (writers.saturating_sub(1), newest) {
            (0, 0) => {
                match &previous.pointer {
                    Some(p) => self.cache_put(keys.pointer, p, pointer_ttl),
                    None => {
                        self.inner.cache.remove(keys.pointer);
                    }
                }
                if let Some(c) = &previous.current {
                    self.cache_put(keys.current, c, ttl);
                }
            }
            (0, newest) => {
                let pointer = if deleted {
                    format!("t{newest}")
                } else {
                    newest.to_string()
                };
                self.cache_put(keys.pointer, pointer.as_bytes(), pointer_ttl);
            }
            (left, newest) => {
                let fence = fence_value(left, newest, deleted);
                self.cache_put(keys.pointer, fence.as_bytes(), pointer_ttl);
            }
        }
        Ok(true)
    }
}
