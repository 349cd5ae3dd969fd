use forze_runtime::cached;

#[cached(cache = "users", ttl = "ten minutes")]
async fn get_user(id: u64) -> u64 {
    id
}

fn main() {}
