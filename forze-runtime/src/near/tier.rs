//! One route's near tier: decoded values by storage key, and per-shard stamps.
//!
//! A read that may fill the tier takes a [`Ticket`] (its shard's stamp and the hub's epoch)
//! *before* it is sent; an invalidation bumps the stamp of its key's shard and removes the key,
//! both under the shard's lock; the reply is stored, under the same lock, only if the stamp and
//! the epoch are still the ticket's. So an invalidation that arrives while a read is in flight,
//! before or after its reply, always wins: the old value is never stored after it. A write of
//! this process ends the same way as an invalidation for every other read in flight (its stamp
//! moves on), since such a read may have been answered before the write landed; a miss's write
//! keeps its own value only under the claim its read took ([`NearTier::after_write`]).

use std::any::Any;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::hub::Switch;
use super::NearCache;

/// A decoded value, shared.
pub(crate) type Shared = Arc<dyn Any + Send + Sync>;

/// What a miss's write keeps near: the value as encoded (a copy of the bytes it wrote, before
/// any compression). Its first near hit decodes it and holds the decoded value instead
/// ([`NearTier::upgrade`]); a value written and never read again costs no decoded copy. (A
/// miss's own cost is then what it is on a plain route, with a copy of the bytes.)
pub(crate) struct Encoded(pub(crate) Vec<u8>);

#[derive(Clone)]
struct Entry {
    value: Shared,
    weight: u32,
    /// When the value stops being served (the tier's `max_ttl`, or the entry's TTL on the
    /// backend if sooner).
    expires: Instant,
}

#[derive(Clone)]
struct ByWeight;

impl quick_cache::Weighter<String, Entry> for ByWeight {
    fn weight(&self, _: &String, entry: &Entry) -> u64 {
        u64::from(entry.weight)
    }
}

/// The values of a tier: `quick_cache` (sharded, a read lock and a clone per hit, bounded by
/// weight), chosen over `moka` by measurement: a near hit through `moka`'s `get` cost ~1 300
/// instructions of its own bookkeeping (a read log, a clock per read), more than the rest of
/// the hit together.
type Entries = quick_cache::sync::Cache<String, Entry, ByWeight>;

const SHARDS: usize = 256;

/// Hit, miss and invalidation counts, striped by thread so that concurrent calls do not share a
/// cache line.
struct Counts {
    stripes: Box<[Stripe]>,
}

#[repr(align(128))]
#[derive(Default)]
struct Stripe {
    hits: AtomicU64,
    misses: AtomicU64,
    invalidations: AtomicU64,
}

impl Counts {
    const STRIPES: usize = 16;

    fn new() -> Self {
        Self {
            stripes: (0..Self::STRIPES).map(|_| Stripe::default()).collect(),
        }
    }

    fn stripe(&self) -> &Stripe {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        thread_local! {
            static MINE: usize = NEXT.fetch_add(1, Ordering::Relaxed) as usize % Counts::STRIPES;
        }
        &self.stripes[MINE.with(|m| *m)]
    }

