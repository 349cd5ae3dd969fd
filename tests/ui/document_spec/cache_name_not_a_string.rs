use forze_runtime::DocumentSpec;

#[derive(Clone, serde::Serialize, serde::Deserialize, DocumentSpec)]
#[document(name = "projects", cache(name = projects, ttl = "5m"))]
struct Project {
    #[document(id)]
    id: u64,
    #[document(version)]
    rev: u64,
}

fn main() {}
