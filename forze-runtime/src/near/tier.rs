//! One route's near tier: decoded values by storage key, and per-shard stamps.
//!
//! A read that may fill the tier takes a [`Ticket`] (its shard's stamp and the hub's epoch)
//! *before* it is sent; an invalidation bumps the stamp of its key's shard and removes the key,
//! both under the shard's lock; the reply is stored, under the same lock, only if the stamp and
//! the epoch are still the ticket's. So an invalidation that arrives while a read is in flight,
//! before or after its reply, always wins: the old value is never stored after it.

use std::any::Any;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::hub::Switch;
use super::NearCache;

/// A decoded value, shared.
pub(crate) type Shared = Arc<dyn Any + Send + Sync>;

#[derive(Clone)]
struct Entry {
    value: Shared,
    weight: u32,
    ttl: Duration,
}

struct EntryTtl;

impl moka::Expiry<String, Entry> for EntryTtl {
    fn expire_after_create(&self, _: &String, v: &Entry, _: Instant) -> Option<Duration> {
        Some(v.ttl)
    }
    fn expire_after_update(
        &self,
        _: &String,
        v: &Entry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(v.ttl)
    }
}

const SHARDS: usize = 256;

/// A read's claim to fill the tier with its reply.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    shard: usize,
    stamp: u64,
    epoch: u64,
}

/// One route's near tier.
pub(crate) struct NearTier {
    entries: moka::sync::Cache<String, Entry>,
    stamps: Box<[Mutex<u64>]>,
    hasher: std::collections::hash_map::RandomState,
    switch: Arc<Switch>,
    /// `{namespace}/`: every key of the route starts with it.
    pub(crate) prefix: String,
    max_ttl: Duration,
    hits: AtomicU64,
    misses: AtomicU64,
    invalidations: AtomicU64,
}

impl std::fmt::Debug for NearTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NearTier")
            .field("prefix", &self.prefix)
            .field("entries", &self.entries.entry_count())
            .finish_non_exhaustive()
    }
}

impl NearTier {
    pub(crate) fn new(namespace: &str, config: NearCache, switch: Arc<Switch>) -> Self {
        let entries = moka::sync::Cache::builder()
            .max_capacity(config.max_bytes)
            .weigher(|_: &String, e: &Entry| e.weight)
            .expire_after(EntryTtl)
            .build();
        Self {
            entries,
            stamps: (0..SHARDS).map(|_| Mutex::new(0)).collect(),
            hasher: Default::default(),
            switch,
            prefix: format!("{namespace}/"),
            max_ttl: config.max_ttl,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
        }
    }

    fn shard(&self, key: &str) -> usize {
        (self.hasher.hash_one(key) as usize) % SHARDS
    }

    fn stamp(&self, shard: usize) -> std::sync::MutexGuard<'_, u64> {
        self.stamps[shard].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value held for `key`, if any.
    pub(crate) fn get(&self, key: &str) -> Option<Shared> {
        let found = self.entries.get(key).map(|e| e.value);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// A claim to store the reply of a read of `key` about to be sent (`None` while the tier is
    /// off).
    pub(crate) fn ticket(&self, key: &str) -> Option<Ticket> {
        let epoch = self.switch.epoch_if_on()?;
        let shard = self.shard(key);
        let stamp = *self.stamp(shard);
        Some(Ticket {
            shard,
            stamp,
            epoch,
        })
    }

    /// Stores `value` (its encoded size `size`) for `key` as read under `ticket`, unless an
    /// invalidation or a flush came since; it lives at most the tier's `max_ttl` and
    /// `backend_ttl` (what was left of the entry's TTL on the backend).
    pub(crate) fn fill(
        &self,
        key: &str,
        ticket: Ticket,
        value: Shared,
        size: usize,
        backend_ttl: Option<Duration>,
    ) {
        let ttl = backend_ttl.map_or(self.max_ttl, |t| t.min(self.max_ttl));
        if ttl.is_zero() {
            return;
        }
        let weight = u32::try_from(size + key.len() + 64).unwrap_or(u32::MAX);
        let stamp = self.stamp(ticket.shard);
        if *stamp == ticket.stamp && self.switch.epoch_if_on() == Some(ticket.epoch) {
            self.entries
                .insert(key.to_owned(), Entry { value, weight, ttl });
        }
        drop(stamp);
    }

    /// Drops `key` and makes every read of it in flight unable to store its reply.
    pub(crate) fn invalidate(&self, key: &str) {
        let shard = self.shard(key);
        let mut stamp = self.stamp(shard);
        *stamp = stamp.wrapping_add(1);
        self.entries.invalidate(key);
        drop(stamp);
        self.invalidations.fetch_add(1, Ordering::Relaxed);
        crate::telemetry::near_invalidation();
    }

    /// Drops everything (the hub moved the epoch first, so reads in flight store nothing).
    pub(crate) fn clear(&self) {
        self.entries.invalidate_all();
    }

    /// This tier's part of [`super::NearStats`].
    pub(crate) fn add_stats(&self, stats: &mut super::NearStats) {
        self.entries.run_pending_tasks();
        stats.entries += self.entries.entry_count();
        stats.bytes += self.entries.weighted_size();
        stats.hits += self.hits.load(Ordering::Relaxed);
        stats.misses += self.misses.load(Ordering::Relaxed);
        stats.invalidations += self.invalidations.load(Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier() -> (NearTier, Arc<Switch>) {
        let switch = Arc::new(Switch::default());
        switch.turn_on();
        (
            NearTier::new("ns", NearCache::new(1 << 20), switch.clone()),
            switch,
        )
    }

    fn value(n: u32) -> Shared {
        Arc::new(n)
    }

    fn read(t: &NearTier, key: &str) -> Option<u32> {
        t.get(key).and_then(|v| v.downcast_ref::<u32>().copied())
    }

    #[test]
    fn an_invalidation_during_a_read_keeps_its_reply_out() {
        let (t, _) = tier();
        let ticket = t.ticket("ns/k").unwrap();
        t.invalidate("ns/k");
        t.fill("ns/k", ticket, value(1), 1, None);
        assert_eq!(read(&t, "ns/k"), None);
        let ticket = t.ticket("ns/k").unwrap();
        t.fill("ns/k", ticket, value(2), 1, None);
        assert_eq!(read(&t, "ns/k"), Some(2));
        t.invalidate("ns/k");
        assert_eq!(read(&t, "ns/k"), None);
    }

    #[test]
    fn a_flush_during_a_read_keeps_its_reply_out_and_off_stores_nothing() {
        let (t, switch) = tier();
        let ticket = t.ticket("ns/k").unwrap();
        switch.turn_off();
        assert!(t.ticket("ns/k").is_none());
        switch.turn_on();
        t.fill("ns/k", ticket, value(1), 1, None);
        assert_eq!(read(&t, "ns/k"), None);
    }

    #[test]
    fn a_value_never_outlives_the_backend_ttl() {
        let (t, _) = tier();
        let ticket = t.ticket("ns/k").unwrap();
        t.fill("ns/k", ticket, value(1), 1, Some(Duration::ZERO));
        assert_eq!(read(&t, "ns/k"), None);
    }
}
