//! `#[derive(DocumentSpec)]`: args → validate → expand.

mod args;
mod expand;
mod validate;

use proc_macro2::TokenStream;

/// The whole derive. On errors, emits them all and a fallback impl (as thiserror does), so that
/// one mistake gives one message instead of another one at every use of the type.
pub fn derive(input: TokenStream) -> TokenStream {
    let input: syn::DeriveInput = match syn::parse2(input) {
        Ok(i) => i,
        Err(e) => return e.to_compile_error(),
    };
    match validate::validate(&input) {
        Ok(plan) => expand::expand(&plan),
        Err(e) => {
            let mut out =
                crate::common::errors::voiced(validate::LABEL, validate::FORMS, e).write_errors();
            out.extend(expand::fallback(&input));
            out
        }
    }
}
