//! Logins kept in sessions: `tower-sessions` with its sessions on a forze cache route
//! ([`ForzeSessionStore`]), so they live in Redis (or in memory), slide with each request, and
//! a user can be logged out of every device at once.
//!
//! | endpoint | what |
//! |---|---|
//! | `POST /login` | `{"user"}`: a new session for the user (a new id: no fixation); no passwords, this is an example |
//! | `GET /me` | `{"user"}` of the session, `401` without one |
//! | `POST /logout` | ends this session (`204`) |
//! | `POST /logout/everywhere` | ends every session of this session's user: `{"sessions": n}` |

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use forze_runtime::http::problem;
use forze_runtime::sessions::ForzeSessionStore;
use forze_runtime::Forze;
use serde::Deserialize;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

/// The session field that holds the user (also what `log_out_everywhere` matches).
const USER: &str = "user";

/// How long a session lasts without a request.
pub const IDLE: time::Duration = time::Duration::hours(8);

/// The login routes, their sessions on the cache route `sessions` of `forze`.
pub fn routes(forze: &Forze) -> Result<Router, forze_runtime::Error> {
    let store = ForzeSessionStore::new(forze.cache("sessions")?).user_field(USER);
    let sessions = SessionManagerLayer::new(store.clone())
        // The example serves plain HTTP; behind TLS, keep the default (`Secure` cookies).
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(IDLE))
        // Saved on every request, not only when changed: that is what slides the expiry (the
        // entry's TTL in Redis and the cookie's) — one `SET` per request with a session.
        .with_always_save(true);
    Ok(Router::new()
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/logout", post(logout))
        .route("/logout/everywhere", post(logout_everywhere))
        .with_state(store)
        .layer(sessions))
}

#[derive(Deserialize)]
struct Login {
    user: String,
}

fn broken(e: impl std::fmt::Display) -> Response {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "sessions_unavailable",
        &format!("the session store failed: {e}"),
    )
}

fn anonymous() -> Response {
    problem(StatusCode::UNAUTHORIZED, "not_logged_in", "log in first")
}

async fn user_of(session: &Session) -> Result<String, Response> {
    match session.get::<String>(USER).await {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err(anonymous()),
        Err(e) => Err(broken(e)),
    }
}

async fn login(session: Session, Json(body): Json<Login>) -> Response {
    let user = body.user.trim();
    if user.is_empty() {
        return problem(StatusCode::BAD_REQUEST, "invalid_user", "`user` is empty");
    }
    // A new id at login, so an id planted before it is worth nothing after.
    if let Err(e) = session.cycle_id().await {
        return broken(e);
    }
    if let Err(e) = session.insert(USER, user).await {
        return broken(e);
    }
    Json(serde_json::json!({ "user": user })).into_response()
}

async fn me(session: Session) -> Response {
    match user_of(&session).await {
        Ok(user) => Json(serde_json::json!({ "user": user })).into_response(),
        Err(resp) => resp,
    }
}

async fn logout(session: Session) -> Response {
    match session.flush().await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => broken(e),
    }
}

async fn logout_everywhere(State(store): State<ForzeSessionStore>, session: Session) -> Response {
    let user = match user_of(&session).await {
        Ok(user) => user,
        Err(resp) => return resp,
    };
    let n = match store.log_out_everywhere(&user).await {
        Ok(n) => n,
        Err(e) => return broken(e),
    };
    // This request's own session is still loaded: flushed, it is not saved again when the
    // request ends (with `always_save` it would be).
    match session.flush().await {
        Ok(()) => Json(serde_json::json!({ "sessions": n })).into_response(),
        Err(e) => broken(e),
    }
}
