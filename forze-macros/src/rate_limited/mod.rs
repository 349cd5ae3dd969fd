//! `#[rate_limited]`: args → validate → expand.

mod args;
mod expand;
mod validate;

use proc_macro2::TokenStream;

/// The whole macro: on any error, the function is emitted unchanged with every error beside it.
pub fn rate_limited(attr: TokenStream, item: TokenStream) -> TokenStream {
    crate::common::entry::attribute(
        "rate_limited",
        args::FORMS,
        attr,
        item,
        args::LimitArgs::parse,
        |args, func| validate::validate(args, func).map(|plan| expand::expand(&plan, func)),
    )
}
