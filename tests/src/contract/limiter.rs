use std::time::Duration;

use forze_runtime::ports::{Algorithm, Quota};
use forze_runtime::{Error, Forze, Limiter};

async fn sequential_quota(f: &Forze, route: &str) {
    let l = f.limiter(route).unwrap();
    for left in (0..50).rev() {
        let d = l.check("user:1").await.unwrap();
        assert!(d.allowed, "{route}: call {} denied", 50 - left);
        assert_eq!(d.remaining, left, "{route}");
        assert_eq!(d.limit, 50);
        assert!(d.retry_after.is_none());
        // Within the period; the sliding window's buckets keep a unit up to one bucket longer.
        let bound = Duration::from_secs(3600 + 3600 / 60);
        assert!(
            d.reset_after > Duration::ZERO && d.reset_after <= bound,
            "{route}: {d:?}"
        );
    }
    let d = l.check("user:1").await.unwrap();
    assert!(!d.allowed, "{route}: 51st call admitted");
    assert_eq!(d.remaining, 0);
    let retry = d.retry_after.expect("denied decisions carry retry_after");
    assert!(
        retry > Duration::ZERO && retry <= Duration::from_secs(3600 + 3600 / 60),
        "{retry:?}"
    );
    // Another key has its own quota.
    assert!(l.check("user:2").await.unwrap().allowed);
}

/// Fixed window: limit, remaining, retry-after.
pub async fn limiter_fixed_window_quota(f: &Forze) {
    sequential_quota(f, "fixed").await;
}

/// Sliding window: limit, remaining, retry-after.
pub async fn limiter_sliding_window_quota(f: &Forze) {
    sequential_quota(f, "sliding").await;
}

/// GCRA: limit, remaining, retry-after.
pub async fn limiter_gcra_quota(f: &Forze) {
    sequential_quota(f, "gcra").await;
}

/// The units admitted when 64 tasks at once each check `costs`, in order, against `key`.
async fn admitted_by_64_tasks(l: &Limiter, key: &'static str, costs: &'static [u64]) -> u64 {
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let l = l.clone();
            tokio::spawn(async move {
                let mut admitted = 0;
                for &cost in costs {
                    if l.check_cost(key, cost).await.unwrap().allowed {
                        admitted += cost;
                    }
                }
                admitted
            })
        })
        .collect();
    let mut admitted = 0;
    for t in tasks {
        admitted += t.await.unwrap();
    }
    admitted
}

async fn concurrent(f: &Forze, route: &str) {
    let l = f.limiter(route).unwrap();
    let admitted = admitted_by_64_tasks(&l, "hot", &[1, 1, 1, 1]).await;
    assert_eq!(
        admitted, 50,
        "{route}: 64 tasks × 4 calls against a quota of 50"
    );
}

/// 64 concurrent callers never get more than the quota (fixed window).
pub async fn limiter_concurrent_fixed_window(f: &Forze) {
    concurrent(f, "fixed").await;
}

/// 64 concurrent callers never get more than the quota (sliding window).
pub async fn limiter_concurrent_sliding_window(f: &Forze) {
    concurrent(f, "sliding").await;
}

/// 64 concurrent callers never get more than the quota (GCRA).
pub async fn limiter_concurrent_gcra(f: &Forze) {
    concurrent(f, "gcra").await;
}

/// Weighted calls from 64 tasks never get more than the quota admitted, whatever the
/// algorithm: with 48 of 50 units used, 64 tasks each try 3 units (which cannot fit, and must not
/// take the room left from anyone) and then 1.
pub async fn limiter_concurrent_weighted_calls(f: &Forze) {
    for route in ["fixed", "sliding", "gcra"] {
        let l = f.limiter(route).unwrap();
        for _ in 0..48 {
            assert!(
                l.check_cost("weighted", 1).await.unwrap().allowed,
                "{route}"
            );
        }
        let admitted = 48 + admitted_by_64_tasks(&l, "weighted", &[3, 1]).await;
        assert!(
            (49..=50).contains(&admitted),
            "{route}: {admitted} units admitted, quota 50"
        );
    }
}

