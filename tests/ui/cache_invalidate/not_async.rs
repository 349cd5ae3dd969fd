use forze_runtime::cache_invalidate;

#[cache_invalidate(cache = "users", key = "user:{id}")]
fn update_user(id: u64) -> Result<(), String> {
    let _ = id;
    Ok(())
}

fn main() {}
