//! The arguments of `#[rate_limited(...)]`, as written.

use darling::ast::NestedMeta;
use darling::util::{Flag, SpannedValue};
use darling::FromMeta;
use proc_macro2::TokenStream;

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
    /// Units per period.
    #[darling(default)]
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
    pub fn parse(attr: TokenStream) -> darling::Result<Self> {
        let items = NestedMeta::parse_meta_list(attr)?;
        let (items, errors) = crate::common::args::split_unknown(
            items,
            &[
                "limiter",
                "key",
                "limit",
                "per",
                "algorithm",
                "cost",
                "from_wiring",
                "via",
                "crate",
            ],
            "rate_limited",
        );
        crate::common::args::parse_known(&items, errors, Self::from_list)
    }
}