/// Weighted costs, explicit quotas, and arguments out of range.
pub async fn limiter_cost_and_arguments(f: &Forze) {
    for route in ["fixed", "sliding", "gcra"] {
        let l = f.limiter(route).unwrap();
        assert!(l.check_cost("w", 30).await.unwrap().allowed);
        let d = l.check_cost("w", 30).await.unwrap();
        assert!(!d.allowed, "{route}");
        assert_eq!(d.remaining, 20, "{route}");
        // A denied check consumed nothing: 20 still fit.
        assert!(l.check_cost("w", 20).await.unwrap().allowed, "{route}");
        assert!(matches!(
            l.check_cost("w", 0).await,
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            l.check_cost("w", 51).await,
            Err(Error::InvalidArgument { .. })
        ));
    }
    let bare = f.limiter("bare").unwrap();
    assert!(matches!(
        bare.check("k").await,
        Err(Error::InvalidArgument { .. })
    ));
    let q = Quota::new(1, Duration::from_secs(60), Algorithm::SlidingWindow);
    assert!(bare.check_quota("k", &q, 1).await.unwrap().allowed);
    assert!(!bare.check_quota("k", &q, 1).await.unwrap().allowed);
    // Switching algorithm on the same key starts afresh instead of failing.
    let g = Quota::new(1, Duration::from_secs(60), Algorithm::Gcra);
    assert!(bare.check_quota("k", &g, 1).await.unwrap().allowed);
    let zero = Quota::new(0, Duration::from_secs(1), Algorithm::Gcra);
    assert!(matches!(
        bare.check_quota("k", &zero, 1).await,
        Err(Error::InvalidArgument { .. })
    ));
}

/// A raised quota takes effect at once, and what was counted under the old one is never read
/// past the new limit: 4 of 5 per minute used, then 1 000 per minute leaves 996 (a fixed or
/// sliding window: its count of units carries over) or 999 (GCRA: a state of its own per quota);
/// it was 412 when GCRA read the old state with the new interval.
pub async fn limiter_changed_quota_takes_effect(f: &Forze) {
    for (route, algorithm, expected) in [
        ("fixed", Algorithm::FixedWindow, 995),
        ("sliding", Algorithm::SlidingWindow, 995),
        ("gcra", Algorithm::Gcra, 999),
    ] {
        let l = f.limiter(route).unwrap();
        let small = Quota::new(5, Duration::from_secs(60), algorithm);
        for _ in 0..4 {
            assert!(l.check_quota("changed", &small, 1).await.unwrap().allowed);
        }
        let large = Quota::new(1000, Duration::from_secs(60), algorithm);
        let d = l.check_quota("changed", &large, 1).await.unwrap();
        assert!(d.allowed, "{route}: {d:?}");
        assert_eq!((d.limit, d.remaining), (1000, expected), "{route}: {d:?}");
        // And lowered again: the small quota's own state (GCRA) or the count (windows) rules.
        let d = l.check_quota("changed", &small, 1).await.unwrap();
        assert!(d.remaining <= 1, "{route}: {d:?}");
    }
}

/// Decisions are exact where a quota's interval is no whole number of microseconds (3 per
/// 10 s, 7 per minute, 11 per hour), by every algorithm and with calls of cost 2: remaining
/// counts down by the cost from the limit, the first denial keeps what is left, and reset and
/// retry stay within the period. The Redis GCRA script replies with one number, from which the
/// client computes the rest; these are the values the in-memory limiter computes exactly.
pub async fn limiter_uneven_intervals_are_exact(f: &Forze) {
    let l = f.limiter("bare").unwrap();
    for algorithm in [
        Algorithm::Gcra,
        Algorithm::SlidingWindow,
        Algorithm::FixedWindow,
    ] {
        for (limit, secs) in [(3u64, 10u64), (7, 60), (11, 3600)] {
            for cost in [1u64, 2] {
                let quota = Quota::new(limit, Duration::from_secs(secs), algorithm);
                let key = format!("uneven:{algorithm:?}:{limit}:{cost}");
                let period = Duration::from_secs(secs);
                let mut left = limit;
                while left >= cost {
                    let d = l.check_quota(&key, &quota, cost).await.unwrap();
                    left -= cost;
                    assert!(d.allowed, "{key}: {d:?}");
                    assert_eq!(d.remaining, left, "{key}: {d:?}");
                    assert!(d.retry_after.is_none(), "{key}: {d:?}");
                    assert!(
                        d.reset_after > Duration::ZERO && d.reset_after <= period + period / 50,
                        "{key}: {d:?}"
                    );
                }
                let d = l.check_quota(&key, &quota, cost).await.unwrap();
                assert!(!d.allowed, "{key}: {d:?}");
                assert_eq!(d.remaining, left, "{key}: {d:?}");
                let retry = d.retry_after.expect("a denial says when to retry");
                assert!(
                    retry > Duration::ZERO && retry <= period + period / 50,
                    "{key}: {d:?}"
                );
            }
        }
    }
}
