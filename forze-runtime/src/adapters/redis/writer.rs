//! Where a near route's tracked reads and kept writes go: the tracking connection of the master
//! that holds the key, so that the server tracks the key for it (`CLIENT CACHING yes` before a
//! read) and its `NOLOOP` keeps the server from sending this process the invalidation of its
//! own write — which would drop the value the write just kept near (`tracking`). On one server
//! (and Sentinel's master) that is the one tracking connection; on a cluster, the one of the
//! master that served the key's slot when tracking was established. A slot that moved since
//! answers `MOVED`, and the command is sent again on the data connections (whose cluster
//! client follows it), its value not kept.

use redis::aio::MultiplexedConnection;

use crate::keys::{hash_slot, HASH_SLOTS};

/// The tracking connections a near route's tracked reads and kept writes go on.
pub(super) struct Writer {
    conns: Vec<MultiplexedConnection>,
    /// On a cluster, per hash slot: 1 + the index in `conns` of its master, 0 for none.
    owners: Option<Box<[u16]>>,
}

impl Writer {
    /// One server's (or Sentinel master's) tracking connection.
    pub(super) fn one(conn: MultiplexedConnection) -> Self {
        Self {
            conns: vec![conn],
            owners: None,
        }
    }

    /// A cluster's tracking connections, `conns[i]` to the master serving the slot ranges
    /// `ranges[i]` (inclusive).
    pub(super) fn per_slot(conns: Vec<MultiplexedConnection>, ranges: &[Vec<(u16, u16)>]) -> Self {
        Self {
            conns,
            owners: Some(owners(ranges)),
        }
    }

    /// The connection a tracked read or kept write of `key` goes on, if tracking knows the key's
    /// master.
    pub(super) fn for_key(&self, key: &str) -> Option<&MultiplexedConnection> {
        match &self.owners {
            None => self.conns.first(),
            Some(owners) => owner(owners, key).and_then(|i| self.conns.get(i)),
        }
    }
}

/// Per hash slot, 1 + the index of the range list that holds it (0: none).
fn owners(ranges: &[Vec<(u16, u16)>]) -> Box<[u16]> {
    let mut owners = vec![0u16; usize::from(HASH_SLOTS)].into_boxed_slice();
    for (i, list) in ranges.iter().enumerate() {
        let Ok(mark) = u16::try_from(i + 1) else {
            break;
        };
        for &(start, end) in list {
            let end = end.min(HASH_SLOTS - 1);
            for slot in start..=end {
                owners[usize::from(slot)] = mark;
            }
        }
    }
    owners
}

/// The index of the master of `key`'s slot in `owners`, if any.
fn owner(owners: &[u16], key: &str) -> Option<usize> {
    let mark = *owners.get(usize::from(hash_slot(key.as_bytes())))?;
    usize::from(mark).checked_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_goes_to_the_master_of_its_slot_and_an_unserved_slot_to_none() {
        // Three masters as `redis-cli --cluster create` splits the slots; the last one also
        // serves a stray range, and slots 16 000.. are served by nobody.
        let ranges = vec![
            vec![(0, 5460)],
            vec![(5461, 10922)],
            vec![(10923, 15999), (3, 3)],
        ];
        let owners = owners(&ranges);
        for i in 0..2_000 {
            let key = format!("ns/cache/kv/k{i}");
            let slot = hash_slot(key.as_bytes());
            let expected = match slot {
                3 => Some(2),
                0..=5460 => Some(0),
                5461..=10922 => Some(1),
                10923..=15999 => Some(2),
                _ => None,
            };
            assert_eq!(owner(&owners, &key), expected, "{key} in slot {slot}");
        }
        // A key with a hash tag goes with the tag's slot.
        assert_eq!(
            owner(&owners, "a/{user:1}/x"),
            owner(&owners, "b/{user:1}/y")
        );
    }
}
