use forze_runtime::DocumentSpec;

#[derive(Clone, serde::Serialize, serde::Deserialize, DocumentSpec)]
#[document(name = "projects")]
struct Project {
    #[document(id)]
    id: u64,
    #[document(id)]
    slug: String,
    #[document(version)]
    rev: u64,
}

fn main() {}
