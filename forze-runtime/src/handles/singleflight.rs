//! In-process single-flight: concurrent callers of one key share one computation.
//!
//! The first caller of a key becomes the leader; callers arriving while it runs become followers
//! and wait for its result. The channel that carries the result is only created when a first
//! follower arrives, so an uncontended call costs one map insert and one remove under a sharded
//! lock.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

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
    id: u64,
    tx: Option<watch::Sender<Flight>>,
    followers: usize,
}

type Shard = Mutex<HashMap<String, Entry>>;

const SHARDS: usize = 16;

/// The flights in progress of one cache route, by storage key (sharded, so that concurrent
/// calls on different keys rarely meet on one lock).
#[derive(Default)]
pub(crate) struct SingleFlight {
    shards: [Shard; SHARDS],
    next_id: AtomicU64,
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
    shard: usize,
    key: String,
    id: u64,
    finished: bool,
}

impl SingleFlight {
    fn shard_of(key: &str) -> usize {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        (h.finish() as usize) % SHARDS
    }

    fn lock(&self, shard: usize) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.shards[shard].lock().unwrap_or_else(|e| e.into_inner())
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.lock(Self::shard_of(key))
    }

    /// Joins the flight of `key` (the storage key, moved into the leader).
    pub(crate) fn join(&self, key: String) -> Role<'_> {
        let shard = Self::shard_of(&key);
        let mut flights = self.lock(shard);
        if let Some(entry) = flights.get_mut(&key) {
            entry.followers += 1;
            let tx = entry
                .tx
                .get_or_insert_with(|| watch::channel(Flight::Running).0);
            return Role::Follower(tx.subscribe());
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        flights.insert(
            key.clone(),
            Entry {
                id,
                tx: None,
                followers: 0,
            },
        );
        drop(flights);
        Role::Leader(Leader {
            owner: self,
            shard,
            key,
            id,
            finished: false,
        })
    }

    /// Calls that joined the flight of `key` in progress as followers (0 when there is none).
    pub(crate) fn followers(&self, key: &str) -> usize {
        self.shard(key).get(key).map_or(0, |e| e.followers)
    }

    /// Ends the flight `id` of `key`; its followers get `result` (or see the channel close).
    fn end(&self, shard: usize, key: &str, id: u64, result: Option<Option<Bytes>>) {
        let entry = {
            let mut flights = self.lock(shard);
            match flights.get(key) {
                Some(e) if e.id == id => flights.remove(key),
                _ => None,
            }
        };
        if let (Some(Entry { tx: Some(tx), .. }), Some(result)) = (entry, result) {
            tx.send_replace(Flight::Done(result));
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
    pub(crate) fn finish(mut self, result: Option<Bytes>) {
        self.finished = true;
        self.owner.end(self.shard, &self.key, self.id, Some(result));
    }
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.owner.end(self.shard, &self.key, self.id, None);
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
        leader.finish(Some(Bytes::from_static(b"v")));
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
