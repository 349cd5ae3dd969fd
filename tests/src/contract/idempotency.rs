use forze_runtime::codec::fingerprint;
use forze_runtime::{Begin, Error, Forze};

use crate::{eventually, SHORT_LEASE};

fn fp(v: impl serde::Serialize) -> String {
    fingerprint(&v).unwrap()
}

/// First call proceeds and commits; a duplicate replays; another payload is a mismatch.
pub async fn idem_flow(f: &Forze) {
    let i = f.idempotency("i").unwrap();
    let claim = match i.begin("pay", "k1", &fp(("alice", 10))).await.unwrap() {
        Begin::Proceed(c) => c,
        other => panic!("expected Proceed, got {other:?}"),
    };
    assert!(claim.key().ends_with("/pay/k1"), "{}", claim.key());
    claim.commit(&("payment", 7)).await.unwrap();
    match i.begin("pay", "k1", &fp(("alice", 10))).await.unwrap() {
        Begin::Replay(s) => assert_eq!(s.decode::<(String, u32)>().unwrap(), ("payment".into(), 7)),
        other => panic!("expected Replay, got {other:?}"),
    }
    assert!(matches!(
        i.begin("pay", "k1", &fp(("alice", 99))).await.unwrap(),
        Begin::Mismatch
    ));
    // The same key under another operation is another record.
    assert!(matches!(
        i.begin("refund", "k1", &fp(("alice", 10))).await.unwrap(),
        Begin::Proceed(_)
    ));
    // Hostile keys and operations stay in their own records.
    assert!(matches!(
        i.begin("pay/k1", "", &fp(1)).await,
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        i.begin("pay", "k1/../k1", &fp(("alice", 10)))
            .await
            .unwrap(),
        Begin::Proceed(_)
    ));
}

/// A duplicate while the first call runs is in progress; a release lets the retry run.
pub async fn idem_in_progress_and_release(f: &Forze) {
    let i = f.idempotency("i").unwrap();
    let p = fp("payload");
    let Begin::Proceed(claim) = i.begin("op", "k2", &p).await.unwrap() else {
        panic!("first begin must proceed")
    };
    assert!(matches!(
        i.begin("op", "k2", &p).await.unwrap(),
        Begin::InProgress
    ));
    // A different payload while in progress is still a mismatch.
    assert!(matches!(
        i.begin("op", "k2", &fp("other")).await.unwrap(),
        Begin::Mismatch
    ));
    claim.release().await.unwrap();
    let Begin::Proceed(retry) = i.begin("op", "k2", &p).await.unwrap() else {
        panic!("after release the retry must proceed")
    };
    retry.commit(&1u8).await.unwrap();
    assert!(matches!(
        i.begin("op", "k2", &p).await.unwrap(),
        Begin::Replay(_)
    ));
}

/// 64 concurrent begins on one key: exactly one proceeds.
pub async fn idem_concurrent_begin_one_proceeds(f: &Forze) {
    let i = f.idempotency("i").unwrap();
    let p = fp("same");
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (i, p) = (i.clone(), p.clone());
            tokio::spawn(async move { i.begin("op", "hot", &p).await.unwrap() })
        })
        .collect();
    let mut proceeded = 0;
    let mut in_progress = 0;
    let mut claims = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Begin::Proceed(c) => {
                proceeded += 1;
                claims.push(c);
            }
            Begin::InProgress => in_progress += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((proceeded, in_progress), (1, 63));
    claims.pop().unwrap().commit(&"done").await.unwrap();
}

/// A claim whose lease ran out and was taken over cannot be committed or released by its old
/// owner; the new owner's result is what duplicates see.
pub async fn idem_stale_owner_cannot_commit(f: &Forze) {
    let i = f.idempotency("i-short").unwrap();
    let p = fp("x");
    let Begin::Proceed(stale) = i.begin("op", "k3", &p).await.unwrap() else {
        panic!("first begin must proceed")
    };
    let fresh = eventually(
        SHORT_LEASE * 50,
        "lease expires and the key is taken over",
        || {
            let (i, p) = (i.clone(), p.clone());
            async move {
                match i.begin("op", "k3", &p).await.unwrap() {
                    Begin::Proceed(c) => Some(c),
                    Begin::InProgress => None,
                    other => panic!("unexpected {other:?}"),
                }
            }
        },
    )
    .await;
    assert_ne!(fresh.token(), stale.token());
    let token = stale.token().to_owned();
    match stale.commit(&"stale result").await {
        Err(Error::NotOwner { route, .. }) => assert_eq!(route, "i-short"),
        other => panic!("stale commit must fail with NotOwner, got {other:?} ({token})"),
    }
    fresh.commit(&"fresh result").await.unwrap();
    match i.begin("op", "k3", &p).await.unwrap() {
        Begin::Replay(s) => assert_eq!(s.decode::<String>().unwrap(), "fresh result"),
        other => panic!("expected Replay, got {other:?}"),
    }
    // Releasing a committed record is refused too: it would erase the result.
    let Begin::Proceed(done) = i.begin("op", "k4", &p).await.unwrap() else {
        panic!("first begin must proceed")
    };
    assert!(matches!(
        i.begin("op", "k4", &p).await.unwrap(),
        Begin::InProgress
    ));
    done.commit(&1).await.unwrap();
    assert!(matches!(
        i.begin("op", "k4", &p).await.unwrap(),
        Begin::Replay(_)
    ));
}
