use forze_runtime::document::{DocumentSpec as _, Documents, MemoryDocumentStore};
use forze_runtime::DocumentSpec;

// The misspelt argument is the only error: the uses below still compile.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, DocumentSpec)]
#[document(nmae = "projects")]
pub struct Project {
    #[document(id)]
    pub id: u64,
    #[document(version)]
    pub rev: u64,
}

fn use_it(docs: &Documents<Project, MemoryDocumentStore<Project>>, p: &Project) -> u64 {
    let _ = docs;
    let _ = MemoryDocumentStore::<Project>::new();
    p.version() + *p.id()
}

fn main() {
    let _ = use_it;
}
