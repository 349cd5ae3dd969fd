use forze_runtime::{idempotent, IdempotencyError};

#[derive(Debug)]
pub struct AppError;

impl From<IdempotencyError> for AppError {
    fn from(_: IdempotencyError) -> Self {
        AppError
    }
}

#[idempotent(store = "default", key = idem_key)]
async fn pay(idem_key: String, amount: u64) -> u64 {
    amount
}

fn main() {}
