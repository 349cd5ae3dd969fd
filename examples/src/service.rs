//! A small projects API built on forze.
//!
//! | endpoint | what |
//! |---|---|
//! | `POST /projects` | create (`{"name", "owner"}`); honours `Idempotency-Key`; ids from the store (a PostgreSQL sequence) |
//! | `GET /projects/{id}` | read through the document cache (one round trip on a hit) |
//! | `PUT /projects/{id}` | update (`{"name"?, "owner"?}`); the cache is never stale afterwards |
//! | `DELETE /projects/{id}` | delete |
//! | `GET /projects/{id}/summary` | a `#[cached]` summary, dropped by `#[cache_invalidate]` on update |
//! | `POST /projects/{id}/stars` | a `#[rate_limited]` star (3 per minute per project) |
//! | `POST /projects/{id}/transfer` | an `#[idempotent]` owner transfer (`{"request_id", "to"}`) |
//! | `POST /login`, `GET /me`, `POST /logout`, `POST /logout/everywhere` | logins in sessions (see [`crate::login`]) |
//! | `GET /health/redis` | backend health: 200, or 503 with the reason |
//!
//! Every route is rate limited per client IP (`X-RateLimit-*` headers, 429 with `Retry-After`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use forze_runtime::document::{
    ApplyUpdate, DocumentError, DocumentStore, Documents, MemoryDocumentStore, StoreError,
};
use forze_runtime::http::{
    health_response, problem, quota_exceeded, IdempotencyLayer, KeyBy, RateLimitLayer,
};
use forze_runtime::ports::{Algorithm, Quota};
use forze_runtime::{
    cache_invalidate, cached, idempotent, rate_limited, BackendConfig, CacheRoute, CounterRoute,
    DocumentSpec, Forze, IdempotencyError, IdempotencyRoute, LimiterRoute, RateLimited,
    RedisConfig,
};
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Row};

// Table names are checked to be [A-Za-z0-9_] in `PgProjects::connect`; values are bound.

/// A project: the document this service keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DocumentSpec)]
#[document(name = "projects", cache(name = "projects", ttl = "5m"), update = ProjectPatch)]
pub struct Project {
    /// The project number (from the `projects` counter).
    #[document(id)]
    pub id: i64,
    /// The revision, bumped by every write.
    #[document(version)]
    pub rev: i64,
    /// The name.
    pub name: String,
    /// The owner.
    pub owner: String,
}

/// `POST /projects` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewProject {
    /// The name.
    pub name: String,
    /// The owner.
    pub owner: String,
}

/// `PUT /projects/{id}` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProjectPatch {
    /// A new name.
    pub name: Option<String>,
    /// A new owner.
    pub owner: Option<String>,
}

impl ApplyUpdate<ProjectPatch> for Project {
    fn apply_update(&mut self, patch: ProjectPatch) {
        if let Some(n) = patch.name {
            self.name = n;
        }
        if let Some(o) = patch.owner {
            self.owner = o;
        }
    }
}

/// The projects table in PostgreSQL (the source of truth when `DATABASE_URL` is set).
#[derive(Clone)]
pub struct PgProjects {
    pool: PgPool,
    table: String,
}

impl PgProjects {
    /// Connects and creates the table (and its revision sequence) if needed.
    pub async fn connect(url: &str, table: &str) -> Result<Self, sqlx::Error> {
        if !table
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(sqlx::Error::Configuration(
                format!("table name {table:?} must be [A-Za-z0-9_]").into(),
            ));
        }
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        sqlx::query(AssertSqlSafe(format!(
            "CREATE TABLE IF NOT EXISTS {table} (id BIGINT PRIMARY KEY, rev BIGINT NOT NULL, \
             name TEXT NOT NULL, owner TEXT NOT NULL)"
        )))
        .execute(&pool)
        .await?;
        // Ids come from PostgreSQL, never reused: a project starts at rev 1, and its revision
        // grows with each write (a deleted id never comes back, so no revision repeats).
        sqlx::query(AssertSqlSafe(format!(
            "CREATE SEQUENCE IF NOT EXISTS {table}_id"
        )))
        .execute(&pool)
        .await?;
        Ok(Self {
            pool,
            table: table.to_owned(),
        })
    }

    /// Drops the table and its sequence (tests clean up with it).
    pub async fn drop_table(&self) -> Result<(), sqlx::Error> {
        let t = &self.table;
        sqlx::query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {t}")))
            .execute(&self.pool)
            .await?;
        sqlx::query(AssertSqlSafe(format!("DROP SEQUENCE IF EXISTS {t}_id")))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

fn row_to_project(row: &sqlx::postgres::PgRow) -> Result<Project, sqlx::Error> {
    Ok(Project {
        id: row.try_get("id")?,
        rev: row.try_get("rev")?,
        name: row.try_get("name")?,
        owner: row.try_get("owner")?,
    })
}

impl DocumentStore<Project> for PgProjects {
    async fn get(&self, id: &i64) -> Result<Option<Project>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT id, rev, name, owner FROM {} WHERE id = $1",
            self.table
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(row_to_project).transpose()?)
    }

    /// Inserts a project with the next id of the table's sequence (the id given is ignored).
    async fn create(&self, p: Project) -> Result<Project, StoreError> {
        let t = &self.table;
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {t} (id, rev, name, owner) VALUES (nextval('{t}_id'), 1, $1, $2) \
             RETURNING id, rev, name, owner"
        )))
        .bind(&p.name)
        .bind(&p.owner)
        .fetch_one(&self.pool)
        .await?;
        Ok(row_to_project(&row)?)
    }

    async fn update(&self, id: &i64, patch: ProjectPatch) -> Result<Option<Project>, StoreError> {
        let t = &self.table;
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE {t} SET name = COALESCE($2, name), owner = COALESCE($3, owner), \
             rev = rev + 1 WHERE id = $1 RETURNING id, rev, name, owner"
        )))
        .bind(id)
        .bind(patch.name)
        .bind(patch.owner)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(row_to_project).transpose()?)
    }

    async fn delete(&self, id: &i64) -> Result<Option<u64>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {} WHERE id = $1 RETURNING rev + 1 AS rev",
            self.table
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row
            .map(|r| r.try_get::<i64, _>("rev"))
            .transpose()?
            .map(|v| u64::try_from(v).unwrap_or(0)))
    }
}

