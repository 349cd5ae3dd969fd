use forze_runtime::{cache_invalidate, cached};

#[cache_invalidate(cache = "users", key = "user:{id}")]
#[cached(cache = "users", key = "user:{id}")]
async fn get_user(id: u64) -> Result<u64, String> {
    Ok(id)
}

fn main() {}
