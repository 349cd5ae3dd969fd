//! `#[rate_limited]`: args → validate → expand.

mod args;
mod expand;
mod validate;

use proc_macro2::TokenStream;

/// The whole macro: on any error, the function is emitted unchanged with every error beside it.
pub fn rate_limited(attr: TokenStream, item: TokenStream) -> TokenStream {
    let func: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            let mut out = item;
            out.extend(
                syn::Error::new(
                    e.span(),
                    format!("#[rate_limited] goes on an async fn with a body: {e}"),
                )
                .to_compile_error(),
            );
            return out;
        }
    };
    match args::LimitArgs::parse(attr) {
        Ok(a) => match validate::validate(a, &func) {
            Ok(plan) => expand::expand(&plan, &func),
            Err(e) => crate::common::errors::with_item(&func, e),
        },
        Err(e) => {
            let mut errors = darling::Error::accumulator();
            crate::common::sig::analyze(&func, "rate_limited", &mut errors);
            let mut all = vec![e];
            if let Err(more) = errors.finish() {
                all.push(more);
            }
            crate::common::errors::with_item(&func, darling::Error::multiple(all))
        }
    }
}
