use forze_runtime::idempotent;

#[derive(Debug)]
pub struct AppError;

#[idempotent(store = "default", key = idem_key)]
async fn pay(idem_key: String, amount: u64) -> Result<u64, AppError> {
    Ok(amount)
}

fn main() {}
