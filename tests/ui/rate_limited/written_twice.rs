use forze_runtime::{rate_limited, RateLimited};

#[derive(Debug)]
pub struct AppError;

impl From<RateLimited> for AppError {
    fn from(_: RateLimited) -> Self {
        AppError
    }
}

#[rate_limited(limiter = "api", key = "u:{user}", limit = 10, per = "1m")]
#[rate_limited(limiter = "api", key = "u:{user}", limit = 10, per = "1m")]
async fn search(user: u64) -> Result<u64, AppError> {
    Ok(user)
}

fn main() {}
