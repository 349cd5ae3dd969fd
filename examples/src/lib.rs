//! The example projects API: `#[derive(DocumentSpec)]`, `#[cached]`, `#[cache_invalidate]`,
//! `#[idempotent]`-style HTTP idempotency, `#[rate_limited]`, counters, the HTTP layers and the
//! health endpoint, with a PostgreSQL store when `DATABASE_URL` is set and Redis when
//! `REDIS_URL` is set (in memory otherwise), and logins kept in sessions.

pub mod login;
pub mod service;
