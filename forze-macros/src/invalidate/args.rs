//! The arguments of `#[cache_invalidate(...)]`, as written.

use darling::util::SpannedValue;
use darling::FromMeta;
use proc_macro2::TokenStream;

use crate::common::args::Forms;

/// The arguments and their accepted forms.
pub const FORMS: Forms = &[
    ("cache", "cache = \"users\""),
    ("key", "key = \"user:{id}\""),
    ("tags", "tags = [\"team:{team_id}\"]"),
    ("via", "via = state.forze"),
    ("crate", "crate = forze_runtime"),
];

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
    /// The arguments as written, or `None`, and the errors found so far.
    pub fn parse(attr: TokenStream) -> (Option<Self>, Vec<darling::Error>) {
        crate::common::args::parse_args(attr, FORMS, "cache_invalidate", Self::from_list)
    }
}
