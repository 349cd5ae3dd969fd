//! The arguments of `#[cache_invalidate(...)]`, as written.

use darling::ast::NestedMeta;
use darling::util::SpannedValue;
use darling::FromMeta;
use proc_macro2::TokenStream;

/// `#[cache_invalidate(cache = "users", key = "user:{id}", tags = ["team:{team}"], via = expr,
/// crate = path)]`
#[derive(Debug, FromMeta)]
pub struct InvalidateArgs {
    /// The wired cache's name.
    #[darling(with = crate::common::args::string_literal)]
    pub cache: SpannedValue<String>,
    /// The key template of the entry to drop.
    #[darling(default)]
    pub key: Option<SpannedValue<String>>,
    /// Tag templates whose entries to drop.
    #[darling(default, with = crate::cached::parse_str_list)]
    pub tags: Option<SpannedValue<Vec<SpannedValue<String>>>>,
    /// Where the runtime comes from.
    #[darling(default)]
    pub via: Option<syn::Expr>,
    /// The path of the runtime crate, when it is renamed.
    #[darling(default, rename = "crate")]
    pub krate: Option<syn::Path>,
}

impl InvalidateArgs {
    pub fn parse(attr: TokenStream) -> darling::Result<Self> {
        let items = NestedMeta::parse_meta_list(attr)?;
        let (items, errors) = crate::common::args::split_unknown(
            items,
            &["cache", "key", "tags", "via", "crate"],
            "cache_invalidate",
        );
        crate::common::args::parse_known(&items, errors, Self::from_list)
    }
}
