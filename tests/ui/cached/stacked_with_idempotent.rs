use forze_runtime::{cached, idempotent, IdempotencyError};

#[derive(Debug)]
pub struct AppError;

impl From<IdempotencyError> for AppError {
    fn from(_: IdempotencyError) -> Self {
        AppError
    }
}

#[cached(cache = "users")]
#[idempotent(store = "default", key = key)]
async fn pay(key: String, amount: u64) -> Result<u64, AppError> {
    Ok(amount)
}

fn main() {}
