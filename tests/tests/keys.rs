//! Property tests of the key layout: one storage key per logical key, built once, the same
//! bytes whichever way a key is reached — `#[cached]` / `#[cache_invalidate]` and the typed
//! cache calls, `#[idempotent]` and `Idempotency::begin` — on both backends, with what lands in
//! Redis read back; and no two (route, kind, key) triples ever share a storage key.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use forze_runtime::keys::{window_key, KeySpace, KeyWriter};
use forze_runtime::ports::{Algorithm, Quota};
use forze_runtime::{
    cache_invalidate, cached, codec, idempotent, rate_limited, Begin, CacheRoute, ForzeBuilder,
    IdempotencyError, IdempotencyRoute, LimiterRoute, RateLimited,
};
use forze_tests::Harness;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Cases per property (`FORZE_KEY_CASES` to change; at least 10 000 in the suite).
fn cases() -> u32 {
    std::env::var("FORZE_KEY_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(10_000)
}

fn routes(b: ForzeBuilder) -> ForzeBuilder {
    b.cache("kv", CacheRoute::new("p:kv"))
        .idempotency("idem", IdempotencyRoute::new("p:idem"))
        .limiter("rl", LimiterRoute::new("p:rl"))
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        // Inputs run to 10 000 characters: report a failure instead of shrinking for minutes.
        max_shrink_iters: 256,
        ..Config::default()
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Text a caller might send: separators, escapes, braces, NUL, newlines, non-ASCII, empty, and
/// now and then 10 000 characters.
fn hostile() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        4 => prop::sample::select(vec![
            '-', '%', '/', '{', '}', ':', '\0', '\n', '.', '~', ' ', '@', '*', 'é', '日', '2', 'F',
        ]),
        3 => proptest::char::range('a', 'z'),
        1 => any::<char>(),
    ];
    let short = prop::collection::vec(ch, 0..24).prop_map(|v| v.into_iter().collect::<String>());
    prop_oneof![
        24 => short.clone(),
        1 => Just(String::new()),
        // 10 kB and more: a short hostile text repeated.
        1 => short.prop_map(|s| if s.is_empty() { "%".repeat(10_000) } else { s.repeat(10_000 / s.len() + 1) }),
    ]
}

// --- annotated functions -------------------------------------------------------------------

#[cached(cache = "kv", key = "user:{id}")]
async fn load(id: &str) -> String {
    format!("computed:{id}")
}

#[cached(cache = "kv", key = "org:{org}:user:{user}")]
async fn member(org: &str, user: &str) -> String {
    format!("{org}|{user}")
}

#[cache_invalidate(cache = "kv", key = "org:{org}:user:{user}")]
async fn forget_member(org: &str, user: &str) -> Result<(), ()> {
    let _ = (org, user);
    Ok(())
}

/// Its body answers ten times the amount, so a replayed record is told from a run.
#[idempotent(store = "idem", operation = "pay", key = key)]
async fn pay(key: String, amount: u64) -> Result<u64, IdempotencyError> {
    let _ = &key;
    Ok(amount * 10)
}

#[rate_limited(limiter = "rl", key = "u:{id}", limit = 1, per = "1h")]
async fn once_an_hour(id: &str) -> Result<(), RateLimited> {
    let _ = id;
    Ok(())
}

/// The logical key `#[cached(key = "org:{org}:user:{user}")]` builds, built by hand.
fn member_key(org: &str, user: &str) -> String {
    let mut w = KeyWriter::new();
    w.push_lit("org:");
    w.push_inner(&org);
    w.push_lit(":user:");
    w.push_part(&user);
    w.finish()
}

/// The raw bytes at `key` on the harness's redis-server (`None` on the memory backend).
async fn raw_get(env: &Harness, key: &str) -> Option<Option<Vec<u8>>> {
    use redis::AsyncCommands;
    let server = env.server.as_ref()?;
    let mut c = server.client().await;
    Some(c.get(key).await.unwrap())
}

// --- #[cached] and the typed calls ---------------------------------------------------------

