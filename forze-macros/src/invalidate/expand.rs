//! The expansion: the keys are computed from the arguments before the body runs; the body runs
//! as it was; on success the entries are dropped.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;

use super::validate::Plan;
use crate::cached::{mode_expr, template_string};

pub fn expand(plan: &Plan, func: &ItemFn) -> TokenStream {
    let krate = &plan.krate;
    let ann = crate::common::entry::Annotated::new(func);
    let (site, function) = (&ann.site, &ann.function);
    let registration = crate::common::entry::registration(krate, "Cache", &plan.cache, function);
    let cache = &plan.cache;
    let ret = &plan.ret;
    let keys = plan.key.iter().map(|t| template_string(t, krate));
    let tags = plan.tags.iter().map(|t| template_string(t, krate));
    let via = crate::common::entry::via_expr(krate, plan.via.as_ref());
    let mode = mode_expr(plan.returns, ret, krate);
    let body = ann.body(ret);
    ann.with_body(quote! {
        static #site: #krate::__private::Site = #krate::__private::Site::new(
            #cache,
            ::core::option::Option::None,
            #function,
        );
        #registration
        #krate::__private::invalidate_after::<#ret, _, _>(
            &#site,
            #via,
            ::std::vec![#(#keys),*],
            ::std::vec![#(#tags),*],
            #mode,
            #body,
        )
        .await
    })
}
