//! Turning collected errors into output: every error of an attribute comes out in one compile,
//! and the user's item is still emitted unchanged, so one mistake gives one message instead of
//! a cascade of "cannot find function" errors at every call site.

use proc_macro2::TokenStream;
use quote::ToTokens;

/// The user's item followed by the errors.
pub fn with_item(item: &impl ToTokens, err: darling::Error) -> TokenStream {
    let mut out = item.to_token_stream();
    out.extend(err.write_errors());
    out
}
