//! The three limiter algorithms as pure functions of (state, now, quota, cost). The memory
//! adapter runs them under its lock; the Redis scripts (`../redis/scripts/*.lua`) are line-by-line
//! translations, so both backends decide alike.

use std::collections::VecDeque;
use std::time::Duration;

use crate::ports::{Decision, Quota};

fn us(d: u64) -> Duration {
    Duration::from_micros(d)
}

/// Fixed window: `(window index, units used in it)`.
pub(crate) fn fixed_window(
    state: &mut (u64, u64),
    now_us: u64,
    quota: &Quota,
    cost: u64,
) -> (Decision, u64) {
    let period = quota.period.as_micros() as u64;
    let window = now_us / period;
    if state.0 != window {
        *state = (window, 0);
    }
    let end = (window + 1) * period;
    let left = end - now_us;
    if state.1 + cost > quota.limit {
        let d = Decision {
            allowed: false,
            limit: quota.limit,
            remaining: quota.limit.saturating_sub(state.1),
            reset_after: us(left),
            retry_after: Some(us(left)),
            degraded: false,
        };
        return (d, end);
    }
    state.1 += cost;
    let d = Decision {
        allowed: true,
        limit: quota.limit,
        remaining: quota.limit.saturating_sub(state.1),
        reset_after: us(left),
        retry_after: None,
        degraded: false,
    };
    (d, end)
}

/// Sliding window in buckets: `(bucket index, units admitted in it)`, oldest first. Every
/// bucket that overlaps the last period counts in full (see the Redis script).
pub(crate) fn sliding_window(
    buckets: &mut VecDeque<(u64, u64)>,
    now_us: u64,
    quota: &Quota,
    cost: u64,
) -> (Decision, u64) {
    let period = quota.period.as_micros() as u64;
    let width = period.div_ceil(crate::ports::SLIDING_WINDOW_BUCKETS).max(1);
    let cur = now_us / width;
    let first = now_us.saturating_sub(period) / width;
    while buckets.front().is_some_and(|(b, _)| *b < first) {
        buckets.pop_front();
    }
    let used: u64 = buckets.iter().map(|(_, n)| n).sum();
    let leaves = |b: u64| (b + 1) * width + period - now_us;
    if used + cost > quota.limit {
        // The earliest moment enough old buckets have left the window.
        let mut freed = 0;
        let mut retry = period;
        for (b, n) in buckets.iter() {
            freed += n;
            if used.saturating_sub(freed) + cost <= quota.limit {
                retry = leaves(*b);
                break;
            }
        }
        let newest = buckets.back().map_or(cur, |(b, _)| *b);
        let d = Decision {
            allowed: false,
            limit: quota.limit,
            remaining: quota.limit.saturating_sub(used),
            reset_after: us(leaves(newest)),
            retry_after: Some(us(retry)),
            degraded: false,
        };
        return (d, now_us + leaves(newest));
    }
    match buckets.back_mut() {
        Some((b, n)) if *b == cur => *n += cost,
        _ => buckets.push_back((cur, cost)),
    }
    let d = Decision {
        allowed: true,
        limit: quota.limit,
        remaining: quota.limit.saturating_sub(used + cost),
        reset_after: us(leaves(cur)),
        retry_after: None,
        degraded: false,
    };
    (d, now_us + leaves(cur))
}

