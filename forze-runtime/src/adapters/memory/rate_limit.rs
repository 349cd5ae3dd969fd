//! The rate-limit port in memory: the algorithms of `algorithms.rs` under the state lock.

use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::*;

#[async_trait]
impl RateLimitPort for MemoryBackend {
    async fn check(&self, key: &str, quota: &Quota, cost: u64) -> PortResult<Decision> {
        let now = Instant::now();
        let now_us = now.duration_since(self.inner.epoch).as_micros() as u64;
        let epoch = self.inner.epoch;
        let at = |us: u64| Some(epoch + Duration::from_micros(us));
        let mut state = self.state();
        let fresh = || match quota.algorithm {
            Algorithm::FixedWindow => Value::Window((u64::MAX, 0)),
            Algorithm::SlidingWindow => Value::Log(VecDeque::new()),
            Algorithm::Gcra => Value::Tat(0.0),
        };
        let mut slot = match state.slots.remove(key) {
            Some(s) if s.expires_at.is_none_or(|t| t > now) => s,
            _ => Slot {
                value: fresh(),
                expires_at: None,
            },
        };
        let same_algorithm = matches!(
            (&slot.value, quota.algorithm),
            (Value::Window(_), Algorithm::FixedWindow)
                | (Value::Log(_), Algorithm::SlidingWindow)
                | (Value::Tat(_), Algorithm::Gcra)
        );
        if !same_algorithm {
            // The quota's algorithm changed (or the key held something else): start afresh,
            // as the Redis scripts do.
            slot.value = fresh();
        }
        let (decision, until) = match &mut slot.value {
            Value::Window(st) => algorithms::fixed_window(st, now_us, quota, cost),
            Value::Log(log) => algorithms::sliding_window(log, now_us, quota, cost),
            Value::Tat(tat) => algorithms::gcra(tat, now_us, quota, cost),
            _ => unreachable_state(key)?,
        };
        slot.expires_at = at(until);
        state.put(key, slot, now)?;
        Ok(decision)
    }
}
