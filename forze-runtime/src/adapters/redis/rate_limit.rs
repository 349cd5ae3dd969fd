//! The rate-limit port on Redis: the fixed window (`INCRBY`, a script for weighted calls),
//! sliding window and GCRA scripts.

use async_trait::async_trait;

use super::{command, us, RedisBackend};
use crate::error::{BackendError, BackendErrorKind};
use crate::ports::{Algorithm, Decision, PortResult, Quota, RateLimitPort};

#[async_trait]
impl RateLimitPort for RedisBackend {
    async fn check(&self, key: &str, quota: &Quota, cost: u64) -> PortResult<Decision> {
        match quota.algorithm {
            Algorithm::FixedWindow => self.fixed_window(key, quota, cost).await,
            Algorithm::SlidingWindow => self.sliding_window(key, quota, cost).await,
            Algorithm::Gcra => self.gcra(key, quota, cost).await,
        }
    }
}

fn unexpected(script: &str) -> BackendError {
    BackendError::new(
        BackendErrorKind::Protocol,
        format!("unexpected reply from the {script} rate limit script"),
    )
}

impl RedisBackend {
    /// The sliding window: one script, replying remaining, reset and retry (-1: admitted).
    async fn sliding_window(&self, key: &str, quota: &Quota, cost: u64) -> PortResult<Decision> {
        let mut inv = self.inner.scripts.sliding_window.key(key);
        inv.arg(quota.limit)
            .arg(quota.period.as_micros() as u64)
            .arg(cost)
            .arg(crate::ports::SLIDING_WINDOW_BUCKETS);
        let reply: Vec<i64> = self.run("rate_sliding_window", &inv).await?;
        let (remaining, reset_after, retry_after) = match reply[..] {
            [remaining, reset_after, retry_after] => (remaining, reset_after, retry_after),
            [remaining, reset_after, retry_after, 1] => {
                healed_warning(key, 1);
                (remaining, reset_after, retry_after)
            }
            _ => return Err(unexpected("sliding window")),
        };
        Ok(Decision {
            allowed: retry_after < 0,
            limit: quota.limit,
            remaining: remaining.max(0) as u64,
            reset_after: us(reset_after),
            retry_after: (retry_after >= 0).then(|| us(retry_after)),
            degraded: false,
        })
    }

    /// GCRA: one script, whose one-integer reply (how far the state stands ahead of now, ns)
    /// [`crate::ports::gcra_decision`] turns into the decision, as for the in-memory limiter.
    async fn gcra(&self, key: &str, quota: &Quota, cost: u64) -> PortResult<Decision> {
        let mut inv = self.inner.scripts.gcra.key(key);
        inv.arg(quota.limit)
            .arg(quota.period.as_micros() as u64)
            .arg(cost);
        let reply = match self.run::<redis::Value>("rate_gcra", &inv).await? {
            redis::Value::Int(n) => n,
            redis::Value::Array(parts) => match parts[..] {
                [redis::Value::Int(n), redis::Value::Int(1)] => {
                    healed_warning(key, 1);
                    n
                }
                _ => return Err(unexpected("GCRA")),
            },
            _ => return Err(unexpected("GCRA")),
        };
        let (allowed, ahead_ns) = if reply >= 0 {
            (true, reply)
        } else {
            (false, -1 - reply)
        };
        Ok(crate::ports::gcra_decision(
            quota,
            cost,
            allowed,
            ahead_ns as f64 / 1000.0,
        ))
    }

    /// The fixed window: one counter per window, `{key}/{window}`, windows aligned on the
    /// caller's clock. A call of cost 1 is one `INCRBY` (no script); the call that opens a
    /// window's counter then sets its expiry, `PEXPIREAT` window end + slack (a second round
    /// trip, once per window and key). A weighted call is one small script that adds its cost
    /// only if it fits, so the counter never passes the limit but through calls of cost 1, which
    /// only happens once the window is full. Exact either way: never more than `limit` admitted,
    /// and a denied call takes nothing from anyone.
    async fn fixed_window(&self, key: &str, quota: &Quota, cost: u64) -> PortResult<Decision> {
        let period_us = (quota.period.as_micros() as u64).max(1);
        let now_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| {
                BackendError::new(
                    BackendErrorKind::Protocol,
                    format!("the clock is before 1970: {e}"),
                )
            })?
            .as_micros() as u64;
        let window = now_us / period_us;
        let end_us = (window + 1) * period_us;
        let left = us((end_us - now_us) as i64);
        // Counters outlive their window a little, for callers whose clocks run behind.
        let expiry_ms = (end_us + period_us.min(1_000_000)).div_ceil(1000);
        let counter = crate::keys::window_key(key, window);
        if cost == 1 {
            // Counts even when denied: a denied call of cost 1 found the window full, and a full
            // window stays full (nothing is ever taken off), so the extra count changes no answer.
            let incr = self
                .query::<i64>(command("INCRBY", 2, counter.len() + 1).arg(&counter).arg(1))
                .await;
            match incr {
                Ok(used) if used >= 1 => {
                    let used = used as u64;
                    // The call that opened the window sets its expiry. On a cluster, whose client
                    // may send an `INCRBY` again after a dropped connection, the opening call
                    // may see a count of up to 1 + the re-sends.
                    let opened = if self.is_cluster() {
                        used <= 1 + u64::from(super::conn::CLUSTER_RETRIES)
                    } else {
                        used == 1
                    };
                    if opened {
                        self.expire_window(&counter, expiry_ms).await;
                    }
                    return Ok(window_decision(quota, used <= quota.limit, used, left));
                }
                // No valid count there (negative, not an integer, another type): the script
                // below replaces it.
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind,
                        BackendErrorKind::Protocol | BackendErrorKind::Overflow
                    ) => {}
                Err(e) => return Err(e),
            }
        }
        let reply: Vec<i64> = self
            .run(
                "fixed_window_weighted",
                self.inner
                    .scripts
                    .fixed_window_weighted
                    .key(&counter)
                    .arg(quota.limit)
                    .arg(cost)
                    .arg(expiry_ms),
            )
            .await?;
        let [allowed, used, healed] = reply[..] else {
            return Err(BackendError::new(
                BackendErrorKind::Protocol,
                "unexpected reply from the weighted fixed-window script",
            ));
        };
        healed_warning(&counter, healed);
        Ok(window_decision(
            quota,
            allowed == 1,
            used.max(0) as u64,
            left,
        ))
    }
    /// Gives a new window counter its expiry. A failure leaves a counter that is never read
    /// again (the next window has its own): it is logged, not returned.
    async fn expire_window(&self, counter: &str, expiry_ms: u64) {
        if let Err(e) = self
            .query::<i64>(redis::cmd("PEXPIREAT").arg(counter).arg(expiry_ms))
            .await
        {
            tracing::warn!(key = %counter, error = %e, "rate limit window counter left without expiry");
        }
    }
}

/// A fixed-window decision: `used` units of the window taken after this call.
fn window_decision(quota: &Quota, allowed: bool, used: u64, left: std::time::Duration) -> Decision {
    Decision {
        allowed,
        limit: quota.limit,
        remaining: quota.limit.saturating_sub(used),
        reset_after: left,
        retry_after: (!allowed).then_some(left),
        degraded: false,
    }
}

/// A script found state that was no valid state of its algorithm and replaced it.
fn healed_warning(key: &str, healed: i64) {
    if healed == 1 {
        tracing::warn!(
            key,
            "rate limit state was not valid (corrupt, another type or out of range); replaced"
        );
    }
}
