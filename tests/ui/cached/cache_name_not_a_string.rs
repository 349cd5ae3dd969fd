use forze_runtime::cached;

const USERS: &str = "users";

#[cached(cache = USERS, key = "user:{id}")]
async fn get_user(id: u64) -> u64 {
    id
}

fn main() {}
