//! The cache's multi-key operations on a Redis Cluster, where one command or script may only
//! touch one hash slot: `set_many` as one pipeline per slot, and tags as a set per slot.
//!
//! A tag `t` keeps, beside its slots' sets `{tag}/{{s}}` (one per slot `s` holding entries
//! of `t`), the set `{tag}/slots` of those slots. Writing a tagged entry first adds its slot to
//! `{tag}/slots` (one small script per tag, at once), then writes the entry and its membership
//! in its slot's sets in one script — atomic within the slot. An invalidation reads
//! `{tag}/slots` and, in each slot, deletes the entries and the set in one script. Since a
//! slot is recorded before anything is written in it and never removed, an invalidation finds
//! every entry written before it began; an entry written while it runs is either deleted or
//! recorded for the next one (as on one server). What is not atomic: an invalidation across
//! several slots is seen slot by slot, so a reader may, while it runs, find some of a tag's
//! entries gone and others not yet.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{ms, RedisBackend};
use crate::keys::{hash_slot, tag_slot_key, tag_slots_key};
use crate::ports::PortResult;

impl RedisBackend {
    /// `set_many`: the entries grouped by slot, one pipeline per slot, all at once.
    pub(super) async fn set_many_per_slot(
        &self,
        entries: &[(String, Vec<u8>)],
        ttl: Duration,
    ) -> PortResult<()> {
        let mut slots: BTreeMap<u16, redis::Pipeline> = BTreeMap::new();
        for (k, v) in entries {
            slots
                .entry(hash_slot(k.as_bytes()))
                .or_insert_with(redis::pipe)
                .cmd("SET")
                .arg(k)
                .arg(v)
                .arg("PX")
                .arg(ms(ttl))
                .ignore();
        }
        futures_util::future::try_join_all(slots.values().map(|pipe| self.pipeline::<()>(pipe)))
            .await
            .map(|_| ())
    }

    /// `set_tagged`: the entry's slot recorded for each tag, then the entry and its slot's
    /// tag sets in one script.
    pub(super) async fn set_tagged_per_slot(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        tags: &[String],
    ) -> PortResult<()> {
        let slot = hash_slot(key.as_bytes());
        let scripts = &self.inner.scripts;
        let registers: Vec<_> = tags
            .iter()
            .map(|tag| {
                let mut inv = scripts.tag_register.key(tag_slots_key(tag));
                inv.arg(slot).arg(ms(ttl));
                inv
            })
            .collect();
        futures_util::future::try_join_all(
            registers
                .iter()
                .map(|inv| self.run::<i64>("tag_register", inv)),
        )
        .await?;
        let mut inv = scripts.set_tagged.key(key);
        for tag in tags {
            inv.key(tag_slot_key(tag, slot));
        }
        inv.arg(value).arg(ms(ttl));
        self.run::<i64>("set_tagged", &inv).await.map(|_| ())
    }

    /// `invalidate_tags`: each tag's slots read, then one invalidation script per slot (over
    /// the sets of every tag in it), all at once. Returns how many entries existed.
    pub(super) async fn invalidate_tags_per_slot(
        &self,
        tags: &[String],
        list: bool,
    ) -> PortResult<(u64, Vec<String>)> {
        let slot_lists = futures_util::future::try_join_all(tags.iter().map(|tag| {
            let mut cmd = redis::cmd("SMEMBERS");
            cmd.arg(tag_slots_key(tag));
            async move {
                match self.query::<Vec<String>>(&cmd).await {
                    Ok(slots) => Ok(slots),
                    // Another program's value there: no slot recorded.
                    Err(e) if e.message.contains("WRONGTYPE") => Ok(Vec::new()),
                    Err(e) => Err(e),
                }
            }
        }))
        .await?;
        let mut per_slot: BTreeMap<u16, Vec<String>> = BTreeMap::new();
        for (tag, slots) in tags.iter().zip(slot_lists) {
            for slot in slots.iter().filter_map(|s| s.parse::<u16>().ok()) {
                per_slot
                    .entry(slot)
                    .or_default()
                    .push(tag_slot_key(tag, slot));
            }
        }
        let scripts = &self.inner.scripts;
        let mut invocations: Vec<_> = per_slot
            .values()
            .map(|sets| {
                let mut inv = scripts.invalidate_tags.prepare_invoke();
                for set in sets {
                    inv.key(set);
                }
                inv
            })
            .collect();
        let removed = futures_util::future::try_join_all(
            invocations
                .iter_mut()
                .map(|inv| self.run_invalidate_tags(inv, list)),
        )
        .await?;
        let mut all = (0, Vec::new());
        for (n, keys) in removed {
            all.0 += n;
            all.1.extend(keys);
        }
        Ok(all)
    }

    /// Runs the tag invalidation script `inv`, listing the keys when `list`.
    pub(super) async fn run_invalidate_tags(
        &self,
        inv: &mut redis::ScriptInvocation<'_>,
        list: bool,
    ) -> PortResult<(u64, Vec<String>)> {
        if !list {
            return Ok((self.run::<u64>("invalidate_tags", inv).await?, Vec::new()));
        }
        inv.arg("k");
        let mut reply: Vec<redis::Value> = self.run("invalidate_tags", inv).await?;
        let count = match reply.first() {
            Some(redis::Value::Int(n)) => u64::try_from(*n).unwrap_or(0),
            _ => 0,
        };
        let keys = reply
            .drain(1.min(reply.len())..)
            .filter_map(|v| redis::from_redis_value::<String>(v).ok())
            .collect();
        Ok((count, keys))
    }
}
