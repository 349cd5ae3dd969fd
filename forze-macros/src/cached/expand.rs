//! The expansion: the function keeps its signature, attributes and docs; its body becomes one
//! call into the runtime with the key, the mode and the original body as an `async move` block.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::ItemFn;

use super::validate::{KeyPlan, Plan};
use crate::common::sig::Returns;
use crate::common::template::{Piece, Template};

/// Statements that push a template's pieces into the writer `w`.
pub fn template_pushes(t: &Template, w: &syn::Ident, krate: &syn::Path) -> TokenStream {
    let mut out = TokenStream::new();
    let last_field = t
        .pieces
        .iter()
        .rposition(|p| matches!(p, Piece::Field { .. }));
    for (i, piece) in t.pieces.iter().enumerate() {
        // A value that another placeholder follows is written so it cannot run into the
        // separator after it; the last one as it is.
        let push = if Some(i) == last_field {
            quote!(key_part)
        } else {
            quote!(key_inner)
        };
        match piece {
            Piece::Lit(l) => out.extend(quote!(#w.push_lit(#l);)),
            Piece::Field { root, path } => {
                // A parameter used whole is pushed as its declared type: a type without a key
                // form is reported on the parameter's type.
                let turbofish = t.type_of(root, path).map(|ty| quote!(::<#ty>));
                let root = if root == "self" {
                    quote!(self)
                } else {
                    let i = syn::Ident::new(root, t.span);
                    quote!(#i)
                };
                let path = path.iter().map(|f| syn::Ident::new(f, t.span));
                let call = quote_spanned!(t.span=> #krate::__private::#push);
                out.extend(quote_spanned!(t.span=>
                    #call #turbofish(&mut #w, &(#root #(.#path)*));
                ));
            }
        }
    }
    out
}

/// An expression of type `String` for one template.
pub fn template_string(t: &Template, krate: &syn::Path) -> TokenStream {
    let w = format_ident!("__forze_w", span = Span::mixed_site());
    let pushes = template_pushes(t, &w, krate);
    quote!({
        let mut #w = #krate::__private::key_writer();
        #pushes
        #w.finish()
    })
}

/// The mode expression for a return type.
pub fn mode_expr(returns: Returns, ret: &syn::Type, krate: &syn::Path) -> TokenStream {
    match returns {
        Returns::Result => quote!(#krate::__private::ResultMode),
        Returns::Option => quote!(#krate::__private::OptionMode),
        Returns::Plain => quote!(#krate::__private::PlainMode),
        Returns::Inferred => quote!({
            #[allow(unused_imports)]
            use #krate::__private::{ProbeOption as _, ProbePlain as _, ProbeResult as _};
            (&&&#krate::__private::Probe::<#ret>::new()).forze_mode()
        }),
    }
}

/// The stored part of return type `ret` as written, when the syntax shows it and it can be named.
fn stored_type(returns: Returns, ret: &syn::Type) -> Option<&syn::Type> {
    use crate::common::types::{args_of, named};
    let stored = match returns {
        Returns::Result => args_of(ret, "Result").and_then(|a| a.first().copied()),
        Returns::Option => args_of(ret, "Option").and_then(|a| a.first().copied()),
        Returns::Plain => Some(ret),
        Returns::Inferred => None,
    };
    stored.and_then(named)
}

pub fn expand(plan: &Plan, func: &ItemFn) -> TokenStream {
    let krate = &plan.krate;
    let ann = crate::common::entry::Annotated::new(func);
    let (site, function) = (&ann.site, &ann.function);
    let registration = crate::common::entry::registration(krate, "Cache", &plan.cache, function);
    let cache = &plan.cache;
    let ttl = crate::common::duration::option_tokens(plan.ttl);
    let ret = &plan.ret;
    let key = format_ident!("__forze_key", span = Span::mixed_site());
    let mode = format_ident!("__forze_mode", span = Span::mixed_site());

    let key_expr = match &plan.key {
        KeyPlan::Template(t) => template_string(t, krate),
        KeyPlan::Default(params) => {
            let w = format_ident!("__forze_w", span = Span::mixed_site());
            let pushes = params.iter().enumerate().map(|(i, (name, ty))| {
                let push = if i + 1 == params.len() {
                    quote!(key_part)
                } else {
                    quote!(key_inner)
                };
                let turbofish = crate::common::types::named(ty).map(|ty| quote!(::<#ty>));
                quote_spanned!(ty.span()=>
                    #w.push_lit(":");
                    #krate::__private::#push #turbofish(&mut #w, &#name);
                )
            });
            quote!({
                let mut #w = #krate::__private::key_writer();
                #w.push_lit(#function);
                #(#pushes)*
                #w.finish()
            })
        }
    };
    let tags = plan.tags.iter().map(|t| template_string(t, krate));
    let (with_lock, lock_registration) = match &plan.lock {
        Some(lock) => (
            quote!(.with_lock(#lock)),
            crate::common::entry::registration(krate, "Lock", lock, function),
        ),
        None => (quote!(), quote!()),
    };
    let via = crate::common::entry::via_expr(krate, plan.via.as_ref());
    let mode_value = mode_expr(plan.returns, ret, krate);
    // The runtime call's path carries the return type's span: a return type that cannot be
    // cached is reported there, once.

    // The return type is checked once, where the codec is made, at the return type's span.
    // Where the stored type is visible (`T` of `Result<T, E>`), it is named, so that a type
    // that cannot be cached is reported on it.
    let codec = match stored_type(plan.returns, ret) {
        Some(v) => quote_spanned! {ret.span()=>
            #krate::__private::stored::<#ret, _, #v>(#mode_value)
        },
        // The mode is picked by the type checker: every token of the call is put at the return
        // type, so that a type that cannot be cached is reported there, not on the attribute.
        None => crate::common::types::respanned(
            quote!(#krate::__private::codec::<#ret, _>(#mode_value)),
            ret.span(),
        ),
    };
    let body = ann.body(ret);
    ann.with_body(quote! {
        static #site: #krate::__private::Site = #krate::__private::Site::new(
            #cache,
            #ttl,
            #function,
        )#with_lock;
        #registration
        #lock_registration
        let #key: ::std::string::String = #key_expr;
        let #mode = {
            #[allow(unused_imports)]
            use #krate::__private::{NearClone as _, NearNone as _};
            (&&#krate::__private::near_probe(#codec, #mode_value)).forze_near()
        };
        #krate::__private::cached::<#ret, _>(
            &#site,
            #via,
            #key,
            ::std::vec![#(#tags),*],
            #mode,
            #body,
        )
        .await
    })
}
