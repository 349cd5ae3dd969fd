//! Compression of large cache values. With the feature `compression` (`scripts/test` runs this
//! file once more with it): values above a route's threshold are stored as zstd frames on both
//! backends and read back, through every write path (`set`, tagged, many, versioned, the
//! `#[cached]` flow); plain and compressed entries are read alike by routes that compress or
//! not; a corrupt frame is a miss, recomputed; `max_value_bytes` bounds the stored size.
//! Without it: a compressing route is refused at build with the reason, and a compressed entry
//! is a miss, never a panic or a wrong value.

use forze_runtime::{CacheRoute, Forze, ForzeBuilder};
use forze_tests::Harness as Env;

const MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

fn raw_key(key: &str) -> String {
    format!("t:big/cache/kv/{}", forze_runtime::keys::escape_part(key))
}

/// Why building a runtime with the route "big" as `route` is refused.
async fn refusal(route: CacheRoute) -> String {
    Forze::builder()
        .cache("big", route)
        .build()
        .await
        .expect_err("refused")
        .to_string()
}

/// A value whose JSON is about 11 KB and compresses well.
fn report() -> Vec<String> {
    (0..500).map(|i| format!("row {i}: ok")).collect()
}

#[cfg(not(feature = "compression"))]
mod without_the_feature {
    use super::*;

    #[tokio::test]
    async fn a_compressing_route_is_refused_with_the_reason() {
        let err = refusal(CacheRoute::new("t:big").compress_above(1024)).await;
        assert!(
            err.contains("cache \"big\": compression needs forze-runtime's feature `compression`"),
            "{err}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_compressed_entry_is_a_miss_and_is_recomputed() {
        let env = Env::redis(|b: ForzeBuilder| b.cache("big", CacheRoute::new("t:big"))).await;
        let mut raw = env.server.as_ref().unwrap().client().await;
        let mut frame = MAGIC.to_vec();
        frame.extend_from_slice(b"\x20\x05hello");
        let _: () = redis::cmd("SET")
            .arg(raw_key("r"))
            .arg(&frame)
            .query_async(&mut raw)
            .await
            .unwrap();
        let cache = env.forze.cache("big").unwrap();
        assert_eq!(cache.get::<Vec<String>>("r").await.unwrap(), None);
        let v = cache.get_or_compute("r", || async { report() }).await;
        assert_eq!(v, report());
        assert_eq!(cache.get::<Vec<String>>("r").await.unwrap(), Some(report()));
    }
}

#[cfg(feature = "compression")]
mod with_the_feature {
    use super::*;
    use forze_runtime::Error;

    fn routes(b: ForzeBuilder) -> ForzeBuilder {
        b.cache(
            "big",
            CacheRoute::new("t:big")
                .compress_above(256)
                .max_value_bytes(2000),
        )
    }

    async fn stored(env: &Env, key: &str) -> Vec<u8> {
        let mut raw = env.server.as_ref().unwrap().client().await;
        redis::cmd("GET")
            .arg(raw_key(key))
            .query_async(&mut raw)
            .await
            .unwrap()
    }

    async fn every_write_path_round_trips(env: &Env) {
        let cache = env.forze.cache("big").unwrap();
        cache.set("set", &report()).await.unwrap();
        cache.set_tagged("tagged", &report(), &["t"]).await.unwrap();
        cache
            .set_many(&[("many", report()), ("small", vec!["x".to_owned()])])
            .await
            .unwrap();
        let filled = cache.get_or_compute("flow", || async { report() }).await;
        assert_eq!(filled, report());
        for key in ["set", "tagged", "many", "flow"] {
            assert_eq!(
                cache.get::<Vec<String>>(key).await.unwrap(),
                Some(report()),
                "{key}"
            );
        }
        assert_eq!(
            cache.get::<Vec<String>>("small").await.unwrap(),
            Some(vec!["x".to_owned()])
        );
        assert!(cache.set_version("doc", 3, &report()).await.unwrap());
        let current = cache
            .get_current::<Vec<String>>("doc")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((current.version, current.value), (3, report()));
        // Tag invalidation still finds compressed entries.
        assert_eq!(cache.invalidate_tag("t").await.unwrap(), 1);
        assert_eq!(cache.get::<Vec<String>>("tagged").await.unwrap(), None);
    }