/// Where projects live: PostgreSQL or memory.
#[derive(Clone)]
pub enum Store {
    /// PostgreSQL.
    Postgres(PgProjects),
    /// Memory, with its ids from a number of its own (it lives as long as the process).
    Memory(
        MemoryDocumentStore<Project>,
        Arc<std::sync::atomic::AtomicI64>,
    ),
}

impl Store {
    /// The id for a new project: PostgreSQL assigns its own (from its sequence) at insert; the
    /// memory store counts its own. Neither depends on the cache backend, so a Redis that lost
    /// its data cannot hand out an id twice.
    fn next_id(&self) -> i64 {
        match self {
            Store::Postgres(_) => 0,
            Store::Memory(_, next) => next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
        }
    }
}

impl DocumentStore<Project> for Store {
    async fn get(&self, id: &i64) -> Result<Option<Project>, StoreError> {
        match self {
            Store::Postgres(s) => s.get(id).await,
            Store::Memory(s, _) => s.get(id).await,
        }
    }
    async fn create(&self, p: Project) -> Result<Project, StoreError> {
        match self {
            Store::Postgres(s) => s.create(p).await,
            Store::Memory(s, _) => s.create(p).await,
        }
    }
    async fn update(&self, id: &i64, patch: ProjectPatch) -> Result<Option<Project>, StoreError> {
        match self {
            Store::Postgres(s) => s.update(id, patch).await,
            Store::Memory(s, _) => s.update(id, patch).await,
        }
    }
    async fn delete(&self, id: &i64) -> Result<Option<u64>, StoreError> {
        match self {
            Store::Postgres(s) => s.delete(id).await,
            Store::Memory(s, _) => s.delete(id).await,
        }
    }
}

/// How to run the service.
#[derive(Clone)]
pub struct Config {
    /// Redis; `None`: in memory.
    pub redis: Option<RedisConfig>,
    /// PostgreSQL URL; `None`: in memory.
    pub database_url: Option<String>,
    /// The projects table (tests use their own).
    pub table: String,
    /// Requests per client per minute.
    pub requests_per_minute: u64,
    /// Test hook: when set, `POST /projects` signals `entered` and waits for a `release`
    /// permit before creating (lets a test hold a request in flight).
    pub create_gate: Option<Arc<Gate>>,
}

impl Config {
    /// From the environment: `REDIS_URL`, `DATABASE_URL`, `RATE_LIMIT_PER_MINUTE` (default 600).
    pub fn from_env() -> Self {
        Self {
            redis: RedisConfig::from_env(),
            database_url: std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()),
            table: "forze_example_projects".into(),
            requests_per_minute: std::env::var("RATE_LIMIT_PER_MINUTE")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(600),
            create_gate: None,
        }
    }
}

/// A test hook that holds `POST /projects` in flight.
#[derive(Debug)]
pub struct Gate {
    /// Notified when a create request reaches the handler.
    pub entered: tokio::sync::Notify,
    /// One permit lets one held request go on.
    pub release: tokio::sync::Semaphore,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            entered: tokio::sync::Notify::new(),
            release: tokio::sync::Semaphore::new(0),
        }
    }
}

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The runtime.
    pub forze: Forze,
    /// The projects repository.
    pub projects: Documents<Project, Store>,
    store: Store,
    gate: Option<Arc<Gate>>,
}

