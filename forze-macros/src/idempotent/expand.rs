//! The expansion: key and fingerprint are computed from the arguments, then one runtime call
//! runs the claim / replay flow around the original body.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::ItemFn;

use super::validate::Plan;

pub fn expand(plan: &Plan, func: &ItemFn) -> TokenStream {
    let krate = &plan.krate;
    let ann = crate::common::entry::Annotated::new(func);
    let (site, function, block) = (&ann.site, &ann.function, ann.block());
    let registration =
        crate::common::entry::registration(krate, "Idempotency", &plan.store, function);
    let store = &plan.store;
    let ret = &plan.ret;
    let operation = match &plan.operation {
        Some(op) => quote!(#op),
        None => quote!(#function),
    };
    let ttl = crate::common::duration::option_tokens(plan.ttl);
    let wait = crate::common::duration::option_tokens(plan.wait);
    let fp = format_ident!("__forze_fp", span = Span::mixed_site());
    let codec = format_ident!("__forze_codec", span = Span::mixed_site());
    let key_var = format_ident!("__forze_key", span = Span::mixed_site());
    let key = &plan.key;
    let key_span = plan.key_ty.span();
    let key_expr = if plan.key_is_option {
        quote_spanned! {key_span=>
            match &#key {
                ::core::option::Option::Some(k) => ::core::option::Option::Some(
                    #krate::__private::KeyWriter::new().part(k).finish()
                ),
                ::core::option::Option::None => ::core::option::Option::None,
            }
        }
    } else {
        quote_spanned! {key_span=>
            ::core::option::Option::Some(#krate::__private::KeyWriter::new().part(&#key).finish())
        }
    };
    let fields = plan.fingerprint.iter().map(|(name, ty)| {
        let n = name.to_string();
        quote_spanned!(ty.span()=> #fp.field(#n, &#name);)
    });
    let via = crate::common::entry::via_expr(krate, plan.via.as_ref());
    // Made at the return type's span: a return type that cannot be recorded is one error there.
    let make_codec = quote_spanned!(ret.span()=>
        #krate::__private::recorded::<#ret>()
    );
    ann.with_body(quote! {
        static #site: #krate::__private::IdemSite = #krate::__private::IdemSite {
            store: #store,
            operation: #operation,
            ttl: #ttl,
            wait: #wait,
            function: #function,
        };
        #registration
        let #key_var: ::core::option::Option<::std::string::String> = #key_expr;
        let #fp = {
            let mut #fp = #krate::__private::Fingerprint::new();
            #(#fields)*
            #fp.finish()
        };
        let #codec = #make_codec;
        #krate::__private::idempotent::<#ret, _>(
            &#site,
            #via,
            #key_var,
            #fp,
            #codec,
            async move #block,
        )
        .await
    })
}
