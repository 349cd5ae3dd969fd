//! The example service over real HTTP, with a real redis-server started here and a real
//! PostgreSQL (`FORZE_TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`).
//!
//! Without a reachable PostgreSQL, the store is in memory and one loud line says so; with
//! `FORZE_REQUIRE_POSTGRES=1` (CI sets it) that is a failure instead.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use forze_examples::service::{build, serve, Config, Gate, Store};
use forze_tests::RedisServer;
use reqwest::StatusCode;
use serde_json::Value;

static TABLES: AtomicU32 = AtomicU32::new(0);

fn database_url() -> String {
    std::env::var("FORZE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Whether something listens at the URL's host and port (the store then really connects).
async fn postgres_reachable(url: &str) -> bool {
    let rest = url.rsplit('@').next().unwrap_or("");
    let addr = rest.split('/').next().unwrap_or("127.0.0.1:5432");
    tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr))
        .await
        .is_ok_and(|r| r.is_ok())
}

struct Service {
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    base: String,
    redis: RedisServer,
    http: reqwest::Client,
    store: Store,
    task: tokio::task::JoinHandle<()>,
}

impl Service {
    async fn start(per_minute: u64, gate: Option<Arc<Gate>>) -> Self {
        let redis = RedisServer::start();
        let url = database_url();
        let database_url = if postgres_reachable(&url).await {
            Some(url)
        } else if std::env::var("FORZE_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
            panic!("FORZE_REQUIRE_POSTGRES=1 but no PostgreSQL answers at {url}");
        } else {
            eprintln!("!!! NO POSTGRESQL at {url}: the service tests use the in-memory store !!!");
            None
        };
        let table = format!(
            "forze_test_projects_{}_{}",
            std::process::id(),
            TABLES.fetch_add(1, Ordering::Relaxed)
        );
        let cfg = Config {
            redis: Some(forze_tests::redis_config(&redis).max_size(2)),
            database_url,
            table,
            requests_per_minute: per_minute,
            create_gate: gate,
        };
        let (app, _forze, store) = build(cfg).await.expect("service builds");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            serve(listener, app, async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Self {
            base,
            redis,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            store,
            task,
            shutdown: Some(shutdown),
        }
    }

    /// Starts the graceful shutdown (what SIGTERM does in the binary).
    fn begin_shutdown(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
    }

    async fn stop(self) {
        self.task.abort();
        if let Store::Postgres(pg) = &self.store {
            pg.drop_table().await.unwrap();
        }
    }

    async fn post(&self, path: &str, key: Option<&str>, body: &str) -> reqwest::Response {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        req.send().await.unwrap()
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    async fn put(&self, path: &str, body: &str) -> reqwest::Response {
        self.http
            .put(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn json(r: reqwest::Response) -> Value {
    serde_json::from_str(&r.text().await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_then_429_with_headers() {
    let svc = Service::start(3, None).await;
    for left in [2, 1, 0] {
        let r = svc.get("/projects/1").await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(header(&r, "x-ratelimit-limit").as_deref(), Some("3"));
        assert_eq!(header(&r, "x-ratelimit-remaining"), Some(left.to_string()));
        assert!(header(&r, "x-ratelimit-reset").is_some());
        assert_eq!(
            header(&r, "ratelimit-policy").as_deref(),
            Some("\"http\";q=3;w=60"),
            "draft-11: the policy's identifier is a structured-field String"
        );
        let current = header(&r, "ratelimit").unwrap();
        let t: u64 = current
            .strip_prefix(&format!("\"http\";r={left};t="))
            .unwrap_or_else(|| panic!("{current}"))
            .parse()
            .unwrap();
        assert!((1..=60).contains(&t), "{current}");
    }
    let r = svc.get("/projects/1").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = header(&r, "retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(header(&r, "x-ratelimit-remaining").as_deref(), Some("0"));
    // Retry-After no earlier than the end of the effective window `t`.
    assert_eq!(
        header(&r, "ratelimit"),
        Some(format!("\"http\";r=0;t={retry}"))
    );
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("application/problem+json")
    );
    let body = json(r).await;
    assert_eq!(body["error"], "rate_limited");
    assert_eq!(
        body["type"],
        "https://iana.org/assignments/http-problem-types#quota-exceeded"
    );
    assert_eq!(body["violated-policies"], serde_json::json!(["http"]));
    assert_eq!(body["status"], 429);
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_posts_replay_and_other_payloads_conflict() {
    let svc = Service::start(1000, None).await;
    let body = r#"{"name":"forze","owner":"ada"}"#;
    let first = svc.post("/projects", Some("key-1"), body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(header(&first, "idempotent-replayed").is_none());
    let first_body = first.text().await.unwrap();
    let again = svc.post("/projects", Some("key-1"), body).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(
        header(&again, "idempotent-replayed").as_deref(),
        Some("true")
    );
    assert_eq!(again.text().await.unwrap(), first_body, "identical body");
    // Only one project was created.
    let other = svc.post("/projects", Some("key-2"), body).await;
    assert_eq!(json(other).await["id"], 2);
    // Another caller's identical request with the same key is its own request.
    let other_user = svc
        .http
        .post(format!("{}/projects", svc.base))
        .header("content-type", "application/json")
        .header("authorization", "Bearer someone-else")
        .header("idempotency-key", "key-1")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(other_user.status(), StatusCode::CREATED);
    assert!(header(&other_user, "idempotent-replayed").is_none());
    assert_eq!(json(other_user).await["id"], 3);
    // The same key with another payload.
    let clash = svc
        .post(
            "/projects",
            Some("key-1"),
            r#"{"name":"other","owner":"bob"}"#,
        )
        .await;
    // 422 per the IETF draft, as RFC 9457 problem details.
    assert_eq!(clash.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        header(&clash, "content-type").as_deref(),
        Some("application/problem+json")
    );
    let problem = json(clash).await;
    assert_eq!(problem["error"], "idempotency_key_reused");
    assert_eq!(problem["status"], 422);
    assert_eq!(problem["type"], "urn:forze:problem:idempotency_key_reused");
    // The key as a structured-field string is the same key as the bare token.
    let quoted = svc.post("/projects", Some("\"key-1\""), body).await;
    assert_eq!(quoted.status(), StatusCode::CREATED);
    assert_eq!(
        header(&quoted, "idempotent-replayed").as_deref(),
        Some("true")
    );
    let unterminated = svc.post("/projects", Some("\"key-1"), body).await;
    assert_eq!(unterminated.status(), StatusCode::BAD_REQUEST);
    // A malformed key and an oversized body get clear 4xx answers.
    let bad = svc.post("/projects", Some(""), body).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let huge = format!(r#"{{"name":"{}","owner":"x"}}"#, "x".repeat(2 << 20));
    let big = svc.post("/projects", Some("key-3"), &huge).await;
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_while_the_first_is_in_flight_is_409() {
    let gate = Arc::new(Gate::default());
    let svc = Arc::new(Service::start(1000, Some(gate.clone())).await);
    let body = r#"{"name":"slow","owner":"ada"}"#;
    let first = {
        let svc = Arc::clone(&svc);
        tokio::spawn(async move { svc.post("/projects", Some("slow-1"), body).await.status() })
    };
    // The first request holds the claim and waits in the handler.
    gate.entered.notified().await;
    let dup = svc.post("/projects", Some("slow-1"), body).await;
    assert_eq!(dup.status(), StatusCode::CONFLICT);
    assert_eq!(header(&dup, "retry-after").as_deref(), Some("1"));
    assert_eq!(json(dup).await["error"], "idempotency_in_progress");
    gate.release.add_permits(1);
    assert_eq!(first.await.unwrap(), StatusCode::CREATED);
    let svc = Arc::try_unwrap(svc).ok().expect("no other owner");
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_200_then_503_when_redis_stops() {
    let mut svc = Service::start(1000, None).await;
    let r = svc.get("/health/redis").await;
    assert_eq!(r.status(), StatusCode::OK);
    let h = json(r).await;
    assert_eq!(
        (h["backend"].as_str(), h["status"].as_str()),
        (Some("redis"), Some("up"))
    );
    svc.redis.stop();
    let r = svc.get("/health/redis").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let h = json(r).await;
    assert_eq!(h["status"], "down");
    assert!(h["error"].as_str().is_some_and(|e| !e.is_empty()));
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_cache_stays_right_across_an_update() {
    let svc = Service::start(1000, None).await;
    let created = json(
        svc.post("/projects", None, r#"{"name":"v1","owner":"ada"}"#)
            .await,
    )
    .await;
    let id = created["id"].as_i64().unwrap();
    // Warm the caches: the document and the summary.
    assert_eq!(
        json(svc.get(&format!("/projects/{id}")).await).await["name"],
        "v1"
    );
    let s1 = json(svc.get(&format!("/projects/{id}/summary")).await).await;
    assert!(s1["line"].as_str().unwrap().contains("v1"));
    let updated = svc
        .put(&format!("/projects/{id}"), r#"{"name":"v2"}"#)
        .await;
    assert_eq!(updated.status(), StatusCode::OK);
    let p = json(svc.get(&format!("/projects/{id}")).await).await;
    assert_eq!(
        (p["name"].as_str(), p["rev"].as_i64()),
        (Some("v2"), Some(2))
    );
    let s2 = json(svc.get(&format!("/projects/{id}/summary")).await).await;
    assert!(s2["line"].as_str().unwrap().contains("v2"), "{s2}");
    // The document read is served by the cache: one GET, no store read needed.
    let mut mon = forze_tests::monitor::Monitor::start(&svc.redis).await;
    let _ = mon.commands().await;
    svc.get(&format!("/projects/{id}")).await;
    let cmds = mon.commands().await;
    assert_eq!(
        cmds,
        vec!["EVALSHA", "GET"],
        "rate limit check (GCRA) + document hit"
    );
    // Stars are rate limited per project by #[rate_limited].
    for n in 1..=3 {
        let r = json(svc.post(&format!("/projects/{id}/stars"), None, "").await).await;
        assert_eq!(r["stars"], n);
    }
    let r = svc.post(&format!("/projects/{id}/stars"), None, "").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(header(&r, "retry-after").is_some());
    // The same problem as the layer's refusal, naming the #[rate_limited] limiter.
    let body = json(r).await;
    assert_eq!(
        body["type"],
        "https://iana.org/assignments/http-problem-types#quota-exceeded"
    );
    assert_eq!(body["violated-policies"], serde_json::json!(["stars"]));
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_runs_once_per_request_id() {
    let svc = Service::start(1000, None).await;
    let created = json(
        svc.post("/projects", None, r#"{"name":"p","owner":"ada"}"#)
            .await,
    )
    .await;
    let id = created["id"].as_i64().unwrap();
    let path = format!("/projects/{id}/transfer");
    let body = r#"{"request_id":"t-1","to":"bob"}"#;
    let first = json(svc.post(&path, None, body).await).await;
    assert_eq!(
        (
            first["project"]["owner"].as_str(),
            first["transfers"].as_i64()
        ),
        (Some("bob"), Some(1))
    );
    // A retry of the same request replays: the transfer is not counted again.
    let again = json(svc.post(&path, None, body).await).await;
    assert_eq!(
        (
            again["project"]["owner"].as_str(),
            again["transfers"].as_i64()
        ),
        (Some("bob"), Some(1))
    );
    // The same request id for another transfer is refused: 422, a problem like every error.
    let clash = svc
        .post(&path, None, r#"{"request_id":"t-1","to":"cy"}"#)
        .await;
    assert_eq!(clash.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        header(&clash, "content-type").as_deref(),
        Some("application/problem+json")
    );
    assert_eq!(json(clash).await["error"], "request_id_reused");
    assert_eq!(
        json(svc.get(&format!("/projects/{id}")).await).await["owner"],
        "bob"
    );
    svc.stop().await;
}

/// A shutdown (SIGTERM in the binary) stops accepting, lets the request in flight finish with
/// its answer, then the server returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_lets_the_request_in_flight_finish() {
    let gate = Arc::new(Gate::default());
    let mut svc = Service::start(1000, Some(gate.clone())).await;
    let base = svc.base.clone();
    let http = svc.http.clone();
    let first = tokio::spawn(async move {
        http.post(format!("{base}/projects"))
            .header("content-type", "application/json")
            .body(r#"{"name":"late","owner":"ada"}"#)
            .send()
            .await
            .map(|r| r.status())
    });
    gate.entered.notified().await;
    svc.begin_shutdown();
    gate.release.add_permits(1);
    assert_eq!(
        first
            .await
            .unwrap()
            .expect("the request in flight is answered"),
        StatusCode::CREATED
    );
    let task = std::mem::replace(&mut svc.task, tokio::spawn(async {}));
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the server returns once the request in flight is done")
        .unwrap();
    svc.stop().await;
}

/// Ids come from the store, not from the cache backend: a Redis that lost its data hands out
/// no id twice; projects start at rev 1; a project that does not exist gets 404 for a star or a
/// transfer, and neither counts anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_revisions_and_missing_projects() {
    let svc = Service::start(1000, None).await;
    let first = json(
        svc.post("/projects", None, r#"{"name":"a","owner":"ada"}"#)
            .await,
    )
    .await;
    assert_eq!(first["rev"], 1, "{first}");
    // Redis forgets everything (a restart without persistence).
    let mut raw = svc.redis.client().await;
    let _: () = redis::cmd("FLUSHALL").query_async(&mut raw).await.unwrap();
    let second = svc
        .post("/projects", None, r#"{"name":"b","owner":"bob"}"#)
        .await;
    assert_eq!(second.status(), StatusCode::CREATED);
    let second = json(second).await;
    assert_ne!(second["id"], first["id"], "an id handed out twice");
    assert_eq!(second["rev"], 1, "{second}");

    let missing = 999_999;
    let star = svc
        .post(&format!("/projects/{missing}/stars"), None, "")
        .await;
    assert_eq!(star.status(), StatusCode::NOT_FOUND);
    let transfer = svc
        .post(
            &format!("/projects/{missing}/transfer"),
            None,
            r#"{"request_id":"m-1","to":"cy"}"#,
        )
        .await;
    assert_eq!(transfer.status(), StatusCode::NOT_FOUND);
    let counted: Option<i64> = redis::cmd("GET")
        .arg(format!("svc:transfers/{missing}"))
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(counted, None, "a transfer that did not happen was counted");
    svc.stop().await;
}

/// A PostgreSQL that cannot be reached is a start-up error that names it (password redacted)
/// and says what to check, instead of sqlx's bare `PoolTimedOut` / IO error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_postgres_is_named_at_start_up() {
    let redis = RedisServer::start();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let cfg = Config {
        redis: Some(forze_tests::redis_config(&redis).max_size(1)),
        database_url: Some(format!("postgres://app:pg-s3cret@127.0.0.1:{closed}/test")),
        table: "forze_test_unreachable".to_owned(),
        requests_per_minute: 1000,
        create_gate: None,
    };
    let err = build(cfg)
        .await
        .err()
        .expect("no PostgreSQL, no service")
        .to_string();
    assert!(
        err.contains("cannot use PostgreSQL at postgres://app:***@127.0.0.1"),
        "{err}"
    );
    assert!(
        err.contains("DATABASE_URL") && !err.contains("pg-s3cret"),
        "{err}"
    );
}

/// The session cookie a response sets (`id=…`), to send back as a browser would.
fn session_cookie(r: &reqwest::Response) -> String {
    let set = header(r, "set-cookie").expect("a session cookie");
    set.split(';').next().unwrap().to_owned()
}

impl Service {
    async fn with_cookie(
        &self,
        method: reqwest::Method,
        path: &str,
        cookie: &str,
    ) -> reqwest::Response {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
    }

    async fn login(&self, user: &str) -> String {
        let r = self
            .post(
                "/login",
                None,
                &serde_json::json!({ "user": user }).to_string(),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let cookie = session_cookie(&r);
        assert_eq!(json(r).await["user"], user);
        cookie
    }

    async fn me(&self, cookie: &str) -> (StatusCode, Value) {
        let r = self.with_cookie(reqwest::Method::GET, "/me", cookie).await;
        (r.status(), json(r).await)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_live_in_redis_sessions_and_end_everywhere_at_once() {
    let svc = Service::start(1000, None).await;
    // No session: 401 as a problem.
    let r = svc.get("/me").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json(r).await["error"], "not_logged_in");
    let bad = svc.post("/login", None, r#"{"user":" "}"#).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    // Ada on two devices, Bob on one: three sessions, each a key in Redis with its idle TTL.
    let laptop = svc.login("ada").await;
    let phone = svc.login("ada").await;
    let bob = svc.login("bob").await;
    assert_ne!(laptop, phone, "each login is its own session");
    assert_eq!(
        svc.me(&laptop).await,
        (StatusCode::OK, serde_json::json!({"user": "ada"}))
    );
    assert_eq!(svc.me(&bob).await.1["user"], "bob");
    let mut raw = svc.redis.client().await;
    let id = laptop.split_once('=').unwrap().1;
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!(
            "svc:sessions/cache/kv/{}",
            forze_runtime::keys::escape_part(id)
        ))
        .query_async(&mut raw)
        .await
        .unwrap();
    let idle = forze_examples::login::IDLE.whole_milliseconds() as i64;
    assert!(
        ttl > idle - 60_000 && ttl <= idle,
        "the session's TTL is its idle expiry: {ttl} ms"
    );

    // Sliding: a request renews the session's expiry (shortened here, then read back).
    let key = format!(
        "svc:sessions/cache/kv/{}",
        forze_runtime::keys::escape_part(id)
    );
    let _: () = redis::cmd("PEXPIRE")
        .arg(&key)
        .arg(5_000)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(svc.me(&laptop).await.0, StatusCode::OK);
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(
        ttl > idle - 60_000,
        "a request slid the session's expiry: {ttl} ms"
    );

    // Logging out ends that session only.
    let gone = svc.login("carol").await;
    let r = svc
        .with_cookie(reqwest::Method::POST, "/logout", &gone)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(svc.me(&gone).await.0, StatusCode::UNAUTHORIZED);

    // From the phone, end every session of Ada's: the laptop is logged out too, Bob is not.
    let r = svc
        .with_cookie(reqwest::Method::POST, "/logout/everywhere", &phone)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json(r).await["sessions"], 2);
    assert_eq!(svc.me(&laptop).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(svc.me(&phone).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(svc.me(&bob).await.1["user"], "bob");
    svc.stop().await;
}
