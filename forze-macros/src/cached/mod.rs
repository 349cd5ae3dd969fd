//! `#[cached]`: args → validate → expand.

mod args;
mod expand;
mod validate;

pub use args::parse_str_list;
pub use expand::{mode_expr, template_string};
pub use validate::checked_template;

use proc_macro2::TokenStream;

/// The whole macro: on any error, the function is emitted unchanged with every error beside it.
pub fn cached(attr: TokenStream, item: TokenStream) -> TokenStream {
    let func: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            let mut out = item;
            out.extend(
                syn::Error::new(
                    e.span(),
                    format!("#[cached] goes on an async fn with a body: {e}"),
                )
                .to_compile_error(),
            );
            return out;
        }
    };
    let args = match args::CachedArgs::parse(attr) {
        Ok(a) => a,
        Err(e) => {
            // Still check the function, so that every mistake shows up in one compile.
            let mut err = e;
            if let Err(more) = validate::validate_fn_only(&func) {
                err = darling::Error::multiple(vec![err, more]);
            }
            return crate::common::errors::with_item(&func, err);
        }
    };
    match validate::validate(args, &func) {
        Ok(plan) => expand::expand(&plan, &func),
        Err(e) => crate::common::errors::with_item(&func, e),
    }
}

#[cfg(test)]
mod tests;
