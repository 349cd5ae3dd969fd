#![deny(dead_code)]
use forze_runtime::cached;

// An annotated function nobody calls is dead code, as a plain one is.
#[cached(cache = "users")]
async fn get_user(id: u64) -> u64 {
    id
}

fn main() {}
