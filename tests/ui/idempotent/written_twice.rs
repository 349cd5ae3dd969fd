use forze_runtime::{idempotent, IdempotencyError};

#[derive(Debug)]
pub struct AppError;

impl From<IdempotencyError> for AppError {
    fn from(_: IdempotencyError) -> Self {
        AppError
    }
}

#[idempotent(store = "default", key = idem_key)]
#[idempotent(store = "default", key = idem_key)]
async fn pay(idem_key: String, amount: u64) -> Result<u64, AppError> {
    Ok(amount)
}

fn main() {}
