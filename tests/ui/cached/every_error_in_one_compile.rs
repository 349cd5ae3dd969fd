use forze_runtime::cached;

// Three independent mistakes: all three are reported, and nothing else.
#[cached(cache = "users", key = "user:{idd}", ttl = "soon")]
fn get_user(id: u64) -> u64 {
    id
}

fn main() {
    // The function still exists, so this call adds no error of its own.
    let _ = get_user(1);
}
