//! Every near tier of one runtime, and the switch that says whether they may serve.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use super::{NearStats, NearTier};

/// On while the backend's invalidations are known to reach this process. Every change moves the
/// epoch, so that a read in flight across it stores nothing.
#[derive(Debug, Default)]
pub(crate) struct Switch {
    on: AtomicBool,
    epoch: AtomicU64,
}

impl Switch {
    /// The epoch, if on.
    pub(crate) fn epoch_if_on(&self) -> Option<u64> {
        let epoch = self.epoch.load(Ordering::SeqCst);
        self.on.load(Ordering::SeqCst).then_some(epoch)
    }

    pub(crate) fn turn_on(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.on.store(true, Ordering::SeqCst);
        crate::telemetry::near_state(true);
    }

    pub(crate) fn turn_off(&self) {
        self.on.store(false, Ordering::SeqCst);
        self.epoch.fetch_add(1, Ordering::SeqCst);
        crate::telemetry::near_state(false);
    }
}

/// The near tiers of one runtime (fixed once the runtime is built).
#[derive(Debug, Default)]
pub(crate) struct NearHub {
    pub(crate) switch: Arc<Switch>,
    tiers: Vec<Arc<NearTier>>,
    flushes: AtomicU64,
    /// Wakes the tracker watching now when tracking is found lost (a disconnection, an open
    /// breaker); it also sees the switch off at its next heartbeat.
    pub(crate) lost: tokio::sync::Notify,
}

impl NearHub {
    /// A tier for a route under `namespace`, registered with this hub (while the runtime is
    /// built).
    pub(crate) fn tier(&mut self, namespace: &str, config: super::NearCache) -> Arc<NearTier> {
        let tier = Arc::new(NearTier::new(namespace, config, self.switch.clone()));
        self.tiers.push(tier.clone());
        tier
    }

    /// Whether any route has a near tier.
    pub(crate) fn is_used(&self) -> bool {
        !self.tiers.is_empty()
    }

    /// Whether `key` is under a near tier's namespace.
    pub(crate) fn tracks(&self, key: &str) -> bool {
        self.tiers.iter().any(|t| key.starts_with(&t.prefix))
    }

    /// The backend says `key` changed (or expired, or was evicted).
    pub(crate) fn invalidate(&self, key: &[u8]) {
        let Ok(key) = std::str::from_utf8(key) else {
            return; // forze's keys are UTF-8; anything else is not ours
        };
        for tier in self.tiers.iter().filter(|t| key.starts_with(&t.prefix)) {
            tier.invalidate(key);
        }
    }

    /// Empties every tier and lets them serve: invalidations are known to arrive (again), or
    /// the server dropped every key (`FLUSHALL`).
    pub(crate) fn flush(&self) {
        self.switch.turn_off();
        self.clear();
        self.switch.turn_on();
    }

    fn clear(&self) {
        self.flushes.fetch_add(1, Ordering::Relaxed);
        crate::telemetry::near_flush();
        for tier in self.tiers.iter() {
            tier.clear();
        }
    }

    /// Invalidations may have been missed: every tier empties and stays off until
    /// [`NearHub::flush`].
    pub(crate) fn lose(&self) {
        let was_on = self.switch.epoch_if_on().is_some();
        self.switch.turn_off();
        if was_on {
            self.clear();
        }
        self.lost.notify_waiters();
    }

    pub(crate) fn stats(&self) -> NearStats {
        let mut stats = NearStats {
            on: self.switch.epoch_if_on().is_some(),
            flushes: self.flushes.load(Ordering::Relaxed),
            ..NearStats::default()
        };
        for tier in self.tiers.iter() {
            tier.add_stats(&mut stats);
        }
        stats
    }
}