/// Errors as HTTP answers.
#[derive(Debug)]
pub enum ApiError {
    /// 404.
    NotFound,
    /// 429.
    Limited(RateLimited),
    /// 409 / 503.
    Idempotency(IdempotencyError),
    /// 500.
    Internal(String),
    /// 503: a dependency is down and nothing was done (retry later).
    Unavailable(String),
}

impl From<RateLimited> for ApiError {
    fn from(r: RateLimited) -> Self {
        ApiError::Limited(r)
    }
}

impl From<IdempotencyError> for ApiError {
    fn from(e: IdempotencyError) -> Self {
        ApiError::Idempotency(e)
    }
}

impl From<DocumentError> for ApiError {
    fn from(e: DocumentError) -> Self {
        match e {
            DocumentError::NotFound { .. } => ApiError::NotFound,
            e @ DocumentError::CacheUnavailable { .. } => ApiError::Unavailable(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<forze_runtime::Error> for ApiError {
    fn from(e: forze_runtime::Error) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::NotFound => problem(StatusCode::NOT_FOUND, "not_found", "no such project"),
            ApiError::Limited(r) => quota_exceeded("stars", r.retry_after_secs()),
            ApiError::Idempotency(e) => {
                let (status, code) = match &e {
                    IdempotencyError::InProgress { .. } => (StatusCode::CONFLICT, "in_progress"),
                    IdempotencyError::Mismatch { .. } => {
                        (StatusCode::UNPROCESSABLE_ENTITY, "request_id_reused")
                    }
                    IdempotencyError::Unavailable(_) => {
                        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
                    }
                    _ => (StatusCode::INTERNAL_SERVER_ERROR, "idempotency"),
                };
                problem(status, code, &e.to_string())
            }
            ApiError::Unavailable(m) => {
                tracing::warn!(error = %m, "request refused: a dependency is down");
                let mut resp = problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable", &m);
                resp.headers_mut()
                    .insert("retry-after", axum::http::HeaderValue::from_static("1"));
                resp
            }
            ApiError::Internal(m) => {
                tracing::error!(error = %m, "request failed");
                problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the request failed; see the server's log",
                )
            }
        }
    }
}

/// A derived view of a project, cached; tagged so that an update drops it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// The project.
    pub id: i64,
    /// A line of text.
    pub line: String,
}

#[cached(cache = "summaries", key = "summary:{id}", ttl = "1m", tags = ["project:{id}"], via = state.forze)]
async fn summary(state: &AppState, id: i64) -> Result<Option<Summary>, ApiError> {
    Ok(state.projects.get(&id).await?.map(|p| Summary {
        id,
        line: format!("#{} {} (owner {}, rev {})", p.id, p.name, p.owner, p.rev),
    }))
}

#[cache_invalidate(cache = "summaries", tags = ["project:{id}"], via = state.forze)]
async fn update_project(
    state: &AppState,
    id: i64,
    patch: ProjectPatch,
) -> Result<Project, ApiError> {
    Ok(state.projects.update(&id, patch).await?)
}

#[rate_limited(limiter = "stars", key = "project:{id}", limit = 3, per = "1m", algorithm = "gcra", via = state.forze)]
async fn star(state: &AppState, id: i64) -> Result<i64, ApiError> {
    Ok(state
        .forze
        .counter("stars")?
        .at(&id.to_string())
        .incr()
        .await?)
}

/// `POST /projects/{id}/transfer` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Transfer {
    /// The client's id for this request: a retry with the same id does not transfer twice.
    pub request_id: String,
    /// The new owner.
    pub to: String,
}

/// Moves a project to another owner and counts the transfer, at most once per request id.
#[idempotent(store = "ops", operation = "transfer", key = request_id, skip(state), via = state.forze)]
async fn transfer(
    state: &AppState,
    request_id: String,
    id: i64,
    to: String,
) -> Result<Project, ApiError> {
    let patch = ProjectPatch {
        name: None,
        owner: Some(to),
    };
    // Counted once the transfer happened: a project that does not exist counts nothing.
    let p = update_project(state, id, patch).await?;
    state
        .forze
        .counter("transfers")?
        .at(&id.to_string())
        .incr()
        .await?;
    Ok(p)
}

async fn post_transfer(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(t): Json<Transfer>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let p = transfer(&s, t.request_id, id, t.to).await?;
    let transfers = s
        .forze
        .counter("transfers")?
        .at(&id.to_string())
        .get()
        .await?;
    Ok(Json(
        serde_json::json!({"project": p, "transfers": transfers}),
    ))
}

