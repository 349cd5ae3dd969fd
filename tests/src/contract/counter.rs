use std::collections::HashSet;

use forze_runtime::{tenant, Error, Forze};

/// The seed's counter semantics.
pub async fn counter_semantics(f: &Forze) {
    let n = f.counter("n").unwrap();
    assert_eq!(n.get().await.unwrap(), None);
    assert_eq!(n.incr().await.unwrap(), 1);
    assert_eq!(n.incr_by(4).await.unwrap(), 5);
    assert_eq!(n.decr().await.unwrap(), 4);
    assert_eq!(n.decr_by(10).await.unwrap(), -6);
    assert_eq!(n.incr_batch(10).await.unwrap(), 4);
    n.reset().await.unwrap();
    assert_eq!(n.get().await.unwrap(), Some(0));
    n.reset_to(100).await.unwrap();
    assert_eq!(n.incr().await.unwrap(), 101);
    // Suffixes are separate counters, and hostile suffixes stay separate too.
    let a = n.at("2026");
    assert_eq!(a.incr().await.unwrap(), 1);
    assert_eq!(n.at("2026/../").incr().await.unwrap(), 1);
    assert_eq!(n.at("").incr().await.unwrap(), 1);
    assert_eq!(n.get().await.unwrap(), Some(101));
    assert!(matches!(
        n.incr_batch(0).await,
        Err(Error::InvalidArgument { .. })
    ));
}

/// 64 tasks × 50 increments give exactly 3200, every value handed out once.
pub async fn counter_concurrent_incr_is_exact(f: &Forze) {
    let n = f.counter("n").unwrap().at("concurrent");
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let n = n.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                for _ in 0..50 {
                    got.push(n.incr().await.unwrap());
                }
                got
            })
        })
        .collect();
    let mut all = HashSet::new();
    for t in tasks {
        for v in t.await.unwrap() {
            assert!(all.insert(v), "value {v} handed out twice");
        }
    }
    assert_eq!(all.len(), 3200);
    assert_eq!(n.get().await.unwrap(), Some(3200));
    assert_eq!(all.iter().min(), Some(&1));
    assert_eq!(all.iter().max(), Some(&3200));
}

/// Blocks reserved by concurrent `incr_batch` calls never overlap and leave no gap.
pub async fn counter_batches_never_overlap(f: &Forze) {
    let n = f.counter("n").unwrap().at("batches");
    let tasks: Vec<_> = (0..64u64)
        .map(|i| {
            let n = n.clone();
            tokio::spawn(async move {
                let count = 1 + i % 7;
                let last = n.incr_batch(count).await.unwrap();
                (last - count as i64 + 1)..=last
            })
        })
        .collect();
    let mut blocks = Vec::new();
    for t in tasks {
        blocks.push(t.await.unwrap());
    }
    blocks.sort_by_key(|b| *b.start());
    let mut next = 1;
    for b in &blocks {
        assert_eq!(*b.start(), next, "gap or overlap at {b:?}");
        next = b.end() + 1;
    }
    let total: u64 = (0..64u64).map(|i| 1 + i % 7).sum();
    assert_eq!(next - 1, total as i64);
}

/// Overflow is an error naming the route and key, and leaves the value unchanged.
pub async fn counter_overflow_is_an_error(f: &Forze) {
    let n = f.counter("n").unwrap().at("overflow");
    n.reset_to(i64::MAX - 1).await.unwrap();
    assert_eq!(n.incr().await.unwrap(), i64::MAX);
    let err = n.incr().await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("\"n\"") && text.contains("key \"overflow\""),
        "{text}"
    );
    assert_eq!(n.get().await.unwrap(), Some(i64::MAX));
    assert!(matches!(
        n.decr_by(i64::MIN).await,
        Err(Error::InvalidArgument { .. })
    ));
}

/// Tenant-aware counters count per tenant.
pub async fn counter_tenants_are_isolated(f: &Forze) {
    let n = f.counter("n-tenant").unwrap();
    assert_eq!(n.with_tenant("a").incr().await.unwrap(), 1);
    assert_eq!(n.with_tenant("a").incr().await.unwrap(), 2);
    assert_eq!(
        tenant::scope("b", async { n.incr().await.unwrap() }).await,
        1
    );
    assert!(matches!(n.incr().await, Err(Error::MissingTenant { .. })));
}
