//! Procedural macros of forze. Use them through `forze-runtime`, which re-exports them; the
//! documentation with examples lives there.
//!
//! Each macro is a thin entry point over a `proc_macro2` function (unit-testable with
//! `quote!`), organised as args (darling) → validate → expand.

mod cached;
mod common;
mod document;
mod idempotent;
mod invalidate;
mod rate_limited;

use proc_macro::TokenStream;

/// `#[cached]`, implemented in `forze-macros` (used as `forze_runtime::cached`).
#[proc_macro_attribute]
pub fn cached(attr: TokenStream, item: TokenStream) -> TokenStream {
    cached::cached(attr.into(), item.into()).into()
}

/// `#[cache_invalidate]`, implemented in `forze-macros` (used as
/// `forze_runtime::cache_invalidate`).
#[proc_macro_attribute]
pub fn cache_invalidate(attr: TokenStream, item: TokenStream) -> TokenStream {
    invalidate::cache_invalidate(attr.into(), item.into()).into()
}

/// `#[idempotent]`, implemented in `forze-macros` (used as `forze_runtime::idempotent`).
#[proc_macro_attribute]
pub fn idempotent(attr: TokenStream, item: TokenStream) -> TokenStream {
    idempotent::idempotent(attr.into(), item.into()).into()
}

/// `#[rate_limited]`, implemented in `forze-macros` (used as `forze_runtime::rate_limited`).
#[proc_macro_attribute]
pub fn rate_limited(attr: TokenStream, item: TokenStream) -> TokenStream {
    rate_limited::rate_limited(attr.into(), item.into()).into()
}

/// `#[derive(DocumentSpec)]`, implemented in `forze-macros` (used as
/// `forze_runtime::DocumentSpec`).
#[proc_macro_derive(DocumentSpec, attributes(document))]
pub fn derive_document_spec(input: TokenStream) -> TokenStream {
    document::derive(input.into()).into()
}
