use forze_runtime::cached;

#[cached(cache = "users", key = "user:{id}", skip(db))]
async fn get_user(id: u64, db: &str) -> u64 {
    let _ = db;
    id
}

fn main() {}
