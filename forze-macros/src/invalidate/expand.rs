//! The expansion: the keys are computed from the arguments before the body runs; the body runs
//! as it was; on success the entries are dropped.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::ItemFn;

use super::validate::Plan;
use crate::cached::{mode_expr, template_string};

pub fn expand(plan: &Plan, func: &ItemFn) -> TokenStream {
    let krate = &plan.krate;
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
        ..
    } = func;
    let fn_name = sig.ident.to_string();
    let registration = crate::common::entry::registration(krate, "cache", &plan.cache, &fn_name);
    let function = crate::common::entry::function_path(&fn_name);
    let cache = &plan.cache;
    let ret = &plan.ret;
    let site = format_ident!("__FORZE_SITE", span = Span::mixed_site());
    let keys = plan.key.iter().map(|t| template_string(t, krate));
    let tags = plan.tags.iter().map(|t| template_string(t, krate));
    let via = crate::common::entry::via_expr(krate, plan.via.as_ref());
    let mode = mode_expr(plan.returns, ret, krate);
    quote! {
        #(#attrs)*
        #vis #sig {
            static #site: #krate::__private::Site = #krate::__private::Site::new(
                #cache,
                0,
                #function,
            );
            #registration
            #krate::__private::invalidate_after::<#ret, _, _>(
                &#site,
                #via,
                ::std::vec![#(#keys),*],
                ::std::vec![#(#tags),*],
                #mode,
                async move #block,
            )
            .await
        }
    }
}
