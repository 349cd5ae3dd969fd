//! The counter port in memory.

use std::time::Instant;

use async_trait::async_trait;

use super::*;

#[async_trait]
impl CounterPort for MemoryBackend {
    async fn incr(&self, key: &str, by: i64) -> PortResult<i64> {
        let now = Instant::now();
        let mut state = self.state();
        if let Some(slot) = state.live(key, now) {
            if let Value::Counter(v) = &mut slot.value {
                *v = v.checked_add(by).ok_or_else(|| {
                    BackendError::new(
                        BackendErrorKind::Overflow,
                        format!("counter {key:?} at {v} cannot change by {by}"),
                    )
                })?;
                return Ok(*v);
            }
            return Err(wrong_type(key));
        }
        state.put(
            key,
            Slot {
                value: Value::Counter(by),
                expires_at: None,
            },
            now,
        )?;
        Ok(by)
    }

    async fn reset(&self, key: &str, value: i64) -> PortResult<()> {
        let now = Instant::now();
        let mut state = self.state();
        if let Some(slot) = state.live(key, now) {
            if !matches!(slot.value, Value::Counter(_)) {
                return Err(wrong_type(key));
            }
        }
        state.put(
            key,
            Slot {
                value: Value::Counter(value),
                expires_at: None,
            },
            now,
        )
    }

    async fn get(&self, key: &str) -> PortResult<Option<i64>> {
        let mut state = self.state();
        match state.live(key, Instant::now()).map(|s| &s.value) {
            None => Ok(None),
            Some(Value::Counter(v)) => Ok(Some(*v)),
            Some(_) => Err(wrong_type(key)),
        }
    }
}
