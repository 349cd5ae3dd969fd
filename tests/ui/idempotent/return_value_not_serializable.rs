use std::rc::Rc;

use forze_runtime::{idempotent, IdempotencyError};

#[derive(Debug)]
pub struct AppError;

impl From<IdempotencyError> for AppError {
    fn from(_: IdempotencyError) -> Self {
        AppError
    }
}

pub struct Receipt;

// The error is on `Rc<Receipt>`, the type that is recorded.
#[idempotent(store = "default", key = key)]
async fn pay(key: String, amount: u64) -> Result<Rc<Receipt>, AppError> {
    let _ = amount;
    Ok(Rc::new(Receipt))
}

fn main() {}
