//! `#[derive(DocumentSpec)]` and the document repository, on the in-memory backend and on a
//! real redis-server: read-through, write-through, the stale re-warm race, concurrent updates,
//! deletes, fail-open.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use forze_runtime::document::{
    DocumentError, DocumentSpec as _, DocumentStore, MemoryDocumentStore, StoreError,
};
use forze_runtime::{CacheRoute, DocumentSpec, Forze, ForzeBuilder};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, Notify};

/// A project. Doc comments, serde renames and extra derives keep working.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DocumentSpec)]
#[document(name = "projects", cache(name = "projects", ttl = "5m"))]
struct Project {
    /// The id.
    #[document(id)]
    id: u64,
    #[document(version)]
    #[serde(rename = "revision")]
    rev: u64,
    name: String,
}

fn project(id: u64, name: &str) -> Project {
    Project {
        id,
        rev: 0,
        name: name.into(),
    }
}

/// A generic document type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DocumentSpec)]
#[document(name = "boxes", cache(name = "projects"))]
struct Boxed<T> {
    #[document(id)]
    key: String,
    #[document(version)]
    v: u32,
    value: T,
}

/// Signals "the store was read" and waits for "release".
type Hold = (Arc<Notify>, Arc<Notify>);

/// A store wrapper that counts reads and can hold a read between the store and the cache.
#[derive(Clone)]
struct Probe {
    inner: MemoryDocumentStore<Project>,
    reads: Arc<AtomicUsize>,
    hold: Arc<Mutex<Option<Hold>>>,
    fail: Arc<std::sync::atomic::AtomicBool>,
}

impl Probe {
    fn new() -> Self {
        Self {
            inner: MemoryDocumentStore::new(),
            reads: Arc::new(AtomicUsize::new(0)),
            hold: Arc::new(Mutex::new(None)),
            fail: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }

    fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

impl DocumentStore<Project> for Probe {
    async fn get(&self, id: &u64) -> Result<Option<Project>, StoreError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err("database unavailable".into());
        }
        self.reads.fetch_add(1, Ordering::SeqCst);
        let found = self.inner.get(id).await?;
        // A held read has read the store; it now waits before its result reaches the cache.
        let hold = self.hold.lock().await.take();
        if let Some((read_done, release)) = hold {
            read_done.notify_one();
            release.notified().await;
        }
        Ok(found)
    }
    async fn create(&self, cmd: Project) -> Result<Project, StoreError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err("database unavailable".into());
        }
        self.inner.create(cmd).await
    }
    async fn update(&self, id: &u64, cmd: Project) -> Result<Option<Project>, StoreError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err("database unavailable".into());
        }
        self.inner.update(id, cmd).await
    }
    async fn delete(&self, id: &u64) -> Result<Option<u64>, StoreError> {
        self.inner.delete(id).await
    }
}

fn routes(b: ForzeBuilder) -> ForzeBuilder {
    b.cache("projects", CacheRoute::new("t:projects"))
}

use forze_tests::Harness as Env;

async fn memory() -> Env {
    Env::memory(routes).await
}

async fn redis() -> Env {
    Env::redis(routes).await
}

async fn writes_go_through_and_reads_hit(env: &Env) {
    let store = Probe::new();
    let repo = env.forze.documents(store.clone()).unwrap();
    let p = repo.create(project(1, "forze")).await.unwrap();
    assert_eq!(p.rev, 1);
    assert_eq!(repo.get(&1).await.unwrap(), Some(p.clone()));
    assert_eq!(
        store.reads(),
        0,
        "a created document is served from the cache"
    );
    let q = repo
        .update(
            &1,
            Project {
                name: "forze 2".into(),
                ..p
            },
        )
        .await
        .unwrap();
    assert_eq!(q.rev, 2);
    assert_eq!(repo.get(&1).await.unwrap().unwrap().name, "forze 2");
    assert_eq!(store.reads(), 0);
    assert!(matches!(
        repo.update(&9, project(9, "x")).await,
        Err(DocumentError::NotFound {
            name: "projects",
            ..
        })
    ));
}

