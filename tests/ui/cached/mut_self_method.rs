use forze_runtime::cached;

pub struct Counter {
    pub calls: u64,
}

impl Counter {
    #[cached(cache = "users")]
    async fn get(&mut self, id: u64) -> u64 {
        self.calls += 1;
        id
    }
}

fn main() {}
