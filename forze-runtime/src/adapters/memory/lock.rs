//! The lock port in memory.

use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::*;

#[async_trait]
impl LockPort for MemoryBackend {
    async fn acquire(&self, key: &str, token: &str, lease: Duration) -> PortResult<bool> {
        let now = Instant::now();
        let mut state = self.state();
        if state.live(key, now).is_some() {
            return Ok(false);
        }
        state.put(
            key,
            Slot {
                value: Value::Lock(token.to_owned()),
                expires_at: Some(now + lease),
            },
            now,
        )?;
        Ok(true)
    }

    async fn extend(&self, key: &str, token: &str, lease: Duration) -> PortResult<bool> {
        let now = Instant::now();
        let mut state = self.state();
        match state.live(key, now) {
            Some(slot) if matches!(&slot.value, Value::Lock(t) if t == token) => {
                slot.expires_at = Some(now + lease);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release(&self, key: &str, token: &str) -> PortResult<bool> {
        let now = Instant::now();
        let mut state = self.state();
        match state.live(key, now) {
            Some(slot) if matches!(&slot.value, Value::Lock(t) if t == token) => {
                state.slots.remove(key);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