async fn misses_read_the_store_once(env: &Env) {
    let store = Probe::new();
    store.inner.create(project(2, "seeded")).await.unwrap();
    let repo = env.forze.documents(store.clone()).unwrap();
    assert_eq!(repo.get(&2).await.unwrap().unwrap().name, "seeded");
    assert_eq!(repo.get(&2).await.unwrap().unwrap().name, "seeded");
    assert_eq!(store.reads(), 1);
    assert_eq!(repo.get(&3).await.unwrap(), None);
    // The cache keys follow the layout of the spec.
    let cache = env.forze.cache("projects").unwrap();
    let cur = cache
        .get_current::<Project>("projects:2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cur.version, 1);
    assert_eq!(
        &Project::key_patterns().pointer,
        "{namespace}/cache/pointer/{projects:{id}}"
    );
    assert_eq!(
        &Project::key_patterns().body,
        "{namespace}/cache/body/{projects:{id}}/{version}"
    );
    assert_eq!(
        &Project::key_patterns().current,
        "{namespace}/cache/current/{projects:{id}}"
    );
}

async fn a_stale_rewarm_never_overwrites_a_newer_write(env: &Env) {
    let store = Probe::new();
    store.inner.create(project(4, "v1")).await.unwrap();
    let repo = env.forze.documents(store.clone()).unwrap();
    let (read_done, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    *store.hold.lock().await = Some((read_done.clone(), release.clone()));
    // A reader misses, reads v1 from the store, and stalls before warming the cache...
    let reader = {
        let repo = repo.clone();
        tokio::spawn(async move { repo.get(&4).await.unwrap() })
    };
    read_done.notified().await;
    // ...while a writer stores v2 and caches it...
    let v1 = store.inner.get(&4).await.unwrap().unwrap();
    let v2 = repo
        .update(
            &4,
            Project {
                name: "v2".into(),
                ..v1
            },
        )
        .await
        .unwrap();
    assert_eq!(v2.rev, 2);
    // ...then the reader warms the cache with v1: the pointer must not move back.
    release.notify_one();
    assert_eq!(reader.await.unwrap().unwrap().name, "v1");
    let reads = store.reads();
    assert_eq!(repo.get(&4).await.unwrap().unwrap().name, "v2");
    assert_eq!(store.reads(), reads, "served from the cache, and right");
}

async fn concurrent_updates_leave_the_newest_cached(env: &Env) {
    let store = Probe::new();
    let repo = env.forze.documents(store.clone()).unwrap();
    repo.create(project(5, "start")).await.unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let repo = repo.clone();
            tokio::spawn(async move {
                // Readers and writers interleave.
                let _ = repo.get(&5).await.unwrap();
                repo.update(&5, project(5, &format!("w{i}"))).await.unwrap()
            })
        })
        .collect();
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.unwrap().rev);
    }
    versions.sort_unstable();
    versions.dedup();
    assert_eq!(versions.len(), 32, "every write got its own version");
    let newest = store.inner.get(&5).await.unwrap().unwrap();
    assert_eq!(newest.rev, 33);
    // The newest is what a read gets; when the last writer out was not the newest one, that
    // read fetched it from the store and cached it (at most one store read), then hits.
    let reads = store.reads();
    assert_eq!(repo.get(&5).await.unwrap(), Some(newest.clone()));
    assert!(store.reads() <= reads + 1);
    let reads = store.reads();
    assert_eq!(repo.get(&5).await.unwrap(), Some(newest));
    assert_eq!(store.reads(), reads);
}

async fn deletes_stay_deleted(env: &Env) {
    let store = Probe::new();
    let repo = env.forze.documents(store.clone()).unwrap();
    let p = repo.create(project(6, "doomed")).await.unwrap();
    assert!(repo.delete(&6).await.unwrap());
    assert!(!repo.delete(&6).await.unwrap());
    assert_eq!(repo.get(&6).await.unwrap(), None);
    assert_eq!(store.reads(), 0, "the deletion is cached");
    // A slow reader that read the document before the delete cannot bring it back.
    let cache = env.forze.cache("projects").unwrap();
    assert!(!cache.set_version("projects:6", p.rev, &p).await.unwrap());
    assert_eq!(repo.get(&6).await.unwrap(), None);
    // Re-creating gets a newer version, which replaces the deletion.
    let again = repo.create(project(6, "reborn")).await.unwrap();
    assert_eq!(again.rev, 2);
    assert_eq!(repo.get(&6).await.unwrap().unwrap().name, "reborn");
}

async fn store_failures_are_errors_and_cache_nothing(env: &Env) {
    let store = Probe::new();
    let repo = env.forze.documents(store.clone()).unwrap();
    store.fail.store(true, Ordering::SeqCst);
    assert!(matches!(
        repo.create(project(7, "x")).await,
        Err(DocumentError::Store {
            name: "projects",
            ..
        })
    ));
    assert!(repo.get(&7).await.is_err());
    store.fail.store(false, Ordering::SeqCst);
    assert_eq!(repo.get(&7).await.unwrap(), None);
}

async fn generic_documents_work(env: &Env) {
    let repo = env
        .forze
        .documents(MemoryDocumentStore::<Boxed<Vec<u8>>>::new())
        .unwrap();
    let b = repo
        .create(Boxed {
            key: "a/b".into(),
            v: 0,
            value: vec![1, 2],
        })
        .await
        .unwrap();
    assert_eq!(b.v, 1);
    assert_eq!(repo.get(&"a/b".to_owned()).await.unwrap(), Some(b));
}

