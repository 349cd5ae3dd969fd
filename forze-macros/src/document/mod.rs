//! `#[derive(DocumentSpec)]`: args → validate → expand.

mod args;
mod expand;
mod validate;

use proc_macro2::TokenStream;

/// The whole derive. On errors, emits them all (a derive adds items; there is nothing to keep).
pub fn derive(input: TokenStream) -> TokenStream {
    let input: syn::DeriveInput = match syn::parse2(input) {
        Ok(i) => i,
        Err(e) => return e.to_compile_error(),
    };
    match validate::validate(&input) {
        Ok(plan) => expand::expand(&plan),
        Err(e) => e.write_errors(),
    }
}
