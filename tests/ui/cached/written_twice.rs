use forze_runtime::cached;

#[cached(cache = "users", key = "user:{id}")]
#[forze_runtime::cached(cache = "users", key = "user:{id}")]
async fn get_user(id: u64) -> Result<String, String> {
    Ok(id.to_string())
}

fn main() {}
