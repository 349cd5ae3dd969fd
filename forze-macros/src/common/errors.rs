//! Turning collected errors into output: every error of an attribute comes out in one compile,
//! and the user's item is still emitted unchanged, so one mistake gives one message instead of
//! a cascade of "cannot find function" errors at every call site.

use proc_macro2::TokenStream;
use quote::ToTokens;

/// The user's function followed by the errors. Parameters the macro would have used (an
/// idempotency key, skipped arguments) may be unused in the body: that warning is silenced, so
/// that the errors stand alone.
pub fn with_item(item: &syn::ItemFn, err: darling::Error) -> TokenStream {
    let mut item = item.clone();
    item.attrs
        .push(syn::parse_quote!(#[allow(unused_variables)]));
    let mut out = item.to_token_stream();
    out.extend(err.write_errors());
    out
}