async fn create(
    State(s): State<AppState>,
    Json(new): Json<NewProject>,
) -> Result<(StatusCode, Json<Project>), ApiError> {
    if let Some(gate) = &s.gate {
        gate.entered.notify_one();
        let permit = gate.release.acquire().await;
        permit
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .forget();
    }
    let id = s.store.next_id();
    let p = s
        .projects
        .create(Project {
            id,
            rev: 0,
            name: new.name,
            owner: new.owner,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(p)))
}

async fn read(State(s): State<AppState>, Path(id): Path<i64>) -> Result<Json<Project>, ApiError> {
    s.projects
        .get(&id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

async fn update(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(patch): Json<ProjectPatch>,
) -> Result<Json<Project>, ApiError> {
    Ok(Json(update_project(&s, id, patch).await?))
}

async fn remove(State(s): State<AppState>, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    if s.projects.delete(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

async fn get_summary(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Summary>, ApiError> {
    summary(&s, id).await?.map(Json).ok_or(ApiError::NotFound)
}

async fn add_star(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    // A project that does not exist gets no star (nor a count against the limit).
    if s.projects.get(&id).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let stars = star(&s, id).await?;
    Ok(Json(serde_json::json!({"id": id, "stars": stars})))
}

/// `url` with its password replaced by `***`.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "<unparseable url>".to_owned(),
    }
}

/// Builds the runtime, the store and the router.
pub async fn build(
    cfg: Config,
) -> Result<(Router, Forze, Store), Box<dyn std::error::Error + Send + Sync>> {
    let backend = match cfg.redis.clone() {
        Some(r) => BackendConfig::Redis(r),
        None => BackendConfig::default(),
    };
    let per_minute = Quota::new(
        cfg.requests_per_minute,
        Duration::from_secs(60),
        Algorithm::Gcra,
    );
    let forze = Forze::builder()
        .backend(backend)
        .cache("projects", CacheRoute::new("svc:projects"))
        .cache("summaries", CacheRoute::new("svc:summaries"))
        .cache("sessions", CacheRoute::new("svc:sessions"))
        .counter("stars", CounterRoute::new("svc:stars"))
        .counter("transfers", CounterRoute::new("svc:transfers"))
        .idempotency("ops", IdempotencyRoute::new("svc:ops"))
        .idempotency("http", IdempotencyRoute::new("svc:idem"))
        .limiter("http", LimiterRoute::new("svc:rl:http").quota(per_minute))
        .limiter("stars", LimiterRoute::new("svc:rl:stars"))
        .allow_unwired_annotations()
        .build()
        .await?;
    let store = match &cfg.database_url {
        Some(url) => Store::Postgres(PgProjects::connect(url, &cfg.table).await.map_err(|e| {
            // sqlx says only `PoolTimedOut` for a server that does not answer: say which one.
            format!(
                "cannot use PostgreSQL at {}: {e} (is it running, and does DATABASE_URL name it?)",
                redact(url)
            )
        })?),
        None => Store::Memory(MemoryDocumentStore::new(), Arc::default()),
    };
    let state = AppState {
        forze: forze.clone(),
        projects: forze.documents(store.clone())?,
        store: store.clone(),
        gate: cfg.create_gate.clone(),
    };
    let health = forze.clone();
    let app = Router::new()
        .route("/projects", post(create))
        .route("/projects/{id}", get(read).put(update).delete(remove))
        .route("/projects/{id}/summary", get(get_summary))
        .route("/projects/{id}/stars", post(add_star))
        .route("/projects/{id}/transfer", post(post_transfer))
        .with_state(state)
        .merge(crate::login::routes(&forze)?)
        .layer(
            // Keys are per caller: one client's key never replays another's response.
            IdempotencyLayer::scoped(
                forze.idempotency("http")?,
                KeyBy::Header(axum::http::header::AUTHORIZATION),
            ),
        )
        .layer(RateLimitLayer::new(forze.limiter("http")?, KeyBy::PeerIp)?.ietf_headers(true))
        .route(
            "/health/redis",
            get(move || async move { health_response(&health).await }),
        );
    #[cfg(feature = "metrics")]
    let app = {
        let metrics = prometheus()?;
        app.route("/metrics", get(move || async move { metrics.render() }))
    };
    Ok((app, forze, store))
}

/// The process's Prometheus recorder (installed once; every service built in the process
/// renders the same metrics).
#[cfg(feature = "metrics")]
fn prometheus() -> Result<metrics_exporter_prometheus::PrometheusHandle, String> {
    static HANDLE: std::sync::OnceLock<
        Result<metrics_exporter_prometheus::PrometheusHandle, String>,
    > = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .install_recorder()
                .map_err(|e| format!("cannot install the Prometheus recorder: {e}"))
        })
        .clone()
}

/// Serves `app` on `listener` (with peer addresses, for per-IP rate limits) until `shutdown`
/// completes; then it stops accepting, lets the requests in flight finish, and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Completes on SIGTERM (what orchestrators send) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
