use forze_runtime::cached;

#[cached(cache = "users", key = "v")]
async fn load<T: serde::Serialize + serde::de::DeserializeOwned + Default>() -> T {
    T::default()
}

fn main() {}
