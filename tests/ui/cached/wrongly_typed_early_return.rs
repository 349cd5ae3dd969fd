use forze_runtime::cached;

#[cached(cache = "users")]
async fn get_user(id: u64) -> Result<u64, String> {
    if id == 0 {
        return Err(0);
    }
    Ok(id)
}

fn main() {}
