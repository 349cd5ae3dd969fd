use forze_runtime::cache_invalidate;

#[cache_invalidate(cache = "users", keys = "user:{id}")]
async fn update_user(id: u64) -> Result<(), String> {
    let _ = id;
    Ok(())
}

fn main() {}