forze_tests::on_both_backends!(
    writes_go_through_and_reads_hit,
    misses_read_the_store_once,
    a_stale_rewarm_never_overwrites_a_newer_write,
    concurrent_updates_leave_the_newest_cached,
    deletes_stay_deleted,
    store_failures_are_errors_and_cache_nothing,
    generic_documents_work,
    a_create_is_never_hidden_by_an_older_lifetimes_deletion,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hit_is_one_round_trip() {
    let env = redis().await;
    let repo = env.forze.documents(Probe::new()).unwrap();
    repo.create(project(8, "x")).await.unwrap();
    let mut mon = forze_tests::monitor::Monitor::start(env.server.as_ref().unwrap()).await;
    let _ = mon.commands().await;
    repo.get(&8).await.unwrap().unwrap();
    assert_eq!(mon.commands().await, vec!["GET"]);
}

/// What a write leaves in Redis: the seed's pointer and versioned body, plus the current copy
/// that a hit reads; an older version's body stays until its TTL, the pointer outlives the body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keys_follow_the_layout() {
    use redis::AsyncCommands;
    let env = redis().await;
    let repo = env.forze.documents(Probe::new()).unwrap();
    repo.create(project(10, "a")).await.unwrap();
    repo.update(&10, project(10, "b")).await.unwrap();
    let mut c = env.server.as_ref().unwrap().client().await;
    let key = |pattern: &str, version: u64| {
        pattern
            .replace("{namespace}", "t:projects")
            .replace("{id}", "10")
            .replace("{version}", &version.to_string())
    };
    let pointer: String = c
        .get(key(&Project::key_patterns().pointer, 0))
        .await
        .unwrap();
    assert_eq!(pointer, "2");
    let v1: Vec<u8> = c.get(key(&Project::key_patterns().body, 1)).await.unwrap();
    let v2: Vec<u8> = c.get(key(&Project::key_patterns().body, 2)).await.unwrap();
    assert_eq!(serde_json::from_slice::<Project>(&v1).unwrap().name, "a");
    assert_eq!(serde_json::from_slice::<Project>(&v2).unwrap().name, "b");
    let current: Vec<u8> = c
        .get(key(&Project::key_patterns().current, 0))
        .await
        .unwrap();
    assert_eq!(current, [b"2:".as_slice(), &v2].concat());
    let pointer_ttl: i64 = c
        .pttl(key(&Project::key_patterns().pointer, 0))
        .await
        .unwrap();
    let body_ttl: i64 = c.pttl(key(&Project::key_patterns().body, 2)).await.unwrap();
    let current_ttl: i64 = c
        .pttl(key(&Project::key_patterns().current, 0))
        .await
        .unwrap();
    assert!(body_ttl > 0 && body_ttl <= 300_000, "{body_ttl}");
    assert!(current_ttl > 0 && current_ttl <= 300_000, "{current_ttl}");
    assert!(pointer_ttl > 300_000, "{pointer_ttl}");
    // A current copy that something else overwrote is a miss, served from the store and mended.
    let _: () = c
        .set(key(&Project::key_patterns().current, 0), "garbage")
        .await
        .unwrap();
    assert_eq!(repo.get(&10).await.unwrap().unwrap().name, "b");
    let mended: Vec<u8> = c
        .get(key(&Project::key_patterns().current, 0))
        .await
        .unwrap();
    assert_eq!(mended, current);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_outage_falls_back_to_the_store() {
    let mut env = redis().await;
    let store = Probe::new();
    let repo = env.forze.documents(store.clone()).unwrap();
    repo.create(project(9, "x")).await.unwrap();
    env.server.as_mut().unwrap().stop();
    assert_eq!(repo.get(&9).await.unwrap().unwrap().name, "x");
    assert_eq!(store.reads(), 1);
    // A write that cannot fence the cache is refused before the store is touched...
    match repo.update(&9, project(9, "y")).await {
        Err(DocumentError::CacheUnavailable { .. }) => {}
        other => panic!("expected the write to be refused, got {other:?}"),
    }
    assert_eq!(store.inner.get(&9).await.unwrap().unwrap().name, "x");
    // ...unless the repository tolerates an outage (bounded staleness, opted in).
    let tolerant = repo.clone().tolerate_cache_outage(true);
    let y = tolerant.update(&9, project(9, "y")).await.unwrap();
    assert_eq!(tolerant.get(&9).await.unwrap(), Some(y));
    let _ = Duration::ZERO;
}

/// A store that kills the test's redis-server (which keeps its data: AOF, fsync always) in the
/// middle of a write: after the fence, before the new version reaches the cache.
#[derive(Clone)]
struct KillsRedis {
    inner: MemoryDocumentStore<Project>,
    server: Arc<std::sync::Mutex<forze_tests::RedisServer>>,
    armed: Arc<std::sync::atomic::AtomicBool>,
}

impl DocumentStore<Project> for KillsRedis {
    async fn get(&self, id: &u64) -> Result<Option<Project>, StoreError> {
        self.inner.get(id).await
    }
    async fn create(&self, cmd: Project) -> Result<Project, StoreError> {
        self.inner.create(cmd).await
    }
    async fn update(&self, id: &u64, cmd: Project) -> Result<Option<Project>, StoreError> {
        if self.armed.swap(false, Ordering::SeqCst) {
            self.server.lock().unwrap().stop();
        }
        self.inner.update(id, cmd).await
    }
    async fn delete(&self, id: &u64) -> Result<Option<u64>, StoreError> {
        if self.armed.swap(false, Ordering::SeqCst) {
            self.server.lock().unwrap().stop();
        }
        self.inner.delete(id).await
    }
}

/// The outage that used to leave a stale document: a read warms rev 1; Redis dies during the
/// update to rev 2 (the store is written, the cache is not); Redis comes back with its data.
/// Every read then gets rev 2 — the fence set before the store write keeps readers on the
/// store until a newer version replaces it. The same for a delete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_during_an_outage_is_never_read_stale_after_it() {
    let server =
        forze_tests::RedisServer::start_with(&["--appendonly", "yes", "--appendfsync", "always"]);
    let config = forze_tests::redis_config(&server);
    let server = Arc::new(std::sync::Mutex::new(server));
    let forze = routes(Forze::builder().redis(config))
        .build()
        .await
        .unwrap();
    let store = KillsRedis {
        inner: MemoryDocumentStore::new(),
        server: server.clone(),
        armed: Default::default(),
    };
    let repo = forze.documents(store.clone()).unwrap();
    repo.create(project(1, "v1")).await.unwrap();
    repo.create(project(2, "v1")).await.unwrap();
    for id in [1, 2] {
        assert_eq!(repo.get(&id).await.unwrap().unwrap().rev, 1);
    }

    store.armed.store(true, Ordering::SeqCst);
    let v2 = repo.update(&1, project(1, "v2")).await.unwrap();
    assert_eq!(v2.rev, 2);
    server.lock().unwrap().restart();
    let read = forze_tests::eventually(Duration::from_secs(5), "redis is back", || async {
        forze.health().await.reachable.then_some(())
    });
    read.await;
    for _ in 0..3 {
        assert_eq!(
            repo.get(&1).await.unwrap(),
            Some(v2.clone()),
            "stale after the outage"
        );
    }

    store.armed.store(true, Ordering::SeqCst);
    assert!(repo.delete(&2).await.unwrap());
    server.lock().unwrap().restart();
    forze_tests::eventually(Duration::from_secs(5), "redis is back", || async {
        forze.health().await.reachable.then_some(())
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            repo.get(&2).await.unwrap(),
            None,
            "a deleted document came back"
        );
    }
}

