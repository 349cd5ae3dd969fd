//! In-process single-flight: concurrent callers of one key share one computation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

#[derive(Clone)]
pub(crate) enum Flight {
    Running,
    /// The encoded result when it could be shared; `None` when not (an error, a value that is
    /// not cached): the followers then compute their own.
    Done(Option<Arc<[u8]>>),
}

/// The flights in progress of one cache route, by storage key.
#[derive(Default)]
pub(crate) struct SingleFlight {
    flights: Mutex<HashMap<String, (watch::Receiver<Flight>, usize)>>,
}

/// What a caller is in a flight.
pub(crate) enum Role {
    /// First caller: computes, then calls [`Leader::finish`].
    Leader(Leader),
    /// Later caller: waits for the leader's result with [`wait`].
    Follower(watch::Receiver<Flight>),
}

/// The computing caller. Dropped without `finish` (cancelled, panicked), it ends the flight and
/// the followers compute on their own.
pub(crate) struct Leader {
    owner: Arc<SingleFlight>,
    key: String,
    tx: watch::Sender<Flight>,
}

impl SingleFlight {
    pub(crate) fn join(self: &Arc<Self>, key: &str) -> Role {
        let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((rx, followers)) = flights.get_mut(key) {
            *followers += 1;
            return Role::Follower(rx.clone());
        }
        let (tx, rx) = watch::channel(Flight::Running);
        flights.insert(key.to_owned(), (rx, 0));
        Role::Leader(Leader {
            owner: Arc::clone(self),
            key: key.to_owned(),
            tx,
        })
    }

    /// Calls that joined the flight of `key` in progress as followers (0 when there is none).
    pub(crate) fn followers(&self, key: &str) -> usize {
        let flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        flights.get(key).map_or(0, |(_, n)| *n)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.flights.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Leader {
    /// Hands `result` to every follower and ends the flight.
    pub(crate) fn finish(self, result: Option<Arc<[u8]>>) {
        self.tx.send_replace(Flight::Done(result));
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        let mut flights = self.owner.flights.lock().unwrap_or_else(|e| e.into_inner());
        if flights
            .get(&self.key)
            .is_some_and(|(rx, _)| rx.same_channel(&self.tx.subscribe()))
        {
            flights.remove(&self.key);
        }
    }
}

/// The leader's shared result, or `None` when there is none to share.
pub(crate) async fn wait(mut rx: watch::Receiver<Flight>) -> Option<Arc<[u8]>> {
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
        let sf = Arc::new(SingleFlight::default());
        let Role::Leader(leader) = sf.join("k") else {
            panic!("first caller leads")
        };
        let Role::Follower(rx) = sf.join("k") else {
            panic!("second caller follows")
        };
        let waiter = tokio::spawn(wait(rx));
        leader.finish(Some(Arc::from(&b"v"[..])));
        assert_eq!(waiter.await.unwrap().as_deref(), Some(&b"v"[..]));
        assert_eq!(sf.len(), 0);
        assert!(matches!(sf.join("k"), Role::Leader(_)));
    }

    #[tokio::test]
    async fn a_dropped_leader_releases_its_followers() {
        let sf = Arc::new(SingleFlight::default());
        let Role::Leader(leader) = sf.join("k") else {
            panic!()
        };
        let Role::Follower(rx) = sf.join("k") else {
            panic!()
        };
        drop(leader);
        assert_eq!(wait(rx).await, None);
        assert_eq!(sf.len(), 0);
    }
}
