use std::time::Duration;

use forze_runtime::{Error, Forze};

use crate::{eventually, SHORT_LEASE};

/// One holder at a time; release frees; extend keeps ownership.
pub async fn lock_exclusive(f: &Forze) {
    let l = f.lock("l").unwrap();
    let g = l.try_acquire("job").await.unwrap().expect("free lock");
    assert!(l.try_acquire("job").await.unwrap().is_none());
    assert!(l.try_acquire("other-job").await.unwrap().is_some());
    g.extend(Duration::from_secs(60)).await.unwrap();
    assert!(l.try_acquire("job").await.unwrap().is_none());
    g.release().await.unwrap();
    let again = l
        .try_acquire("job")
        .await
        .unwrap()
        .expect("released lock is free");
    again.release().await.unwrap();
    assert!(matches!(
        l.try_acquire_for("job", Duration::ZERO).await,
        Err(Error::InvalidArgument { .. })
    ));
}

/// 64 concurrent acquirers: exactly one owner.
pub async fn lock_concurrent_single_owner(f: &Forze) {
    let l = f.lock("l").unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let l = l.clone();
            tokio::spawn(async move { l.try_acquire("contended").await.unwrap() })
        })
        .collect();
    let mut owners = Vec::new();
    for t in tasks {
        if let Some(g) = t.await.unwrap() {
            owners.push(g);
        }
    }
    assert_eq!(owners.len(), 1);
    owners.pop().unwrap().release().await.unwrap();
}

/// A holder whose lease ran out and whose lock was taken cannot extend or release it.
pub async fn lock_stale_owner_is_fenced(f: &Forze) {
    let l = f.lock("l-short").unwrap();
    let stale = l.try_acquire("job").await.unwrap().expect("free lock");
    let fresh = eventually(
        SHORT_LEASE * 50,
        "lease expires and the lock is taken",
        || {
            let l = l.clone();
            async move {
                l.try_acquire_for("job", Duration::from_secs(60))
                    .await
                    .unwrap()
            }
        },
    )
    .await;
    assert!(matches!(
        stale.extend(Duration::from_secs(60)).await,
        Err(Error::NotOwner { .. })
    ));
    assert!(matches!(stale.release().await, Err(Error::NotOwner { .. })));
    // The new holder still holds it.
    assert!(l.try_acquire("job").await.unwrap().is_none());
    fresh.release().await.unwrap();
}