async fn cached_and_typed_calls_meet(env: &Harness, v: String) {
    let cache = env.forze.cache("kv").unwrap();
    let key = format!("user:{v}");
    env.forze
        .scope(async {
            let computed = load(&v).await;
            assert_eq!(computed, format!("computed:{v}"));
            // What the macro wrote, the typed call reads, at the key the layout names.
            assert_eq!(
                cache.get::<String>(&key).await.unwrap(),
                Some(computed.clone())
            );
            let storage = KeySpace::new("p:kv", None).cache_kv(&key);
            if let Some(raw) = raw_get(env, &storage).await {
                assert_eq!(raw, Some(codec::encode(&computed).unwrap()), "{storage}");
            }
            // A typed refresh is what the macro reads next (the body would say "computed:").
            cache.set(&key, "refreshed").await.unwrap();
            assert_eq!(load(&v).await, "refreshed");
            // A typed invalidation drops the macro's entry.
            assert!(cache.invalidate(&key).await.unwrap());
            assert_eq!(cache.get::<String>(&key).await.unwrap(), None);
        })
        .await;
}

async fn templates_with_two_values_meet(env: &Harness, org: String, user: String) {
    let cache = env.forze.cache("kv").unwrap();
    let key = member_key(&org, &user);
    env.forze
        .scope(async {
            let value = member(&org, &user).await;
            assert_eq!(cache.get::<String>(&key).await.unwrap(), Some(value));
            let storage = KeySpace::new("p:kv", None).cache_kv(&key);
            if let Some(raw) = raw_get(env, &storage).await {
                assert!(raw.is_some(), "{storage}");
            }
            forget_member(&org, &user).await.unwrap();
            assert_eq!(cache.get::<String>(&key).await.unwrap(), None);
        })
        .await;
}

fn cached_property(env: Harness, rt: &tokio::runtime::Runtime) {
    runner(cases())
        .run(&hostile(), |v| {
            rt.block_on(cached_and_typed_calls_meet(&env, v));
            Ok(())
        })
        .unwrap();
    runner(cases())
        .run(&(hostile(), hostile()), |(org, user)| {
            rt.block_on(templates_with_two_values_meet(&env, org, user));
            Ok(())
        })
        .unwrap();
}

#[test]
fn cached_and_typed_calls_meet_in_memory() {
    let rt = runtime();
    let env = rt.block_on(Harness::memory(routes));
    cached_property(env, &rt);
}

#[test]
fn cached_and_typed_calls_meet_on_redis() {
    let rt = runtime();
    let env = rt.block_on(Harness::redis(routes));
    cached_property(env, &rt);
}

// --- #[idempotent] and Idempotency::begin --------------------------------------------------

async fn idempotent_and_begin_meet(env: &Harness, v: String) {
    let idem = env.forze.idempotency("idem").unwrap();
    let fp = |amount: u64| codec::fingerprint(&serde_json::json!({ "amount": amount })).unwrap();
    env.forze
        .scope(async {
            // The macro's record is the one `begin` finds, under the caller's key.
            assert_eq!(pay(v.clone(), 7).await.unwrap(), 70);
            match idem.begin("pay", &v, &fp(7)).await.unwrap() {
                Begin::Replay(snapshot) => assert_eq!(snapshot.decode::<u64>().unwrap(), 70),
                other => panic!("{v:?}: expected the macro's record, got {other:?}"),
            }
            let storage = KeySpace::new("p:idem", None).idempotency("pay", &v);
            if let Some(server) = &env.server {
                use redis::AsyncCommands;
                let exists: bool = server.client().await.exists(&storage).await.unwrap();
                assert!(exists, "{storage}");
            }
            // Errors name the key as the caller gave it.
            match pay(v.clone(), 8).await {
                Err(IdempotencyError::Mismatch { key, .. }) => assert_eq!(key, v),
                other => panic!("expected a mismatch, got {other:?}"),
            }
            // And the other way round: a typed commit is what the macro replays.
            let w = format!("{v}'");
            match idem.begin("pay", &w, &fp(9)).await.unwrap() {
                Begin::Proceed(claim) => claim.commit(&9u64).await.unwrap(),
                other => panic!("{w:?}: expected a first call, got {other:?}"),
            }
            assert_eq!(pay(w, 9).await.unwrap(), 9, "replayed, not run");
        })
        .await;
}

