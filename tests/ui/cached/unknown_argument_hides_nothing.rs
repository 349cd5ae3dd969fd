use forze_runtime::cached;

// The misspelt argument and the template's mistake are both reported.
#[cached(cache = "users", tll = "10m", key = "user:{idd}")]
async fn get_user(id: u64) -> u64 {
    id
}

fn main() {}