    fn count(&self, hit: bool) {
        let stripe = self.stripe();
        let counter = if hit { &stripe.hits } else { &stripe.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn invalidated(&self) {
        self.stripe().invalidations.fetch_add(1, Ordering::Relaxed);
    }

    /// Hits, misses and invalidations.
    fn totals(&self) -> (u64, u64, u64) {
        self.stripes.iter().fold((0, 0, 0), |(h, m, i), s| {
            (
                h + s.hits.load(Ordering::Relaxed),
                m + s.misses.load(Ordering::Relaxed),
                i + s.invalidations.load(Ordering::Relaxed),
            )
        })
    }
}

/// A read's claim to fill the tier with its reply.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    shard: usize,
    stamp: u64,
    epoch: u64,
    /// When it was taken (before the read or write was sent): a value's TTL on the backend
    /// runs from later than this, so the near copy expires no later than the backend's.
    taken: Instant,
}

/// One route's near tier.
pub(crate) struct NearTier {
    entries: Entries,
    stamps: Box<[Mutex<u64>]>,
    /// The shards' hasher: quick_cache's own (foldhash), a fifth of SipHash's cost per key.
    hasher: quick_cache::DefaultHashBuilder,
    switch: Arc<Switch>,
    /// `{namespace}/`: every key of the route starts with it.
    pub(crate) prefix: String,
    max_ttl: Duration,
    counts: Counts,
    /// The keys this process used recently (`None`: values are kept from a key's first use).
    used: Option<Doorkeeper>,
}

/// A set of key hashes (two bits of one word each, in 32 bits per key it remembers) that forgets
/// everything once it noted `window` keys: whether a key was (probably) used by this process
/// among the last `window` keys used. A wrong "yes" (below 1 in 150 when it is fullest, half that
/// on average: `the_doorkeeper_at_its_fullest_takes_few_new_keys_for_seen`) keeps a
/// value near as [`NearCache::keep_on_first_use`] would; nothing depends on it being right.
struct Doorkeeper {
    bits: Box<[AtomicU64]>,
    window: u64,
    noted: AtomicU64,
}

impl Doorkeeper {
    fn new(window: usize) -> Self {
        let words = (window / 2).clamp(64, 1 << 19).next_power_of_two();
        Self {
            bits: (0..words).map(|_| AtomicU64::new(0)).collect(),
            window: (words as u64) * 2,
            noted: AtomicU64::new(0),
        }
    }

    /// The word and bits of `hash`.
    fn place(&self, hash: u64) -> (&AtomicU64, u64) {
        let word = &self.bits[(hash as usize >> 12) & (self.bits.len() - 1)];
        (word, (1u64 << (hash & 63)) | (1u64 << ((hash >> 6) & 63)))
    }

