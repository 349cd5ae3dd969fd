use forze_runtime::cached;

pub struct User {
    pub id: u64,
}

#[cached(cache = "users", key = "user:{id}")]
async fn get_user(id: u64) -> Result<User, String> {
    Ok(User { id })
}

fn main() {}