/// GCRA: the theoretical arrival time (µs, as f64 to match the Lua script's arithmetic).
pub(crate) fn gcra(tat: &mut f64, now_us: u64, quota: &Quota, cost: u64) -> (Decision, u64) {
    let period = quota.period.as_micros() as f64;
    let now = now_us as f64;
    let interval = period / quota.limit as f64;
    let base = tat.max(now);
    let new_tat = base + cost as f64 * interval;
    if new_tat - now > period + crate::ports::gcra_tolerance(interval) {
        let d = crate::ports::gcra_decision(quota, cost, false, base - now);
        return (d, base.ceil() as u64);
    }
    *tat = new_tat;
    let d = crate::ports::gcra_decision(quota, cost, true, new_tat - now);
    (d, new_tat.ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Algorithm;

    const S: u64 = 1_000_000;

    fn q(limit: u64, secs: u64, a: Algorithm) -> Quota {
        Quota::new(limit, Duration::from_secs(secs), a)
    }

    #[test]
    fn fixed_window_resets_at_the_boundary() {
        let quota = q(2, 10, Algorithm::FixedWindow);
        let mut st = (0, 0);
        assert!(fixed_window(&mut st, 10 * S, &quota, 1).0.allowed);
        assert!(fixed_window(&mut st, 11 * S, &quota, 1).0.allowed);
        let (d, _) = fixed_window(&mut st, 12 * S, &quota, 1);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Some(Duration::from_secs(8)));
        assert!(fixed_window(&mut st, 20 * S, &quota, 2).0.allowed);
    }

    #[test]
    fn sliding_window_counts_any_interval() {
        // 60 buckets of 1 s.
        let quota = q(2, 60, Algorithm::SlidingWindow);
        let mut log = VecDeque::new();
        assert!(sliding_window(&mut log, 9 * S, &quota, 1).0.allowed);
        assert!(sliding_window(&mut log, 11 * S, &quota, 1).0.allowed);
        // A fixed window would admit this one (new window at 60 s); the buckets do not.
        let (d, _) = sliding_window(&mut log, 68 * S, &quota, 1);
        assert!(!d.allowed);
        // The bucket [9 s, 10 s) has left the window once 70 s have come: at most one bucket
        // later than an exact log (69 s) would say.
        assert_eq!(d.retry_after, Some(Duration::from_secs(2)));
        assert!(
            !sliding_window(&mut log, 69 * S + S / 2, &quota, 1)
                .0
                .allowed
        );
        assert!(sliding_window(&mut log, 70 * S, &quota, 1).0.allowed);
        // State stays bounded by the bucket count, whatever the traffic.
        let big = q(1_000_000, 60, Algorithm::SlidingWindow);
        let mut log = VecDeque::new();
        for ms in 0..600_000u64 {
            let _ = sliding_window(&mut log, ms * 1000, &big, 1);
        }
        assert!(log.len() <= 61, "{}", log.len());
    }

    #[test]
    fn gcra_admits_a_burst_then_paces() {
        let quota = q(3, 3, Algorithm::Gcra);
        let mut tat = 0.0;
        for left in [2, 1, 0] {
            let (d, _) = gcra(&mut tat, 100 * S, &quota, 1);
            assert!(d.allowed);
            assert_eq!(d.remaining, left);
        }
        let (d, _) = gcra(&mut tat, 100 * S, &quota, 1);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Some(Duration::from_secs(1)));
        assert!(gcra(&mut tat, 101 * S, &quota, 1).0.allowed);
        assert!(!gcra(&mut tat, 101 * S, &quota, 1).0.allowed);
    }

    #[test]
    fn a_lowered_limit_on_existing_state_does_not_underflow() {
        let big = q(10, 10, Algorithm::FixedWindow);
        let small = q(2, 10, Algorithm::FixedWindow);
        let mut st = (0, 0);
        for _ in 0..5 {
            fixed_window(&mut st, S, &big, 1);
        }
        let (d, _) = fixed_window(&mut st, S, &small, 1);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        let mut log = VecDeque::new();
        let big = q(10, 10, Algorithm::SlidingWindow);
        let small = q(2, 10, Algorithm::SlidingWindow);
        for _ in 0..5 {
            sliding_window(&mut log, S, &big, 1);
        }
        let (d, _) = sliding_window(&mut log, S, &small, 1);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
    }

    #[test]
    fn fractional_intervals_do_not_lose_a_unit() {
        let quota = Quota::new(3, Duration::from_secs(1), Algorithm::Gcra);
        let mut tat = 0.0;
        let admitted = (0..10)
            .filter(|_| gcra(&mut tat, 5 * S, &quota, 1).0.allowed)
            .count();
        assert_eq!(admitted, 3);
    }
}
