use forze_runtime::{idempotent, IdempotencyError};

#[derive(Debug)]
pub struct AppError;

impl From<IdempotencyError> for AppError {
    fn from(_: IdempotencyError) -> Self {
        AppError
    }
}

pub struct Token(pub Vec<u8>);

#[idempotent(store = "default", key = token)]
async fn pay(token: Token, amount: u64) -> Result<u64, AppError> {
    Ok(amount)
}

fn main() {}
