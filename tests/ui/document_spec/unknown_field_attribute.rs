use forze_runtime::DocumentSpec;

#[derive(Clone, serde::Serialize, serde::Deserialize, DocumentSpec)]
#[document(name = "projects")]
struct Project {
    #[document(idd)]
    id: u64,
    #[document(version)]
    rev: u64,
}

fn main() {}
