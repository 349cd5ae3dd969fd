//! What must keep compiling: generics, where-clauses, lifetimes, methods, docs and attributes,
//! a renamed runtime crate, user key types, and names that could clash with generated ones.
use forze_runtime as renamed;
use forze_runtime::keys::{KeyPart, KeyWriter};
use renamed::{cache_invalidate, cached, Forze};

pub struct OrgId(pub u32);

impl KeyPart for OrgId {
    fn write_key(&self, out: &mut KeyWriter) {
        out.push_part(&self.0);
    }
}

/// Documented.
#[cached(cache = "users", key = "org:{org}:{name}", crate = renamed)]
#[allow(clippy::needless_lifetimes)]
pub async fn by_name<'a, S>(org: OrgId, name: &'a S) -> Option<String>
where
    S: AsRef<str> + renamed::keys::KeyPart + ?Sized,
{
    Some(name.as_ref().to_owned())
}

/// Generated locals never clash with the user's names.
#[cached(cache = "users")]
async fn clash(__forze_key: u32, __forze_mode: u32, __forze_w: u32) -> u32 {
    __forze_key + __forze_mode + __forze_w
}

pub struct Service {
    forze: std::sync::Arc<Forze>,
}

impl Service {
    #[cached(cache = "users", key = "svc:{id}", via = self.forze)]
    pub async fn get(&self, id: u64) -> Result<u64, std::io::Error> {
        Ok(id)
    }

    #[cache_invalidate(cache = "users", key = "svc:{id}", via = self.forze)]
    pub async fn put(&self, id: u64) -> std::io::Result<()> {
        let _ = id;
        Ok(())
    }

    /// `self` by value, generic return declared explicitly.
    #[cached(cache = "users", key = "own:{id}", via = self.forze, returns = "plain")]
    pub async fn owned<T: serde::Serialize + serde::de::DeserializeOwned + Default>(self, id: u8) -> T {
        let _ = id;
        T::default()
    }
}

fn main() {
    let _ = (by_name::<str>, clash);
}
