//! `#[cache_invalidate]`: args → validate → expand.

mod args;
mod expand;
mod validate;

use proc_macro2::TokenStream;

/// The whole macro: on any error, the function is emitted unchanged with every error beside it.
pub fn cache_invalidate(attr: TokenStream, item: TokenStream) -> TokenStream {
    let func: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            let mut out = item;
            out.extend(
                syn::Error::new(
                    e.span(),
                    format!("#[cache_invalidate] goes on an async fn with a body: {e}"),
                )
                .to_compile_error(),
            );
            return out;
        }
    };
    let parsed = args::InvalidateArgs::parse(attr);
    match parsed.and_then(|a| validate::validate(a, &func)) {
        Ok(plan) => expand::expand(&plan, &func),
        Err(e) => crate::common::errors::with_item(&func, e),
    }
}
