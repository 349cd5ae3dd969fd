//! The `tower-sessions` store on a cache route, on both backends (Redis: a server of the
//! test's own): sessions round-trip, live exactly as long as their expiry (sliding when saved
//! again), are deleted at once, and a user is logged out everywhere in one call.

use std::time::Duration;

use forze_runtime::sessions::ForzeSessionStore;
use forze_runtime::{CacheRoute, ForzeBuilder};
use forze_tests::Harness as Env;
use tower_sessions_core::session::{Id, Record};
use tower_sessions_core::SessionStore;

fn routes(b: ForzeBuilder) -> ForzeBuilder {
    b.cache("sessions", CacheRoute::new("t:sessions"))
}

async fn memory() -> Env {
    Env::memory(routes).await
}

async fn redis() -> Env {
    Env::redis(routes).await
}

fn store(env: &Env) -> ForzeSessionStore {
    ForzeSessionStore::new(env.forze.cache("sessions").unwrap()).user_field("user_id")
}

fn record(user: serde_json::Value, lives: Duration) -> Record {
    Record {
        id: Id::default(),
        data: [
            ("user_id".to_owned(), user),
            ("cart".to_owned(), serde_json::json!(["book"])),
        ]
        .into(),
        expiry_date: time::OffsetDateTime::now_utc() + lives,
    }
}

async fn sessions_round_trip_and_delete(env: &Env) {
    let store = store(env);
    let mut r = record(serde_json::json!("ada"), Duration::from_secs(3600));
    let first = r.id;
    store.create(&mut r).await.unwrap();
    assert_eq!(r.id, first, "a fresh id is kept");
    let loaded = store.load(&r.id).await.unwrap().expect("stored");
    assert_eq!(loaded.data, r.data);
    assert_eq!(loaded.expiry_date, r.expiry_date);
    r.data.insert("cart".into(), serde_json::json!([]));
    store.save(&r).await.unwrap();
    assert_eq!(store.load(&r.id).await.unwrap().unwrap().data, r.data);
    store.delete(&r.id).await.unwrap();
    assert!(store.load(&r.id).await.unwrap().is_none());
    // A session created with an id that is taken gets another.
    let mut taken = record(serde_json::json!("bob"), Duration::from_secs(3600));
    store.save(&taken).await.unwrap();
    let mut again = record(serde_json::json!("eve"), Duration::from_secs(3600));
    again.id = taken.id;
    store.create(&mut again).await.unwrap();
    assert_ne!(again.id, taken.id);
    taken = store.load(&taken.id).await.unwrap().unwrap();
    assert_eq!(
        taken.data["user_id"], "bob",
        "the first session is untouched"
    );
}

async fn a_session_lives_until_its_expiry_and_slides_when_saved(env: &Env) {
    let store = store(env);
    let r = record(serde_json::json!(7), Duration::from_millis(400));
    store.save(&r).await.unwrap();
    assert!(store.load(&r.id).await.unwrap().is_some());
    // Saved again with a later expiry (what `Expiry::OnInactivity` does on each request).
    let mut slid = r.clone();
    slid.expiry_date = time::OffsetDateTime::now_utc() + Duration::from_secs(3600);
    store.save(&slid).await.unwrap();
    let short = record(serde_json::json!(8), Duration::from_millis(150));
    store.save(&short).await.unwrap();
    forze_tests::eventually(Duration::from_secs(3), "the short session gone", || async {
        store.load(&short.id).await.unwrap().is_none().then_some(())
    })
    .await;
    assert!(
        store.load(&slid.id).await.unwrap().is_some(),
        "the slid session lives on"
    );
    // One already expired is not stored.
    let past = record(serde_json::json!(9), Duration::ZERO);
    store.save(&past).await.unwrap();
    assert!(store.load(&past.id).await.unwrap().is_none());
}

async fn a_user_is_logged_out_everywhere(env: &Env) {
    let store = store(env);
    let mut mine = Vec::new();
    for _ in 0..3 {
        let mut r = record(serde_json::json!(42), Duration::from_secs(3600));
        store.create(&mut r).await.unwrap();
        mine.push(r.id);
    }
    let mut other = record(serde_json::json!("43"), Duration::from_secs(3600));
    store.create(&mut other).await.unwrap();
    assert_eq!(store.log_out_everywhere("42").await.unwrap(), 3);
    for id in &mine {
        assert!(store.load(id).await.unwrap().is_none());
    }
    assert!(store.load(&other.id).await.unwrap().is_some());
}

forze_tests::on_both_backends!(
    sessions_round_trip_and_delete,
    a_session_lives_until_its_expiry_and_slides_when_saved,
    a_user_is_logged_out_everywhere,
);

/// On Redis the entry's own TTL is the session's: nothing outlives its expiry on the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_the_entry_expires_with_the_session() {
    let env = redis().await;
    let store = store(&env);
    let r = record(serde_json::json!(1), Duration::from_secs(30));
    store.save(&r).await.unwrap();
    let mut raw = env.server.as_ref().unwrap().client().await;
    let key = format!(
        "t:sessions/cache/kv/{}",
        forze_runtime::keys::escape_part(&r.id.to_string())
    );
    let pttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!((29_000..=30_000).contains(&pttl), "{key}: {pttl}");
}
