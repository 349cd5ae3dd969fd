//! Load for failover tests: 64 tasks, each reading a fail-open cache and incrementing a counter
//! in turn until stopped, recording what happened.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use forze_runtime::{Cache, Counter};

/// What the load saw.
#[derive(Debug)]
pub struct Report {
    /// The slowest call (read or increment).
    pub slowest: Duration,
    /// Reads that failed (a fail-open read never should).
    pub read_failures: usize,
    /// When each failed increment failed.
    pub errors: Vec<Instant>,
    /// Increments sent.
    pub sent: u64,
    /// Increments acknowledged.
    pub acked: u64,
}

/// The running load.
pub struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    acked: Arc<AtomicU64>,
    errors: Arc<Mutex<Vec<Instant>>>,
    tasks: Vec<tokio::task::JoinHandle<(Duration, usize)>>,
}

impl Load {
    /// Starts 64 tasks on `cache` (50 keys) and `counter`.
    pub fn start(cache: &Cache, counter: &Counter) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let acked = Arc::new(AtomicU64::new(0));
        let errors: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let tasks = (0..64u64)
            .map(|t| {
                let (cache, counter) = (cache.clone(), counter.clone());
                let (stop, sent, acked, errors) =
                    (stop.clone(), sent.clone(), acked.clone(), errors.clone());
                tokio::spawn(async move {
                    let mut slowest = Duration::ZERO;
                    let mut read_failures = 0;
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let start = Instant::now();
                        if cache
                            .get::<u64>(&format!("r{}", (t + i) % 50))
                            .await
                            .is_err()
                        {
                            read_failures += 1;
                        }
                        slowest = slowest.max(start.elapsed());
                        let start = Instant::now();
                        sent.fetch_add(1, Ordering::Relaxed);
                        match counter.incr().await {
                            Ok(_) => {
                                acked.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(_) => errors.lock().unwrap().push(Instant::now()),
                        }
                        slowest = slowest.max(start.elapsed());
                        i += 1;
                        tokio::task::yield_now().await;
                    }
                    (slowest, read_failures)
                })
            })
            .collect();
        Self {
            stop,
            sent,
            acked,
            errors,
            tasks,
        }
    }

    /// Increments acknowledged so far.
    pub fn acked(&self) -> u64 {
        self.acked.load(Ordering::Relaxed)
    }

    /// Waits until `n` more increments than now are acknowledged (within `within`).
    pub async fn until_more_acked(&self, n: u64, within: Duration, what: &str) {
        let from = self.acked();
        crate::eventually(within, what, || async {
            (self.acked() >= from + n).then_some(())
        })
        .await;
    }

    /// After a failover that began at `from` and was seen over at `to`: waits for 500 more
    /// acknowledged increments, stops, and asserts [`Report::assert_failover`] with `deadline`
    /// and `slack`; then that `counter` (which had `floor` replicated increments before the
    /// fault) lost none of those nor any acknowledged after `to`, counted no call more than
    /// `resends` times, and counts 100 increments after it exactly.
    pub async fn finish_failover(
        self,
        counter: &Counter,
        floor: u64,
        resends: u64,
        (deadline, slack): (Duration, Duration),
        (from, to): (Instant, Instant),
    ) {
        let after = self.acked();
        self.until_more_acked(
            500,
            Duration::from_secs(10),
            "increments after the failover",
        )
        .await;
        let report = self.stop().await;
        report.assert_failover(deadline, slack, from, to);
        // The breaker, if the failover opened it, lets calls through again at its next probe.
        let value = crate::eventually(Duration::from_secs(2), "the counter read", || async {
            counter.get().await.ok().flatten()
        })
        .await as u64;
        assert!(
            value >= floor,
            "replicated increments lost: {value} < {floor}"
        );
        assert!(
            value >= floor + (report.acked - after),
            "increments acknowledged after the failover lost: {value} < {floor} + {}",
            report.acked - after
        );
        assert!(
            value <= floor + report.sent * resends,
            "counted {value}, more than {} calls sent could make",
            report.sent
        );
        for _ in 0..100 {
            counter
                .incr()
                .await
                .expect("an increment after the failover");
        }
        assert_eq!(counter.get().await.unwrap().unwrap() as u64, value + 100);
    }

    /// Stops the tasks and reports.
    pub async fn stop(self) -> Report {
        self.stop.store(true, Ordering::Relaxed);
        let mut slowest = Duration::ZERO;
        let mut read_failures = 0;
        for t in self.tasks {
            let (s, f) = t.await.expect("load task");
            slowest = slowest.max(s);
            read_failures += f;
        }
        let errors = self.errors.lock().unwrap().clone();
        Report {
            slowest,
            read_failures,
            errors,
            sent: self.sent.load(Ordering::Relaxed),
            acked: self.acked.load(Ordering::Relaxed),
        }
    }
}

impl Report {
    /// Asserts what a failover may and may not do to the calls: no read failed, none took
    /// longer than `deadline` + `slack`, and increments failed only from `from` until
    /// [`catch_up`] + `deadline` + `slack` after `to` (forze reading the new topology, then
    /// the calls already under way on the old connections). The runtime under test connects
    /// within `deadline` too (`connect_timeout` = `socket_timeout`, as the failover tests set).
    pub fn assert_failover(&self, deadline: Duration, slack: Duration, from: Instant, to: Instant) {
        assert_eq!(self.read_failures, 0, "a fail-open read never fails");
        assert!(
            self.slowest <= deadline + slack,
            "a call took {:?}, above socket_timeout {deadline:?} + {slack:?}",
            self.slowest
        );
        let end = to + catch_up(deadline) + deadline + slack;
        let outside: Vec<_> = self
            .errors
            .iter()
            .filter(|e| **e < from || **e > end)
            .collect();
        assert!(
            outside.is_empty(),
            "increments failed outside the failover window ({} of {} errors, window {:?}, \
             the last {:?} after the promotion was seen)",
            outside.len(),
            self.errors.len(),
            to - from,
            outside
                .iter()
                .max()
                .map(|e| e.saturating_duration_since(to))
        );
    }
}

/// How long after a new master took over forze may take to send calls to it, when it connects
/// within `connect_timeout`: the next reopening may wait one [`REOPEN_INTERVAL`] after the
/// last (which may have read the old topology), and, with the breaker open, for a probe to fail;
/// then it connects.
///
/// [`REOPEN_INTERVAL`]: forze_runtime::adapters::redis::REOPEN_INTERVAL
pub fn catch_up(connect_timeout: Duration) -> Duration {
    forze_runtime::adapters::redis::REOPEN_INTERVAL
        + forze_runtime::adapters::redis::BreakerConfig::default().probe_interval
        + connect_timeout
}

/// Waits until `master`'s replica has every write so far (`WAIT 1 2000` answers 1).
pub async fn replicated(master: &crate::RedisServer) {
    let mut conn = master.client().await;
    let synced: i64 = redis::cmd("WAIT")
        .arg(1)
        .arg(2000)
        .query_async(&mut conn)
        .await
        .expect("WAIT");
    assert_eq!(synced, 1, "the replica has every write so far");
}
