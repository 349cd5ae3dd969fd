use forze_runtime::cached;

#[cached(cache = "users", key = "user:{user_id}")]
async fn get_user(id: u64) -> u64 {
    id
}

fn main() {}
