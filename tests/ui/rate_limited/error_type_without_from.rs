use forze_runtime::rate_limited;

#[derive(Debug)]
pub struct AppError;

#[rate_limited(limiter = "api", limit = 5, per = "1m")]
async fn search(user_id: u64) -> Result<u64, AppError> {
    Ok(user_id)
}

fn main() {}
