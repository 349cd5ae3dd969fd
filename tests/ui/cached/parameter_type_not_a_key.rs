use forze_runtime::cached;

pub struct Filter {
    pub name: String,
}

#[cached(cache = "users")]
async fn search(filter: Filter) -> Vec<String> {
    vec![filter.name]
}

fn main() {}