    /// Notes `hash`; whether it was noted before. Its two bits are in one word (one cache line
    /// touched per key).
    fn note(&self, hash: u64) -> bool {
        let (word, bits) = self.place(hash);
        if word.load(Ordering::Relaxed) & bits == bits {
            return true;
        }
        word.fetch_or(bits, Ordering::Relaxed);
        if self.noted.fetch_add(1, Ordering::Relaxed) + 1 >= self.window {
            self.noted.store(0, Ordering::Relaxed);
            for w in self.bits.iter() {
                w.store(0, Ordering::Relaxed);
            }
        }
        false
    }
}

impl std::fmt::Debug for NearTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NearTier")
            .field("prefix", &self.prefix)
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl NearTier {
    pub(crate) fn new(namespace: &str, config: NearCache, switch: Arc<Switch>) -> Self {
        // A guess at the entry count (quick_cache sizes its tables by it): values of ~1 KiB.
        let estimated = usize::try_from(config.max_bytes / 1024)
            .unwrap_or(usize::MAX)
            .clamp(16, 1 << 20);
        Self {
            entries: Entries::with_weighter(estimated, config.max_bytes, ByWeight),
            stamps: (0..SHARDS).map(|_| Mutex::new(0)).collect(),
            hasher: Default::default(),
            switch,
            prefix: format!("{namespace}/"),
            max_ttl: config.max_ttl,
            counts: Counts::new(),
            used: (!config.keep_on_first_use).then(|| Doorkeeper::new(estimated)),
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
        let found = self.entries.get(key).and_then(|e| {
            let now = Instant::now();
            if e.expires > now {
                return Some(e.value);
            }
            self.entries.remove_if(key, |e| e.expires <= now);
            None
        });
        self.counts.count(found.is_some());
        found
    }

    /// A claim to keep the reply of a read of `key` about to be sent, when its value is to be
    /// kept: the key was used by this process before (this use is noted; any key with
    /// [`NearCache::keep_on_first_use`]) and the tier is on. One hash of the key serves the
    /// doorkeeper and the shard.
    pub(crate) fn claim(&self, key: &str) -> Option<Ticket> {
        let hash = self.hasher.hash_one(key);
        let used = match &self.used {
            None => true,
            Some(doorkeeper) => doorkeeper.note(hash),
        };
        used.then(|| self.ticket_at(hash as usize % SHARDS))
            .flatten()
    }

    /// Notes a use of `key` by this process (a write): its next read keeps the value.
    pub(crate) fn note_use(&self, key: &str) {
        if let Some(doorkeeper) = &self.used {
            doorkeeper.note(self.hasher.hash_one(key));
        }
    }

    /// A claim on `shard` (`None` while the tier is off).
    fn ticket_at(&self, shard: usize) -> Option<Ticket> {
        let epoch = self.switch.epoch_if_on()?;
        let stamp = *self.stamp(shard);
        Some(Ticket {
            shard,
            stamp,
            epoch,
            taken: Instant::now(),
        })
    }

    /// A claim for a read of `key`, used or not.
    #[cfg(test)]
    fn ticket(&self, key: &str) -> Option<Ticket> {
        self.ticket_at(self.shard(key))
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
            let expires = ticket.taken + ttl;
            self.entries.insert(
                key.to_owned(),
                Entry {
                    value,
                    weight,
                    expires,
                },
            );
        }
        drop(stamp);
    }

    /// A value kept [`Encoded`] by a miss, at its first near hit: `decode` turns the bytes into
    /// what the caller returns and the form to hold from now on, which replaces `held` unless
    /// an invalidation or a write removed or replaced it since ([`NearTier::upgrade`]). `None`
    /// when `held` is not encoded, or does not decode.
    pub(crate) fn decode_held<X>(
        &self,
        key: &str,
        held: &Shared,
        decode: impl FnOnce(&[u8]) -> Option<(X, Option<Shared>)>,
    ) -> Option<X> {
        let (x, decoded) = decode(&held.downcast_ref::<Encoded>()?.0)?;
        if let Some(decoded) = decoded {
            self.upgrade(key, held, decoded);
        }
        Some(x)
    }

    /// Holds `decoded` for `key` instead of `held`, if `held` is still what the tier holds: an
    /// invalidation or a write since removed or replaced it, under the same lock, and then
    /// nothing is stored.
    fn upgrade(&self, key: &str, held: &Shared, decoded: Shared) {
        let stamp = self.stamp(self.shard(key));
        if let Some(entry) = self.entries.get(key) {
            if Arc::ptr_eq(&entry.value, held) {
                self.entries.insert(
                    key.to_owned(),
                    Entry {
                        value: decoded,
                        ..entry
                    },
                );
            }
        }
        drop(stamp);
    }

    /// Drops `key` and makes every read of it in flight unable to store its reply.
    pub(crate) fn invalidate(&self, key: &str) {
        self.bump(key, self.shard(key));
        self.counts.invalidated();
        crate::telemetry::near_invalidation();
    }

    /// After this process's write of `key` (and its reply): keeps the value of `kept` (encoded
    /// size `size`) as written, if nothing touched the key since its ticket was taken (before
    /// the miss's read was sent) — no invalidation, no flush, no other write of this process —
    /// and otherwise (or with nothing to keep) drops whatever is held. Either way, in the same
    /// look at the key's shard, every read of the key in flight loses its claim: such a read
    /// may have been answered before the write reached the server and be handled only after
    /// the write's end, and its older value must not be kept over the one written.
    pub(crate) fn after_write(
        &self,
        key: &str,
        kept: Option<(Ticket, Shared)>,
        size: usize,
        backend_ttl: Option<Duration>,
    ) {
        let shard = kept
            .as_ref()
            .map_or_else(|| self.shard(key), |(t, _)| t.shard);
        let mut stamp = self.stamp(shard);
        let untouched = kept.as_ref().is_some_and(|(ticket, _)| {
            *stamp == ticket.stamp && self.switch.epoch_if_on() == Some(ticket.epoch)
        });
        *stamp = stamp.wrapping_add(1);
        let ttl = backend_ttl.map_or(self.max_ttl, |t| t.min(self.max_ttl));
        match kept {
            Some((ticket, value)) if untouched && !ttl.is_zero() => {
                let weight = u32::try_from(size + key.len() + 64).unwrap_or(u32::MAX);
                self.entries.insert(
                    key.to_owned(),
                    Entry {
                        value,
                        weight,
                        expires: ticket.taken + ttl,
                    },
                );
            }
            _ => {
                let dropped = self.entries.remove(key).is_some();
                drop(stamp);
                if dropped {
                    // A drop as any other (`forze.near.invalidations`: by the server or own
                    // writes).
                    self.counts.invalidated();
                    crate::telemetry::near_invalidation();
                }
            }
        }
    }

    /// Moves `shard`'s stamp on and drops `key`, under the shard's lock; the new stamp.
    fn bump(&self, key: &str, shard: usize) -> u64 {
        let mut stamp = self.stamp(shard);
        *stamp = stamp.wrapping_add(1);
        self.entries.remove(key);
        *stamp
    }

    /// Drops everything (the hub moved the epoch first, so reads in flight store nothing).
    pub(crate) fn clear(&self) {
        self.entries.clear();
    }

    /// This tier's part of [`super::NearStats`].
    pub(crate) fn add_stats(&self, stats: &mut super::NearStats) {
        let (hits, misses, invalidations) = self.counts.totals();
        stats.entries += self.entries.len() as u64;
        stats.bytes += self.entries.weight();
        stats.hits += hits;
        stats.misses += misses;
        stats.invalidations += invalidations;
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
    fn a_hot_value_outlives_a_scan_of_values_read_once() {
        let switch = Arc::new(Switch::default());
        switch.turn_on();
        // Room for ~100 values of weight ~100 (1 byte + key + 64).
        let t = NearTier::new("ns", NearCache::new(10_000), switch);
        let fill = |key: &str, n: u32| {
            let ticket = t.ticket(key).unwrap();
            t.fill(key, ticket, value(n), 1, None);
        };
        fill("ns/hot", 1);
        for _ in 0..3 {
            assert_eq!(read(&t, "ns/hot"), Some(1));
        }
        for i in 0..2_000 {
            fill(&format!("ns/scan-{i:05}"), i);
        }
        assert_eq!(read(&t, "ns/hot"), Some(1));
        let mut stats = crate::NearStats::default();
        t.add_stats(&mut stats);
        assert!(stats.bytes <= 10_000, "{stats:?}");
    }

    #[test]
    fn a_write_keeps_its_value_only_when_nothing_touched_the_key_since_its_read() {
        let (t, _) = tier();
        let miss = t.ticket("ns/k").unwrap();
        t.after_write("ns/k", Some((miss, value(1))), 1, None);
        assert_eq!(read(&t, "ns/k"), Some(1), "kept as written");
        let miss = t.ticket("ns/k").unwrap();
        t.invalidate("ns/k");
        t.after_write("ns/k", Some((miss, value(2))), 1, None);
        assert_eq!(
            read(&t, "ns/k"),
            None,
            "an invalidation between the read and the write's end wins"
        );
    }

    #[test]
    fn a_read_answered_before_a_write_landed_never_replaces_the_value_written() {
        // A miss's read (claim `w`) and then another read of the key (claim `r`) are sent;
        // the other read is answered with the old value before the write reaches the server,
        // but its task handles the reply only after the write's end.
        let (t, _) = tier();
        let w = t.ticket("ns/k").unwrap();
        let r = t.ticket("ns/k").unwrap();
        t.after_write("ns/k", Some((w, value(1))), 1, None);
        t.fill("ns/k", r, value(0), 1, None);
        assert_eq!(read(&t, "ns/k"), Some(1), "the written value stays");
        // Handled before the write's end: the write's value replaces it.
        let w = t.ticket("ns/k").unwrap();
        let r = t.ticket("ns/k").unwrap();
        t.fill("ns/k", r, value(0), 1, None);
        t.after_write("ns/k", Some((w, value(2))), 1, None);
        assert_eq!(read(&t, "ns/k"), Some(2));
    }

    #[test]
    fn two_writes_of_one_key_in_flight_together_keep_neither() {
        // Which of two writes of this process the server applied last is not known here.
        let (t, _) = tier();
        let a = t.ticket("ns/k").unwrap();
        let b = t.ticket("ns/k").unwrap();
        t.after_write("ns/k", Some((a, value(1))), 1, None);
        t.after_write("ns/k", Some((b, value(2))), 1, None);
        assert_eq!(read(&t, "ns/k"), None);
    }

    #[test]
    fn a_first_hit_holds_the_decoded_value_unless_the_encoded_one_is_gone() {
        let (t, _) = tier();
        let encoded: Shared = Arc::new(Encoded(b"1".to_vec()));
        t.after_write(
            "ns/k",
            Some((t.ticket("ns/k").unwrap(), encoded.clone())),
            1,
            None,
        );
        let held = t.get("ns/k").unwrap();
        assert!(held.downcast_ref::<Encoded>().is_some());
        t.upgrade("ns/k", &held, value(1));
        assert_eq!(read(&t, "ns/k"), Some(1));
        // Decoded after an invalidation, or after another value replaced it: not stored.
        t.after_write(
            "ns/k",
            Some((t.ticket("ns/k").unwrap(), encoded.clone())),
            1,
            None,
        );
        let held = t.get("ns/k").unwrap();
        t.invalidate("ns/k");
        t.upgrade("ns/k", &held, value(2));
        assert_eq!(read(&t, "ns/k"), None);
        t.after_write("ns/k", Some((t.ticket("ns/k").unwrap(), encoded)), 1, None);
        let held = t.get("ns/k").unwrap();
        t.after_write("ns/k", Some((t.ticket("ns/k").unwrap(), value(3))), 1, None);
        t.upgrade("ns/k", &held, value(2));
        assert_eq!(read(&t, "ns/k"), Some(3));
    }

    #[test]
    fn a_value_is_kept_from_its_keys_second_use_unless_from_the_first() {
        let (t, _) = tier();
        assert!(t.claim("ns/a").is_none(), "first use of a");
        assert!(t.claim("ns/a").is_some(), "second");
        assert!(t.claim("ns/b").is_none());
        let every = NearTier::new(
            "ns",
            NearCache::new(1 << 20).keep_on_first_use(),
            Arc::new(Switch::default()),
        );
        every.switch.turn_on();
        assert!(every.claim("ns/a").is_some());
    }

    #[test]
    fn the_doorkeeper_forgets_after_its_window_and_rarely_says_yes_wrongly() {
        let keeper = Doorkeeper::new(0); // 64 words: a window of 128 keys in 4 096 bits
        assert_eq!(keeper.window, 128);
        assert!(!keeper.note(7));
        assert!(keeper.note(7));
        let hash = |h: u64| h.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let wrong = (1..127u64).filter(|&h| keeper.note(hash(h))).count();
        assert!(wrong <= 3, "{wrong} of 126 new keys taken for seen");
        assert!(keeper.note(7), "still within the window");
        assert!(
            !keeper.note(hash(1_000)),
            "the window's last key: then it forgets"
        );
        assert!(!keeper.note(7));
    }

    #[test]
    fn the_doorkeeper_at_its_fullest_takes_few_new_keys_for_seen() {
        let keeper = Doorkeeper::new(1 << 14);
        let hasher = quick_cache::DefaultHashBuilder::default();
        let hash = |i: u64| hasher.hash_one(format!("ns/cache/kv/k{i}"));
        for i in 0..keeper.window - 1 {
            keeper.note(hash(i));
        }
        let probes = 100_000u64;
        let wrong = (1_000_000..1_000_000 + probes)
            .filter(|&i| {
                let (word, bits) = keeper.place(hash(i));
                word.load(Ordering::Relaxed) & bits == bits
            })
            .count();
        // Measured: ~0.57% (a word holds ~4 bits of the window's keys, and a new key's two
        // bits both among them).
        assert!(
            wrong as u64 * 150 < probes,
            "{wrong} of {probes} taken for seen"
        );
    }

    #[test]
    fn a_value_never_outlives_the_backend_ttl() {
        let (t, _) = tier();
        let ticket = t.ticket("ns/k").unwrap();
        t.fill("ns/k", ticket, value(1), 1, Some(Duration::ZERO));
        assert_eq!(read(&t, "ns/k"), None);
    }
}