    #[tokio::test]
    async fn memory_every_write_path_round_trips() {
        every_write_path_round_trips(&Env::memory(routes).await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_every_write_path_round_trips_and_stores_frames() {
        let env = Env::redis(routes).await;
        every_write_path_round_trips(&env).await;
        let plain = serde_json::to_vec(&report()).unwrap();
        for key in ["set", "many", "flow"] {
            let bytes = stored(&env, key).await;
            assert!(bytes.starts_with(&MAGIC), "{key} is a zstd frame");
            assert!(
                bytes.len() * 4 < plain.len(),
                "{key}: {} of {}",
                bytes.len(),
                plain.len()
            );
        }
        assert_eq!(
            stored(&env, "small").await,
            br#"["x"]"#,
            "small values stay plain"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn plain_and_compressed_entries_are_read_by_either_route() {
        let env = Env::redis(routes).await;
        let server = env.server.as_ref().unwrap();
        // Another process on the same server, its route not compressing (before the change, or
        // after it was turned off).
        let plain = Forze::builder()
            .redis(forze_tests::redis_config(server))
            .cache("big", CacheRoute::new("t:big"))
            .build()
            .await
            .unwrap()
            .cache("big")
            .unwrap();
        let packed = env.forze.cache("big").unwrap();
        plain.set("old", &report()).await.unwrap();
        assert!(!stored(&env, "old").await.starts_with(&MAGIC));
        packed.set("new", &report()).await.unwrap();
        assert!(stored(&env, "new").await.starts_with(&MAGIC));
        for cache in [&plain, &packed] {
            for key in ["old", "new"] {
                assert_eq!(
                    cache.get::<Vec<String>>(key).await.unwrap(),
                    Some(report()),
                    "{key}"
                );
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_corrupt_frame_is_a_miss_and_is_recomputed() {
        let env = Env::redis(routes).await;
        let cache = env.forze.cache("big").unwrap();
        cache.set("r", &report()).await.unwrap();
        let mut bytes = stored(&env, "r").await;
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x55;
        let mut raw = env.server.as_ref().unwrap().client().await;
        for corrupt in [bytes.clone(), bytes[..mid].to_vec(), MAGIC.to_vec()] {
            let _: () = redis::cmd("SET")
                .arg(raw_key("r"))
                .arg(&corrupt)
                .query_async(&mut raw)
                .await
                .unwrap();
            assert_eq!(cache.get::<Vec<String>>("r").await.unwrap(), None);
            let v = cache.get_or_compute("r", || async { report() }).await;
            assert_eq!(v, report());
            assert!(stored(&env, "r").await.starts_with(&MAGIC), "rewritten");
        }
    }

    #[tokio::test]
    async fn max_value_bytes_bounds_the_stored_size() {
        let env = Env::memory(routes).await;
        let cache = env.forze.cache("big").unwrap();
        // 11 KB of JSON, stored in far less than the 2 000-byte limit.
        cache.set("fits", &report()).await.unwrap();
        // 8 KB of random hex compresses to about half: still above the limit.
        let noise: String = (0..4096).map(|_| format!("{:02x}", rand_byte())).collect();
        let err = cache.set("noise", &noise).await.unwrap_err();
        assert!(
            matches!(err, Error::TooLarge { size, max: 2000, .. } if size > 2000),
            "{err}"
        );
    }

    fn rand_byte() -> u8 {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u8(0);
        h.finish() as u8
    }

    #[tokio::test]
    async fn a_zstd_level_out_of_range_is_refused() {
        let err = refusal(CacheRoute::new("t:big").compression(
            forze_runtime::codec::Compression {
                above: 0,
                level: 40,
            },
        ))
        .await;
        assert!(
            err.contains("the zstd level must be 1 to 22, not 40"),
            "{err}"
        );
    }
}
