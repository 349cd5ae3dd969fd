use forze_runtime::cached;

#[cached(cache = "users", ttl = 600)]
async fn get_user(id: u64) -> u64 {
    id
}

fn main() {}
