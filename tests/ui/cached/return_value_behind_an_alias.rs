use forze_runtime::cached;

pub struct User {
    pub id: u64,
}

type Answer = Result<User, String>;

// The alias hides `User`: one error, on the return type.
#[cached(cache = "users", key = "user:{id}")]
async fn get_user(id: u64) -> Answer {
    Ok(User { id })
}

fn main() {}
