//! `#[idempotent]`: args → validate → expand.

mod args;
mod expand;
mod validate;

pub use validate::result_type;

use proc_macro2::TokenStream;

/// The whole macro: on any error, the function is emitted unchanged with every error beside it.
pub fn idempotent(attr: TokenStream, item: TokenStream) -> TokenStream {
    crate::common::entry::attribute(
        "idempotent",
        args::FORMS,
        attr,
        item,
        args::IdempotentArgs::parse,
        |args, func| validate::validate(args, func).map(|plan| expand::expand(&plan, func)),
    )
}
