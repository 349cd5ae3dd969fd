use forze_runtime::cached;

#[cached(cache = "users")]
fn get_user(id: u64) -> u64 {
    id
}

fn main() {
    let _ = get_user(1);
}
