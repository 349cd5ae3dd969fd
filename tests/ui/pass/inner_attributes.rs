//! Inner attributes at the start of an annotated body stay the body's (hoisted, as tokio and
//! tracing do), and the function compiles.
use forze_runtime::{cached, idempotent, rate_limited, IdempotencyError, RateLimited};

#[cached(cache = "users", key = "user:{id}")]
async fn get_user(id: u64) -> Result<String, String> {
    #![allow(unused_variables)]
    let unused = 1;
    Ok(id.to_string())
}

#[idempotent(store = "default", key = key)]
async fn pay(key: String, amount: u64) -> Result<u64, IdempotencyError> {
    #![allow(unused_variables)]
    let unused = &key;
    Ok(amount)
}

#[rate_limited(limiter = "api", key = "u:{user}", limit = 1, per = "1m")]
async fn search(user: u64) -> Result<u64, RateLimited> {
    #![allow(unused_mut)]
    let mut found = user;
    Ok(found)
}

fn main() {
    let _ = (get_user, pay, search);
}