fn idempotent_property(env: Harness, rt: &tokio::runtime::Runtime) {
    // Records outlive a case: each case's key ends in a number of its own, so that an input
    // that comes up twice does not meet its earlier record.
    let case = AtomicUsize::new(0);
    runner(cases())
        .run(&hostile(), |v| {
            let v = format!("{v}#{}", case.fetch_add(1, Ordering::Relaxed));
            rt.block_on(idempotent_and_begin_meet(&env, v));
            Ok(())
        })
        .unwrap();
}

#[test]
fn idempotent_and_begin_meet_in_memory() {
    let rt = runtime();
    let env = rt.block_on(Harness::memory(routes));
    idempotent_property(env, &rt);
}

#[test]
fn idempotent_and_begin_meet_on_redis() {
    let rt = runtime();
    let env = rt.block_on(Harness::redis(routes));
    idempotent_property(env, &rt);
}

// --- #[rate_limited] and the typed checks -------------------------------------------------

async fn rate_limited_and_checks_meet(env: &Harness, v: String) {
    let limiter = env.forze.limiter("rl").unwrap();
    let quota = Quota::new(
        1,
        std::time::Duration::from_secs(3600),
        Algorithm::FixedWindow,
    );
    env.forze
        .scope(async {
            // The macro's call takes the only unit of the bucket the typed check names...
            once_an_hour(&v).await.unwrap();
            let after = limiter
                .check_quota(&format!("u:{v}"), &quota, 1)
                .await
                .unwrap();
            assert!(
                !after.allowed,
                "{v:?}: the typed check found another bucket"
            );
        })
        .await;
    // ...and the other way round.
    let w = format!("{v}'");
    assert!(
        limiter
            .check_quota(&format!("u:{w}"), &quota, 1)
            .await
            .unwrap()
            .allowed
    );
    let refused = env.forze.scope(once_an_hour(&w)).await.unwrap_err();
    assert!(refused.reason.is_none(), "{refused}");
}

fn rate_limited_property(env: Harness, rt: &tokio::runtime::Runtime) {
    // Buckets outlive a case (an hour): each case's key ends in a number of its own.
    let case = AtomicUsize::new(0);
    runner(cases())
        .run(&hostile(), |v| {
            let v = format!("{v}#{}", case.fetch_add(1, Ordering::Relaxed));
            rt.block_on(rate_limited_and_checks_meet(&env, v));
            Ok(())
        })
        .unwrap();
}

#[test]
fn rate_limited_and_checks_meet_in_memory() {
    let rt = runtime();
    let env = rt.block_on(Harness::memory(routes));
    rate_limited_property(env, &rt);
}

#[test]
fn rate_limited_and_checks_meet_on_redis() {
    let rt = runtime();
    let env = rt.block_on(Harness::redis(routes));
    rate_limited_property(env, &rt);
}

// --- injectivity ---------------------------------------------------------------------------

/// One logical entry of some kind on some route.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Entry {
    CacheKv(String),
    Pointer(String),
    Body(String, u64),
    Current(String),
    Tag(String),
    Counter(Option<String>),
    Idempotency(String, String),
    RateLimit(String),
    Window(String, u64),
    Lock(String),
    Fill(String),
}

/// Short text from few characters (so that near-misses are common), with the layout's own
/// words and separators among them.
fn near_miss() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(
            prop::sample::select(vec!['a', '/', '%', '2', 'F', ':', '~', '-', 't']),
            0..5
        )
        .prop_map(|v| v.into_iter().collect()),
        1 => prop::sample::select(vec![
            "cache", "kv", "lock", "tenant", "ratelimit", "fill", "tag", "body", "%63ache",
            "cache/kv", "a/1", "",
        ])
        .prop_map(str::to_owned),
    ]
}

