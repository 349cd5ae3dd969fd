//! Wiring checks that need no server: every problem is reported at once, unknown and missing
//! names are listed.

use std::time::Duration;

use forze_runtime::ports::{Algorithm, Quota};
use forze_runtime::{CacheRoute, CounterRoute, Error, Forze, LimiterRoute, RedisConfig, RouteKind};

#[tokio::test]
async fn every_config_problem_is_reported_at_once() {
    let err = Forze::builder()
        .cache("users", CacheRoute::new("app/users"))
        .cache("users", CacheRoute::new("app:users").ttl(Duration::ZERO))
        .counter("", CounterRoute::new("app:n"))
        .limiter(
            "api",
            LimiterRoute::new("app:rl").quota(Quota::new(
                0,
                Duration::from_secs(1),
                Algorithm::Gcra,
            )),
        )
        .build()
        .await
        .unwrap_err();
    let Error::Config { problems } = &err else {
        panic!("expected Config, got {err:?}")
    };
    let text = problems.join("\n");
    assert!(
        text.contains("cache \"users\": namespace \"app/users\" contains '/'"),
        "{text}"
    );
    assert!(text.contains("cache \"users\" is wired twice"), "{text}");
    assert!(text.contains("ttl must be above zero"), "{text}");
    assert!(text.contains("counter has an empty name"), "{text}");
    assert!(
        text.contains("limiter \"api\": quota limit must be at least 1"),
        "{text}"
    );
    assert_eq!(problems.len(), 5, "{text}");
}

#[tokio::test]
async fn bad_redis_configs_are_refused_before_connecting() {
    for (url, max, needle) in [
        ("http://localhost", 10, "scheme \"http\""),
        ("not a url", 10, "is not a URL"),
        ("redis://localhost", 0, "max_size 0"),
        ("redis://localhost", 5000, "max_size 5000"),
    ] {
        let err = Forze::builder()
            .redis(RedisConfig::new(url).max_size(max))
            .build()
            .await
            .unwrap_err();
        assert!(err.to_string().contains(needle), "{url}: {err}");
    }
    let err = Forze::builder()
        .redis(RedisConfig::new("redis://localhost").socket_timeout(Duration::ZERO))
        .build()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("socket_timeout"), "{err}");
    // TLS settings on a plain URL, a client certificate without its key.
    let err = Forze::builder()
        .redis(RedisConfig::new("redis://localhost").tls_ca(b"pem".to_vec()))
        .build()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("TLS needs rediss://"), "{err}");
    let mut cfg = RedisConfig::new("rediss://localhost");
    cfg.tls.client_cert_pem = Some(b"pem".to_vec());
    let err = Forze::builder().redis(cfg).build().await.unwrap_err();
    assert!(
        err.to_string().contains("both the certificate and its key"),
        "{err}"
    );
}

#[tokio::test]
async fn required_names_that_are_not_wired_are_all_listed() {
    let err = Forze::builder()
        .cache("users", CacheRoute::new("app:users"))
        .require(RouteKind::Cache, "users")
        .require(RouteKind::Cache, "teams")
        .require(RouteKind::Limiter, "api")
        .require(RouteKind::Cache, "userz")
        .build()
        .await
        .unwrap_err();
    match &err {
        Error::MissingRoutes { missing, .. } => assert_eq!(
            missing,
            &vec![
                (RouteKind::Cache, "teams".to_owned()),
                (RouteKind::Cache, "userz".to_owned()),
                (RouteKind::Limiter, "api".to_owned())
            ]
        ),
        other => panic!("expected MissingRoutes, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "routes used but not wired: cache \"teams\", cache \"userz\" (did you mean \"users\"?), \
         limiter \"api\""
    );
}

#[tokio::test]
async fn unknown_names_list_what_is_wired() {
    let f = Forze::builder()
        .cache("users", CacheRoute::new("app:users"))
        .cache("teams", CacheRoute::new("app:teams"))
        .build()
        .await
        .unwrap();
    let err = f.cache("user").unwrap_err();
    assert_eq!(
        err.to_string(),
        "no cache named \"user\" is wired (wired: [\"teams\", \"users\"]) (did you mean \"users\"?)"
    );
    // Nothing close: no suggestion.
    assert!(!f
        .cache("orders")
        .unwrap_err()
        .to_string()
        .contains("did you mean"));
    assert!(f.counter("users").is_err());
    assert_eq!(f.backend_name(), "memory");
}

#[tokio::test]
async fn memory_backend_is_bounded() {
    let f = Forze::builder()
        .backend(forze_runtime::BackendConfig::Memory(
            forze_runtime::MemoryConfig {
                max_entries: 3,
                ..Default::default()
            },
        ))
        .counter("n", CounterRoute::new("app:n"))
        .build()
        .await
        .unwrap();
    let n = f.counter("n").unwrap();
    for s in ["a", "b", "c"] {
        n.at(s).incr().await.unwrap();
    }
    let err = n.at("d").incr().await.unwrap_err();
    assert!(err.to_string().contains("max_entries"), "{err}");
    // Existing entries keep working.
    assert_eq!(n.at("a").incr().await.unwrap(), 2);
}
