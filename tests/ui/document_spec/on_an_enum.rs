use forze_runtime::DocumentSpec;

#[derive(Clone, serde::Serialize, serde::Deserialize, DocumentSpec)]
#[document(name = "states")]
enum State {
    On,
    Off,
}

fn main() {}