fn entry() -> impl Strategy<Value = Entry> {
    let s = near_miss;
    prop_oneof![
        s().prop_map(Entry::CacheKv),
        s().prop_map(Entry::Pointer),
        (s(), 0..3u64).prop_map(|(k, v)| Entry::Body(k, v)),
        s().prop_map(Entry::Current),
        s().prop_map(Entry::Tag),
        prop::option::of(s()).prop_map(Entry::Counter),
        (s(), s()).prop_map(|(o, k)| Entry::Idempotency(o, k)),
        s().prop_map(Entry::RateLimit),
        (s(), 0..3u64).prop_map(|(k, w)| Entry::Window(k, w)),
        s().prop_map(Entry::Lock),
        s().prop_map(Entry::Fill),
    ]
}

/// A route: a namespace (routes of one wiring never share or nest namespaces, which the builder
/// enforces) and maybe a tenant.
fn route() -> impl Strategy<Value = (String, Option<String>)> {
    (
        prop::sample::select(vec!["a", "b", "a:x", "b.y"]).prop_map(str::to_owned),
        prop::option::of(near_miss()),
    )
}

fn storage_key((namespace, tenant): &(String, Option<String>), entry: &Entry) -> String {
    let ks = KeySpace::new(namespace, tenant.as_deref());
    match entry {
        Entry::CacheKv(k) => ks.cache_kv(k),
        Entry::Pointer(k) => ks.cache_pointer(k),
        Entry::Body(k, v) => ks.cache_body(k, *v),
        Entry::Current(k) => ks.cache_current(k),
        Entry::Tag(k) => ks.cache_tag(k),
        Entry::Counter(s) => ks.counter(s.as_deref()),
        Entry::Idempotency(o, k) => ks.idempotency(o, k),
        Entry::RateLimit(k) => ks.rate_limit(k),
        Entry::Window(k, w) => window_key(&ks.rate_limit(k), *w),
        Entry::Lock(k) => ks.lock(k),
        Entry::Fill(k) => ks.fill_lock(k),
    }
}

#[test]
fn no_two_route_kind_key_triples_share_a_storage_key() {
    let batch = prop::collection::vec((route(), entry()), 1..40);
    runner(cases())
        .run(&batch, |triples| {
            let mut seen: HashMap<String, ((String, Option<String>), Entry)> = HashMap::new();
            for (route, entry) in triples {
                let key = storage_key(&route, &entry);
                if let Some(earlier) = seen.get(&key) {
                    prop_assert_eq!(earlier, &(route.clone(), entry.clone()), "{}", key);
                }
                seen.insert(key, (route, entry));
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_template_with_two_values_gives_one_key_per_pair() {
    let pairs = prop::collection::vec((near_miss(), near_miss()), 1..40);
    runner(cases())
        .run(&pairs, |pairs| {
            let mut seen: HashMap<String, (String, String)> = HashMap::new();
            for (a, b) in pairs {
                let key = member_key(&a, &b);
                if let Some(earlier) = seen.get(&key) {
                    prop_assert_eq!(earlier, &(a.clone(), b.clone()), "{}", key);
                }
                seen.insert(key, (a, b));
            }
            Ok(())
        })
        .unwrap();
}

/// A document's pointer, bodies and current copy share a Redis Cluster hash slot whatever its
/// key (one script moves them together on a cluster), two keys never share a pointer, and a
/// tag's per-slot set is in the slot it names.
#[test]
fn a_versioned_entrys_keys_share_a_slot_for_every_key() {
    use forze_runtime::keys::{hash_slot, tag_slot_key};
    let space = KeySpace::new("p:docs", Some("t{1}"));
    runner(cases())
        .run(
            &(hostile(), hostile(), any::<u64>(), any::<u16>()),
            |(a, b, version, slot)| {
                let pointer = space.cache_pointer(&a);
                let slot_of = hash_slot(pointer.as_bytes());
                prop_assert_eq!(hash_slot(space.cache_current(&a).as_bytes()), slot_of);
                prop_assert_eq!(hash_slot(space.cache_body(&a, version).as_bytes()), slot_of);
                if a != b {
                    prop_assert_ne!(pointer, space.cache_pointer(&b));
                }
                let slot = slot % forze_runtime::keys::HASH_SLOTS;
                let set = tag_slot_key(&space.cache_tag(&b), slot);
                prop_assert_eq!(hash_slot(set.as_bytes()), slot);
                Ok(())
            },
        )
        .unwrap();
}
