use forze_runtime::DocumentSpec;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, DocumentSpec)]
#[document(name = "notes")]
pub struct Note<'a> {
    #[document(id)]
    pub id: u64,
    #[document(version)]
    pub rev: u64,
    pub text: &'a str,
}

fn main() {}
