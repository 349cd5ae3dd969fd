//! `#[cache_invalidate]`: args → validate → expand.

mod args;
mod expand;
mod validate;

use proc_macro2::TokenStream;

/// The whole macro: on any error, the function is emitted unchanged with every error beside it.
pub fn cache_invalidate(attr: TokenStream, item: TokenStream) -> TokenStream {
    crate::common::entry::attribute(
        "cache_invalidate",
        args::FORMS,
        attr,
        item,
        args::InvalidateArgs::parse,
        |args, func| validate::validate(args, func).map(|plan| expand::expand(&plan, func)),
    )
}
