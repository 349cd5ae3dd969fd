use forze_runtime::{idempotent, IdempotencyError};

#[derive(Debug)]
pub struct AppError;

impl From<IdempotencyError> for AppError {
    fn from(_: IdempotencyError) -> Self {
        AppError
    }
}

pub struct Card {
    pub number: String,
}

#[idempotent(store = "default", key = idem_key)]
async fn pay(idem_key: String, card: Card) -> Result<String, AppError> {
    Ok(card.number)
}

fn main() {}
