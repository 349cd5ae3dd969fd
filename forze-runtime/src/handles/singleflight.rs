//! In-process single-flight: concurrent callers of one key share one computation.
//!
//! The first caller of a key becomes the leader; callers arriving while it runs become followers
//! and wait for its result. The channel that carries the result is only created when a first
//! follower arrives, so an uncontended call costs one map insert and one remove under a sharded
//! lock.

use std::collections::hash_map::{DefaultHasher, RandomState};
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use bytes::Bytes;
use tokio::sync::watch;

/// The state of a flight as followers see it.
#[derive(Clone)]
pub(crate) enum Flight {
    Running,
    /// The encoded result when it could be shared; `None` when not (an error, a value that is
    /// not cached): the followers then compute their own.
    Done(Option<Bytes>),
}

struct Entry {
    /// The storage key (a flight is found by the key's hash, then checked against the key).
    key: String,
    id: u64,
    tx: Option<watch::Sender<Flight>>,
    followers: usize,
}

/// Maps keyed by a hash computed once per call: the map does not hash again.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64`s are hashed here; fold anything else rather than lose it.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Shard = Mutex<HashMap<u64, Entry, BuildHasherDefault<Prehashed>>>;

const SHARDS: usize = 16;

/// The flights in progress of one cache route, by storage key (sharded, so that concurrent
/// calls on different keys rarely meet on one lock).
#[derive(Default)]
pub(crate) struct SingleFlight {
    shards: [Shard; SHARDS],
}

/// A flight id unique in the process, without a counter that every thread writes: each thread
/// numbers its own flights in a range of its own.
fn next_flight_id() -> u64 {
    static THREADS: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static NEXT: std::cell::Cell<u64> =
            std::cell::Cell::new(THREADS.fetch_add(1, Ordering::Relaxed) << 40);
    }
    NEXT.with(|n| {
        let id = n.get();
        n.set(id.wrapping_add(1));
        id
    })
}

/// What a caller is in a flight.
pub(crate) enum Role<'a> {
    /// First caller: computes, then calls [`Leader::finish`].
    Leader(Leader<'a>),
    /// Later caller: waits for the leader's result with [`wait`].
    Follower(watch::Receiver<Flight>),
}

/// The computing caller. Dropped without `finish` (cancelled, panicked), it ends the flight and
/// the followers compute on their own.
pub(crate) struct Leader<'a> {
    owner: &'a SingleFlight,
    key: String,
    hash: u64,
    /// `None` when the call could not be registered (another key with the same hash is in
    /// flight): it then runs alone.
    id: Option<u64>,
    finished: bool,
}

/// One keyed hash per process (random keys, so that callers cannot aim keys at one slot).
fn hash_of(key: &str) -> u64 {
    static STATE: OnceLock<RandomState> = OnceLock::new();
    let mut h: DefaultHasher = STATE.get_or_init(RandomState::new).build_hasher();
    h.write(key.as_bytes());
    h.finish()
}

impl SingleFlight {
    fn lock(
        &self,
        hash: u64,
    ) -> MutexGuard<'_, HashMap<u64, Entry, BuildHasherDefault<Prehashed>>> {
        self.shards[(hash >> 56) as usize % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Joins the flight of `key` (the storage key, moved into the leader).
    pub(crate) fn join(&self, key: String) -> Role<'_> {
        let hash = hash_of(&key);
        let mut flights = self.lock(hash);
        let id = match flights.get_mut(&hash) {
            Some(entry) if entry.key == key => {
                entry.followers += 1;
                let tx = entry
                    .tx
                    .get_or_insert_with(|| watch::channel(Flight::Running).0);
                return Role::Follower(tx.subscribe());
            }
            Some(_) => None,
            None => {
                let id = next_flight_id();
                flights.insert(
                    hash,
                    Entry {
                        key: key.clone(),
                        id,
                        tx: None,
                        followers: 0,
                    },
                );
                Some(id)
            }
        };
        drop(flights);
        Role::Leader(Leader {
            owner: self,
            key,
            hash,
            id,
            finished: false,
        })
    }

