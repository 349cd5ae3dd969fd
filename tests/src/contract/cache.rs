use std::time::Duration;

use forze_runtime::{tenant, Error, Forze};
use serde::{Deserialize, Serialize};

use super::{very_long, HOSTILE};
use crate::eventually;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
}

/// set → get → invalidate → get.
pub async fn cache_set_get_invalidate(f: &Forze) {
    let c = f.cache("c").unwrap();
    let ada = User {
        id: 1,
        name: "Ada".into(),
    };
    assert_eq!(c.get::<User>("user:1").await.unwrap(), None);
    c.set("user:1", &ada).await.unwrap();
    assert_eq!(c.get::<User>("user:1").await.unwrap(), Some(ada.clone()));
    // Overwrite.
    let bob = User {
        id: 1,
        name: "Bob".into(),
    };
    c.set("user:1", &bob).await.unwrap();
    assert_eq!(c.get::<User>("user:1").await.unwrap(), Some(bob));
    assert!(c.invalidate("user:1").await.unwrap());
    assert!(!c.invalidate("user:1").await.unwrap());
    assert_eq!(c.get::<User>("user:1").await.unwrap(), None);
}

/// An entry disappears after its TTL (and not before a long one).
pub async fn cache_ttl_expires(f: &Forze) {
    let c = f.cache("c").unwrap();
    c.set_with_ttl("short", &1u8, Duration::from_millis(30))
        .await
        .unwrap();
    c.set_with_ttl("long", &2u8, Duration::from_secs(600))
        .await
        .unwrap();
    eventually(Duration::from_secs(5), "short entry expires", || async {
        c.get::<u8>("short").await.unwrap().is_none().then_some(())
    })
    .await;
    assert_eq!(c.get::<u8>("long").await.unwrap(), Some(2));
    assert!(matches!(
        c.set_with_ttl("zero", &1u8, Duration::ZERO).await,
        Err(Error::InvalidArgument { .. })
    ));
}

/// get_many / set_many keep order and report misses.
pub async fn cache_many(f: &Forze) {
    let c = f.cache("c").unwrap();
    c.set_many(&[("a", 1u32), ("b", 2), ("c", 3)])
        .await
        .unwrap();
    let got = c
        .get_many::<u32>(&["c", "missing", "a", "b"])
        .await
        .unwrap();
    assert_eq!(got, vec![Some(3), None, Some(1), Some(2)]);
    assert!(c.get_many::<u32>(&[]).await.unwrap().is_empty());
}

/// An entry written with another shape reads as a miss, and a new write replaces it.
pub async fn cache_old_shape_is_miss(f: &Forze) {
    let c = f.cache("c").unwrap();
    c.set("user:2", &"just a string").await.unwrap();
    assert_eq!(c.get::<User>("user:2").await.unwrap(), None);
    let u = User {
        id: 2,
        name: "Cy".into(),
    };
    c.set("user:2", &u).await.unwrap();
    assert_eq!(c.get::<User>("user:2").await.unwrap(), Some(u));
}

/// A value above the route's limit is refused with a clear error and the old value stays.
pub async fn cache_too_large_is_refused_and_keeps_old(f: &Forze) {
    let c = f.cache("c-small").unwrap();
    c.set("k", &"small").await.unwrap();
    let err = c.set("k", &"x".repeat(1000)).await.unwrap_err();
    match &err {
        Error::TooLarge {
            route, size, max, ..
        } => {
            assert_eq!(route, "c-small");
            assert_eq!(*max, 64);
            assert!(*size > 1000);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(err.to_string().contains("c-small"), "{err}");
    assert_eq!(
        c.get::<String>("k").await.unwrap().as_deref(),
        Some("small")
    );
}

/// Versioned entries: one read gets the current version; an older writer never moves it back.
pub async fn cache_pointer_never_moves_back(f: &Forze) {
    let c = f.cache("c").unwrap();
    assert!(c.get_current::<String>("doc").await.unwrap().is_none());
    assert!(c.set_version("doc", 2, "v2").await.unwrap());
    // A slow re-warm of version 1 arrives after version 2 was written.
    assert!(!c.set_version("doc", 1, "v1").await.unwrap());
    let cur = c.get_current::<String>("doc").await.unwrap().unwrap();
    assert_eq!((cur.version, cur.value.as_str()), (2, "v2"));
    // Re-warming the same version is fine; a newer one moves the pointer.
    assert!(c.set_version("doc", 2, "v2").await.unwrap());
    assert!(c.set_version("doc", 3, "v3").await.unwrap());
    let cur = c.get_current::<String>("doc").await.unwrap().unwrap();
    assert_eq!((cur.version, cur.value.as_str()), (3, "v3"));
    assert!(c.invalidate_current("doc").await.unwrap());
    assert!(c.get_current::<String>("doc").await.unwrap().is_none());
    assert!(matches!(
        c.set_version("doc", u64::MAX, "x").await,
        Err(Error::InvalidArgument { .. })
    ));
}

/// Tenant-aware routes keep tenants apart and refuse to run without a tenant.
pub async fn cache_tenants_are_isolated(f: &Forze) {
    let c = f.cache("c-tenant").unwrap();
    tenant::scope("acme", async {
        c.set("k", &"acme's").await.unwrap();
    })
    .await;
    let other = tenant::scope("globex", async { c.get::<String>("k").await.unwrap() }).await;
    assert_eq!(other, None);
    // A tenant id that tries to address another tenant's keys.
    let evil = c.with_tenant("acme/cache/kv/k");
    assert_eq!(evil.get::<String>("k").await.unwrap(), None);
    let explicit = c.with_tenant("acme");
    assert_eq!(
        explicit.get::<String>("k").await.unwrap().as_deref(),
        Some("acme's")
    );
    match c.get::<String>("k").await {
        Err(Error::MissingTenant { route, .. }) => assert_eq!(route, "c-tenant"),
        other => panic!("expected MissingTenant, got {other:?}"),
    }
}

/// Every hostile key is its own entry: no input reaches another's value.
pub async fn cache_hostile_keys_are_isolated(f: &Forze) {
    let c = f.cache("c").unwrap();
    let long = very_long();
    let mut inputs: Vec<&str> = HOSTILE.to_vec();
    inputs.push(&long);
    for (i, key) in inputs.iter().enumerate() {
        c.set(key, &i).await.unwrap();
    }
    for (i, key) in inputs.iter().enumerate() {
        assert_eq!(c.get::<usize>(key).await.unwrap(), Some(i), "key {key:?}");
    }
    // Another route with a namespace that is a prefix of this one's never sees these.
    let other = f.cache("c-small").unwrap();
    for key in &inputs {
        assert_eq!(other.get::<usize>(key).await.unwrap(), None, "key {key:?}");
    }
}
