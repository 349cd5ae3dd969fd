use forze_runtime::cached;

#[cached(cache = "users", key = "user:{id}")]
async fn touch(id: u64) {
    let _ = id;
}

fn main() {}
