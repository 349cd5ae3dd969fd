//! The forze macros that stack, in both orders: the outer one runs first.
use forze_runtime::{cache_invalidate, cached, idempotent, rate_limited, IdempotencyError, RateLimited};

#[derive(Debug)]
pub struct AppError;

impl From<IdempotencyError> for AppError {
    fn from(_: IdempotencyError) -> Self {
        AppError
    }
}

impl From<RateLimited> for AppError {
    fn from(_: RateLimited) -> Self {
        AppError
    }
}

#[rate_limited(limiter = "api", limit = 10, per = "1s")]
#[cached(cache = "users", key = "user:{id}")]
pub async fn every_call_counts(id: u64) -> Result<u64, AppError> {
    Ok(id)
}

#[cached(cache = "users", key = "user:{id}")]
#[rate_limited(limiter = "api", limit = 10, per = "1s")]
pub async fn misses_count(id: u64) -> Result<u64, AppError> {
    Ok(id)
}

#[idempotent(store = "default", key = key)]
#[cache_invalidate(cache = "users", key = "user:{id}")]
#[rate_limited(limiter = "api", limit = 10, per = "1s")]
pub async fn write(key: String, id: u64) -> Result<u64, AppError> {
    Ok(id)
}

#[cache_invalidate(cache = "users", key = "user:{id}")]
#[idempotent(store = "default", key = key)]
pub async fn write_again(key: String, id: u64) -> Result<u64, AppError> {
    Ok(id)
}

fn main() {
    let _ = (every_call_counts, misses_count, write, write_again, renamed_crate::both);
}

/// Inner attributes and a renamed crate survive the reordering.
mod renamed_crate {
    use forze_runtime as fz;

    #[fz::rate_limited(limiter = "api", limit = 10, per = "1s", crate = fz)]
    #[fz::cached(cache = "users", key = "user:{id}", crate = fz)]
    pub async fn both(id: u64, unused: u8) -> Result<u64, super::AppError> {
        #![allow(unused_variables)]
        Ok(id)
    }
}
