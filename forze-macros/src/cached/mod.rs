//! `#[cached]`: args → validate → expand.

mod args;
mod expand;
mod validate;

pub use args::parse_str_list;
pub use expand::{mode_expr, template_string};
pub use validate::{checked_tags, checked_template};

use proc_macro2::TokenStream;

/// The whole macro: on any error, the function is emitted unchanged with every error beside it.
pub fn cached(attr: TokenStream, item: TokenStream) -> TokenStream {
    crate::common::entry::attribute(
        "cached",
        args::FORMS,
        attr,
        item,
        args::CachedArgs::parse,
        |args, func| validate::validate(args, func).map(|plan| expand::expand(&plan, func)),
    )
}

#[cfg(test)]
mod tests;
