use forze_runtime::DocumentSpec;

#[derive(Clone, serde::Serialize, serde::Deserialize, DocumentSpec)]
#[document(name = "pairs")]
struct Pair(u64, u64);

fn main() {}
