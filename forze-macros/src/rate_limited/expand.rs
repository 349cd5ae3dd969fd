//! The expansion: the key (and cost) are computed from the arguments, then one runtime call
//! checks the quota and runs the original body only when admitted.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::ItemFn;

use super::validate::Plan;
use crate::cached::template_string;
use crate::common::types::{args_of, nameable};

pub fn expand(plan: &Plan, func: &ItemFn) -> TokenStream {
    let krate = &plan.krate;
    let ann = crate::common::entry::Annotated::new(func);
    let (site, function) = (&ann.site, &ann.function);
    let registration =
        crate::common::entry::registration(krate, "Limiter", &plan.limiter, function);
    let limiter = &plan.limiter;
    let ret = &plan.ret;
    let quota = match plan.quota {
        Some((limit, period, algorithm)) => {
            let period_ms = period.as_millis() as u64;
            let algorithm = syn::Ident::new(algorithm, Span::call_site());
            quote!(::core::option::Option::Some(#krate::__private::Quota::new(
                #limit,
                ::core::time::Duration::from_millis(#period_ms),
                #krate::__private::Algorithm::#algorithm,
            )))
        }
        None => quote!(::core::option::Option::None),
    };
    let key_var = format_ident!("__forze_key", span = Span::mixed_site());
    let cost_var = format_ident!("__forze_cost", span = Span::mixed_site());
    let codec = format_ident!("__forze_codec", span = Span::mixed_site());
    let key = match &plan.key {
        Some(t) => template_string(t, krate),
        None => quote!(::std::string::String::from(#function)),
    };
    let cost = match &plan.cost {
        Some(e) => quote_spanned!(e.span()=> { let c: u64 = #e; c }),
        None => quote!(1u64),
    };
    let via = crate::common::entry::via_expr(krate, plan.via.as_ref());
    // `<R as IsResult>` in a type position puts a "not a Result" error on the return type.
    // A `Result<T, E>` as written names `E`, so that a missing `From<RateLimited>` is reported
    // on it.
    let make_codec = match args_of(ret, "Result").as_deref() {
        Some([t, e]) if nameable(t) && nameable(e) => quote_spanned!(ret.span()=>
            #krate::__private::result_limit_codec::<#t, #e>()
        ),
        _ => quote_spanned!(ret.span()=>
            <#ret as #krate::__private::IsResult>::limit_codec()
        ),
    };
    let body = ann.body(ret);
    ann.with_body(quote! {
        static #site: #krate::__private::LimitSite = #krate::__private::LimitSite::new(
            #limiter,
            #quota,
            #function,
        );
        #registration
        let #key_var: ::std::string::String = #key;
        let #cost_var: u64 = #cost;
        let #codec = #make_codec;
        #krate::__private::rate_limited::<#ret, _>(
            &#site,
            #via,
            #key_var,
            #cost_var,
            #codec,
            #body,
        )
        .await
    })
}
