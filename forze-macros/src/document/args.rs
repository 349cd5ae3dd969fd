//! The `#[document(...)]` attributes, as written.

use darling::util::{Flag, SpannedValue};
use darling::{FromField, FromMeta};

/// `cache(name = "projects", ttl = "5m")`
#[derive(Debug, FromMeta)]
pub struct CacheArgs {
    /// The wired cache route's name.
    #[darling(with = crate::common::args::string_literal)]
    pub name: SpannedValue<String>,
    /// The bodies' TTL; default: the route's.
    #[darling(default)]
    pub ttl: Option<SpannedValue<String>>,
}

/// Container: `#[document(name = "projects", read = T, create = T, update = T, cache(...),
/// crate = path)]`
#[derive(Debug, FromMeta)]
pub struct ContainerArgs {
    /// The document's name.
    #[darling(with = crate::common::args::string_literal)]
    pub name: SpannedValue<String>,
    /// The read model (`From<Self>`); default: the document.
    #[darling(default)]
    pub read: Option<syn::Type>,
    /// The create command; default: the document.
    #[darling(default)]
    pub create: Option<syn::Type>,
    /// The update command; default: the whole new document.
    #[darling(default)]
    pub update: Option<syn::Type>,
    /// The cache.
    #[darling(default)]
    pub cache: Option<SpannedValue<CacheArgs>>,
    /// The path of the runtime crate, when it is renamed.
    #[darling(default, rename = "crate")]
    pub krate: Option<syn::Path>,
}

/// Field: `#[document(id)]` or `#[document(version)]`.
#[derive(Debug, FromField)]
#[darling(attributes(document))]
pub struct FieldArgs {
    pub ident: Option<syn::Ident>,
    pub ty: syn::Type,
    #[darling(default)]
    pub id: Flag,
    #[darling(default)]
    pub version: Flag,
}