/// A store whose versions restart (a reset test database, a restored backup, a second
/// in-memory store on a shared Redis): a create of an id whose older lifetime was deleted (and
/// cached as deleted at a higher version) is read as created, not as deleted.
async fn a_create_is_never_hidden_by_an_older_lifetimes_deletion(env: &Env) {
    let old = env
        .forze
        .documents(MemoryDocumentStore::<Project>::new())
        .unwrap();
    old.create(project(5, "first life")).await.unwrap();
    old.update(&5, project(5, "first life, rev 2"))
        .await
        .unwrap();
    assert!(old.delete(&5).await.unwrap());
    assert_eq!(old.get(&5).await.unwrap(), None);
    let reset = env
        .forze
        .documents(MemoryDocumentStore::<Project>::new())
        .unwrap();
    let created = reset.create(project(5, "second life")).await.unwrap();
    assert_eq!(created.rev, 1);
    assert_eq!(reset.get(&5).await.unwrap(), Some(created));
}

#[tokio::test]
async fn an_unwired_document_cache_is_reported() {
    let f = Forze::builder()
        .allow_unwired_annotations()
        .build()
        .await
        .unwrap();
    let err = f.documents(Probe::new()).err().expect("cache not wired");
    assert!(err.to_string().contains("\"projects\""), "{err}");
    // Without the opt-out, start-up lists it.
    let err = Forze::builder().build().await.unwrap_err();
    assert!(err.to_string().contains("cache \"projects\""), "{err}");
}
