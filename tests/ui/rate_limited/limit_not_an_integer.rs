use forze_runtime::{rate_limited, RateLimited};

#[derive(Debug)]
pub struct AppError;

impl From<RateLimited> for AppError {
    fn from(_: RateLimited) -> Self {
        AppError
    }
}

#[rate_limited(limiter = "api", limit = "100", per = "1m")]
async fn search(user_id: u64) -> Result<u64, AppError> {
    Ok(user_id)
}

fn main() {}