    /// Calls that joined the flight of `key` in progress as followers (0 when there is none).
    pub(crate) fn followers(&self, key: &str) -> usize {
        let hash = hash_of(key);
        self.lock(hash)
            .get(&hash)
            .filter(|e| e.key == key)
            .map_or(0, |e| e.followers)
    }

    /// Ends the flight `id`; its followers get `result` (or see the channel close). The bytes
    /// are only shared (turned into [`Bytes`]) when someone waits for them.
    fn end(&self, hash: u64, id: u64, result: Option<Option<Vec<u8>>>) {
        let entry = {
            let mut flights = self.lock(hash);
            match flights.get(&hash) {
                Some(e) if e.id == id => flights.remove(&hash),
                _ => None,
            }
        };
        if let (Some(Entry { tx: Some(tx), .. }), Some(result)) = (entry, result) {
            tx.send_replace(Flight::Done(result.map(Bytes::from)));
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }
}

impl Leader<'_> {
    /// The storage key of this flight.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// Hands `result` to every follower and ends the flight.
    pub(crate) fn finish(mut self, result: Option<Vec<u8>>) {
        self.finished = true;
        if let Some(id) = self.id {
            self.owner.end(self.hash, id, Some(result));
        }
    }
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        if let (false, Some(id)) = (self.finished, self.id) {
            self.owner.end(self.hash, id, None);
        }
    }
}

/// The leader's shared result, or `None` when there is none to share.
pub(crate) async fn wait(mut rx: watch::Receiver<Flight>) -> Option<Bytes> {
    match rx.wait_for(|f| matches!(f, Flight::Done(_))).await {
        Ok(f) => match &*f {
            Flight::Done(v) => v.clone(),
            Flight::Running => None,
        },
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn followers_get_the_leaders_result_and_the_flight_ends() {
        let sf = SingleFlight::default();
        let Role::Leader(leader) = sf.join("k".into()) else {
            panic!("first caller leads")
        };
        let Role::Follower(rx) = sf.join("k".into()) else {
            panic!("second caller follows")
        };
        assert_eq!(sf.followers("k"), 1);
        let waiter = tokio::spawn(wait(rx));
        leader.finish(Some(b"v".to_vec()));
        assert_eq!(waiter.await.unwrap().as_deref(), Some(&b"v"[..]));
        assert_eq!(sf.len(), 0);
        assert!(matches!(sf.join("k".into()), Role::Leader(_)));
    }

    #[tokio::test]
    async fn a_dropped_leader_releases_its_followers() {
        let sf = SingleFlight::default();
        let Role::Leader(leader) = sf.join("k".into()) else {
            panic!("first caller leads")
        };
        let Role::Follower(rx) = sf.join("k".into()) else {
            panic!("second caller follows")
        };
        drop(leader);
        assert_eq!(wait(rx).await, None);
        assert_eq!(sf.len(), 0);
    }

    #[test]
    fn a_key_whose_hash_is_taken_runs_alone() {
        let sf = SingleFlight::default();
        let Role::Leader(first) = sf.join("a".into()) else {
            panic!("first caller leads")
        };
        // Forge a second key in the same slot, as a hash collision would.
        let hash = hash_of("b");
        let moved = sf.lock(first.hash).remove(&first.hash).unwrap();
        sf.lock(hash).insert(hash, moved);
        let Role::Leader(second) = sf.join("b".into()) else {
            panic!("a different key never follows another key's flight")
        };
        assert_eq!(second.id, None);
        assert_eq!(sf.followers("b"), 0);
        drop(second);
        assert_eq!(sf.len(), 1, "the unregistered leader removed nothing");
    }

    #[test]
    fn flight_ids_differ_across_threads() {
        let here = [next_flight_id(), next_flight_id()];
        let there = std::thread::spawn(|| [next_flight_id(), next_flight_id()])
            .join()
            .unwrap();
        let all: std::collections::HashSet<u64> = here.iter().chain(&there).copied().collect();
        assert_eq!(all.len(), 4);
    }

    #[test]
    fn an_uncontended_flight_leaves_nothing_behind() {
        let sf = SingleFlight::default();
        for _ in 0..3 {
            let Role::Leader(leader) = sf.join("k".into()) else {
                panic!("no one else is flying")
            };
            leader.finish(None);
        }
        assert_eq!(sf.len(), 0);
    }
}
