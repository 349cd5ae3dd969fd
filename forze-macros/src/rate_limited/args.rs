//! The arguments of `#[rate_limited(...)]`, as written.

use darling::util::{Flag, SpannedValue};
use darling::FromMeta;
use proc_macro2::TokenStream;

use crate::common::args::Forms;

/// The arguments and their accepted forms.
pub const FORMS: Forms = &[
    ("limiter", "limiter = \"api\""),
    ("key", "key = \"user:{user_id}\""),
    ("limit", "limit = 100"),
    ("per", "per = \"1m\""),
    ("algorithm", "algorithm = \"gcra\""),
    ("cost", "cost = items.len() as u64"),
    ("from_wiring", "from_wiring"),
    ("via", "via = state.forze"),
    ("crate", "crate = forze_runtime"),
];

/// `#[rate_limited(limiter = "api", key = "user:{user_id}", limit = 100, per = "1m",
/// algorithm = "gcra", cost = expr, from_wiring, via = expr, crate = path)]`
#[derive(Debug, FromMeta)]
pub struct LimitArgs {
    /// The wired limiter's name.
    #[darling(with = crate::common::args::string_literal)]
    pub limiter: SpannedValue<String>,
    /// The key template; default: one bucket for the whole function.
    #[darling(default)]
    pub key: Option<SpannedValue<String>>,
    /// Units per period (the expression as written: a string is not read as a number).
    #[darling(default, with = as_written)]
    pub limit: Option<syn::Expr>,
    /// The period.
    #[darling(default)]
    pub per: Option<SpannedValue<String>>,
    /// `"fixed_window"` (default), `"sliding_window"` or `"gcra"`.
    #[darling(default)]
    pub algorithm: Option<SpannedValue<String>>,
    /// The cost of one call (an expression of the arguments; default 1).
    #[darling(default)]
    pub cost: Option<syn::Expr>,
    /// Use the quota of the wiring (the default when no `limit` / `per` is given).
    #[darling(default)]
    pub from_wiring: Flag,
    /// Where the runtime comes from.
    #[darling(default)]
    pub via: Option<syn::Expr>,
    /// The path of the runtime crate, when it is renamed.
    #[darling(default, rename = "crate")]
    pub krate: Option<syn::Path>,
}

impl LimitArgs {
    /// The arguments as written, or `None`, and the errors found so far.
    pub fn parse(attr: TokenStream) -> (Option<Self>, Vec<darling::Error>) {
        crate::common::args::parse_args(attr, FORMS, "rate_limited", Self::from_list)
    }
}

/// The value of `name = value` as written (darling would read a string's contents as an
/// expression, so `limit = "100"` would pass as `100`).
fn as_written(meta: &syn::Meta) -> darling::Result<Option<syn::Expr>> {
    match meta {
        syn::Meta::NameValue(nv) => Ok(Some(nv.value.clone())),
        other => Err(darling::Error::custom("write it as `limit = 100`").with_span(other)),
    }
}
