//! The idempotency port in memory.

use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::*;

#[async_trait]
impl IdempotencyPort for MemoryBackend {
    async fn begin(
        &self,
        key: &str,
        fingerprint: &str,
        token: &str,
        lease: Duration,
    ) -> PortResult<BeginOutcome> {
        let now = Instant::now();
        let mut state = self.state();
        if let Some(slot) = state.live(key, now) {
            let Value::Idem {
                fingerprint: stored,
                snapshot,
                ..
            } = &slot.value
            else {
                return Err(wrong_type(key));
            };
            return Ok(if stored != fingerprint {
                BeginOutcome::Mismatch
            } else if let Some(snapshot) = snapshot {
                BeginOutcome::Replay(snapshot.clone())
            } else {
                BeginOutcome::InProgress
            });
        }
        state.put(
            key,
            Slot {
                value: Value::Idem {
                    fingerprint: fingerprint.to_owned(),
                    token: token.to_owned(),
                    snapshot: None,
                },
                expires_at: Some(now + lease),
            },
            now,
        )?;
        Ok(BeginOutcome::Proceed)
    }

    async fn commit(
        &self,
        key: &str,
        token: &str,
        fingerprint: &str,
        snapshot: &[u8],
        ttl: Duration,
    ) -> PortResult<bool> {
        let now = Instant::now();
        let mut state = self.state();
        let Some(slot) = state.live(key, now) else {
            // The claim lapsed and nobody took the key: the owner holds the only result.
            state.put(
                key,
                Slot {
                    value: Value::Idem {
                        fingerprint: fingerprint.to_owned(),
                        token: token.to_owned(),
                        snapshot: Some(snapshot.to_vec()),
                    },
                    expires_at: Some(now + ttl),
                },
                now,
            )?;
            return Ok(true);
        };
        match &mut slot.value {
            Value::Idem {
                token: held,
                snapshot: stored @ None,
                ..
            } if held == token => {
                *stored = Some(snapshot.to_vec());
                slot.expires_at = Some(now + ttl);
                Ok(true)
            }
            Value::Idem { .. } => Ok(false),
            _ => Err(wrong_type(key)),
        }
    }

    async fn release(&self, key: &str, token: &str, _fingerprint: &str) -> PortResult<bool> {
        let now = Instant::now();
        let mut state = self.state();
        match state.live(key, now) {
            Some(slot) if owns_claim(&slot.value, key, token)? => {}
            _ => return Ok(false),
        }
        state.slots.remove(key);
        Ok(true)
    }

    async fn extend(
        &self,
        key: &str,
        token: &str,
        _fingerprint: &str,
        lease: Duration,
    ) -> PortResult<bool> {
        let now = Instant::now();
        let mut state = self.state();
        match state.live(key, now) {
            Some(slot) if owns_claim(&slot.value, key, token)? => {
                slot.expires_at = Some(now + lease);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// Whether `value` is an uncommitted claim held by `token` (an error when it is no
/// idempotency record).
fn owns_claim(value: &Value, key: &str, token: &str) -> PortResult<bool> {
    match value {
        Value::Idem {
            token: held,
            snapshot: None,
            ..
        } => Ok(held == token),
        Value::Idem { .. } => Ok(false),
        _ => Err(wrong_type(key)),
    }
}
