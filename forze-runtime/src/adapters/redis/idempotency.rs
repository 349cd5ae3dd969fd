//! The idempotency port on Redis: one string per key (`codec::idempotency`). A begin is one
//! plain `SET key claim NX PX lease GET` — it claims the key, or returns the record that holds
//! it (a replay is this one command); commit, extend and release compare the whole claim
//! (`owned`, or the commit script on servers without `SET … IFEQ`). Each is safe to send again
//! after a dropped connection (what a cluster client does): a begin that finds its own claim
//! proceeds, a commit that finds its own record is committed.

use std::time::Duration;

use async_trait::async_trait;

use super::{command, ms, RedisBackend};
use crate::codec::idempotency::{decode_record, encode_claim, encode_done, Record};
use crate::error::{BackendError, BackendErrorKind};
use crate::ports::{BeginOutcome, IdempotencyPort, PortResult};

/// What a begin makes of the value holding the key; `None` when it is no record.
fn outcome(value: &[u8], fingerprint: &str) -> Option<BeginOutcome> {
    Some(match decode_record(value)? {
        Record::Done {
            fingerprint: held,
            snapshot,
        } if held == fingerprint => BeginOutcome::Replay(snapshot.to_vec()),
        Record::Claim {
            fingerprint: held, ..
        } if held == fingerprint => BeginOutcome::InProgress,
        _ => BeginOutcome::Mismatch,
    })
}

impl RedisBackend {
    /// Replaces a value that is no record (or rewrites one of the earlier hash layout), then
    /// reads again what holds the key.
    async fn heal(
        &self,
        key: &str,
        claim: &[u8],
        fingerprint: &str,
        lease: Duration,
        mut seen: Vec<u8>,
    ) -> PortResult<BeginOutcome> {
        // A value that changes under us between tries is read again, a few times.
        for _ in 0..3 {
            let reply: Vec<Vec<u8>> = self
                .run(
                    "idem_heal",
                    self.inner
                        .scripts
                        .idem_heal
                        .key(key)
                        .arg(claim)
                        .arg(ms(lease))
                        .arg(&seen),
                )
                .await?;
            let mut parts = reply.into_iter();
            match (parts.next().as_deref(), parts.next()) {
                (Some(b"claimed"), None) => {
                    tracing::warn!(key, "an idempotency key held a value that is no record; replaced by a new claim");
                    return Ok(BeginOutcome::Proceed);
                }
                (Some(b"seen"), Some(value)) => match outcome(&value, fingerprint) {
                    Some(found) => return Ok(found),
                    None => seen = value,
                },
                _ => break,
            }
        }
        Err(BackendError::new(
            BackendErrorKind::Protocol,
            "unexpected reply from the idempotency heal script",
        ))
    }
}

#[async_trait]
impl IdempotencyPort for RedisBackend {
    async fn begin(
        &self,
        key: &str,
        fingerprint: &str,
        token: &str,
        lease: Duration,
    ) -> PortResult<BeginOutcome> {
        let claim = encode_claim(fingerprint, token);
        let held: PortResult<Option<Vec<u8>>> = self
            .query(
                command("SET", 6, key.len() + claim.len() + 20)
                    .arg(key)
                    .arg(&claim)
                    .arg("NX")
                    .arg("PX")
                    .arg(ms(lease))
                    .arg("GET"),
            )
            .await;
        match held {
            Ok(None) => Ok(BeginOutcome::Proceed),
            // Our own claim: this begin was sent again after its connection dropped (a cluster
            // client does that), and its first send took the key. The token is ours alone.
            Ok(Some(value)) if value == claim => Ok(BeginOutcome::Proceed),
            Ok(Some(value)) => match outcome(&value, fingerprint) {
                Some(found) => Ok(found),
                None => self.heal(key, &claim, fingerprint, lease, value).await,
            },
            // Another type under the key (`SET … GET` refuses it).
            Err(e) if e.message.contains("WRONGTYPE") => {
                self.heal(key, &claim, fingerprint, lease, Vec::new()).await
            }
            Err(e) => Err(e),
        }
    }

    async fn commit(
        &self,
        key: &str,
        token: &str,
        fingerprint: &str,
        snapshot: &[u8],
        ttl: Duration,
    ) -> PortResult<bool> {
        let claim = encode_claim(fingerprint, token);
        let done = encode_done(fingerprint, snapshot);
        if self.inner.native.set_ifeq {
            match self.set_if_equal(key, &done, &claim, ttl).await {
                Ok(true) => return Ok(true),
                Ok(false) => {}
                Err(e) if e.message.contains("WRONGTYPE") => return Ok(false),
                Err(e) => return Err(e),
            }
            // Not our claim any more: recorded anyway when the claim lapsed and nobody took the
            // key (the owner holds the only result).
            // `GET` tells, if it was not set, whether the key holds this very record: the
            // commit sent again after a dropped connection, whose first send committed.
            let set: Option<Vec<u8>> = self
                .query(
                    command("SET", 6, key.len() + done.len() + 20)
                        .arg(key)
                        .arg(&done)
                        .arg("NX")
                        .arg("PX")
                        .arg(ms(ttl))
                        .arg("GET"),
                )
                .await?;
            return Ok(set.is_none_or(|held| held == done));
        }
        let committed: i64 = self
            .run(
                "idem_commit",
                self.inner
                    .scripts
                    .idem_commit
                    .key(key)
                    .arg(&claim)
                    .arg(&done)
                    .arg(ms(ttl)),
            )
            .await?;
        Ok(committed == 1)
    }

    async fn extend(
        &self,
        key: &str,
        token: &str,
        fingerprint: &str,
        lease: Duration,
    ) -> PortResult<bool> {
        self.expire_if_equal(key, &encode_claim(fingerprint, token), lease)
            .await
    }

    async fn release(&self, key: &str, token: &str, fingerprint: &str) -> PortResult<bool> {
        self.delete_if_equal(key, &encode_claim(fingerprint, token))
            .await
    }
}
