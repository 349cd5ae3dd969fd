//! The expansion: key and fingerprint are computed from the arguments, then one runtime call
//! runs the claim / replay flow around the original body.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::ItemFn;

use super::validate::Plan;
use crate::common::types::{args_of, nameable, named};

pub fn expand(plan: &Plan, func: &ItemFn) -> TokenStream {
    let krate = &plan.krate;
    let ann = crate::common::entry::Annotated::new(func);
    let (site, function) = (&ann.site, &ann.function);
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
    // Types are named as the user wrote them, so that a requirement they miss is reported on
    // them (the key's type, an argument's type, the `T` and `E` of the result).
    let w = format_ident!("__forze_w", span = Span::mixed_site());
    let key_expr = if plan.key_is_option {
        let inner = args_of(&plan.key_ty, "Option")
            .and_then(|a| a.first().copied())
            .and_then(named)
            .map(|ty| quote!(::<#ty>));
        let k = format_ident!("__forze_k", span = Span::mixed_site());
        quote_spanned! {key_span=>
            ::core::option::Option::map(::core::option::Option::as_ref(&#key), |#k| {
                let mut #w = #krate::__private::KeyWriter::new();
                #krate::__private::key_part #inner(&mut #w, #k);
                #w.finish()
            })
        }
    } else {
        let ty = named(&plan.key_ty).map(|ty| quote!(::<#ty>));
        quote_spanned! {key_span=>
            ::core::option::Option::Some({
                let mut #w = #krate::__private::KeyWriter::new();
                #krate::__private::key_part #ty(&mut #w, &#key);
                #w.finish()
            })
        }
    };
    let fields = plan.fingerprint.iter().map(|(name, ty)| {
        let n = name.to_string();
        let turbofish = named(ty).map(|ty| quote!(::<#ty>));
        quote_spanned!(ty.span()=> #fp.field #turbofish(#n, &#name);)
    });
    let via = crate::common::entry::via_expr(krate, plan.via.as_ref());
    // Made at the return type's span: a return type that cannot be recorded is one error there.
    let make_codec = match args_of(ret, "Result").as_deref() {
        Some([t, e]) if nameable(t) && nameable(e) => quote_spanned!(ret.span()=>
            #krate::__private::recorded_result::<#t, #e>()
        ),
        _ => quote_spanned!(ret.span()=>
            #krate::__private::recorded::<#ret>()
        ),
    };
    let body = ann.body(ret);
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
            #body,
        )
        .await
    })
}
