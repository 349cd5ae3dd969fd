use forze_runtime::cached;

pub struct State {
    pub name: String,
}

impl State {
    #[cached(cache = "users", via = self.name)]
    async fn get(&self, id: u64) -> u64 {
        id
    }
}

fn main() {}
