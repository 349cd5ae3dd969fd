//! The expansion: the `DocumentSpec` impl (its key patterns come from the runtime's `keys`), and the
//! registration of the cache name for the start-up check.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::validate::Plan;

pub fn expand(plan: &Plan) -> TokenStream {
    let krate = &plan.krate;
    let ident = &plan.ident;
    let name = &plan.name;
    let (impl_generics, ty_generics, where_clause) = plan.generics.split_for_impl();
    // Generic documents get the supertraits as conditions, so that the impl holds exactly for
    // the instantiations that can be documents.
    let mut where_clause = where_clause.cloned();
    if plan.generics.type_params().next().is_some() {
        let wc = where_clause.get_or_insert_with(|| syn::parse_quote!(where));
        wc.predicates.push(syn::parse_quote!(
            Self: #krate::__private::serde::Serialize
                + #krate::__private::serde::de::DeserializeOwned
                + ::core::clone::Clone
                + ::core::marker::Send
                + ::core::marker::Sync
                + 'static
        ));
    }
    let (id, id_ty) = &plan.id;
    let (ver, ver_ty) = &plan.version;
    let self_ty = quote!(Self);
    let create = plan.create.as_ref().map_or(self_ty.clone(), |t| quote!(#t));
    let update = plan.update.as_ref().map_or(self_ty.clone(), |t| quote!(#t));
    let read = plan.read.as_ref().map_or(self_ty, |t| quote!(#t));
    let (cache, registration) = match &plan.cache {
        Some((cache, ttl)) => {
            let ttl = crate::common::duration::option_tokens(*ttl);
            let site = quote!(::core::concat!(
                ::core::module_path!(),
                "::",
                ::core::stringify!(#ident)
            ));
            let registration = crate::common::entry::registration(krate, "Cache", cache, &site);
            (
                quote!(::core::option::Option::Some(#krate::__private::CacheSpec {
                    name: #cache,
                    ttl: #ttl,
                })),
                quote!(const _: () = { #registration };),
            )
        }
        None => (quote!(::core::option::Option::None), quote!()),
    };
    let id_decl = quote_spanned!(id_ty.span()=> type Id = #id_ty;);
    let to_u64 = quote_spanned!(ver_ty.span()=>
        <#ver_ty as #krate::__private::VersionField>::to_u64(self.#ver)
    );
    let from_u64 = quote_spanned!(ver_ty.span()=>
        <#ver_ty as #krate::__private::VersionField>::from_u64(version)
    );
    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::__private::DocumentSpec for #ident #ty_generics #where_clause {
            #id_decl
            type Create = #create;
            type Update = #update;
            type Read = #read;
            const NAME: &'static str = #name;
            const CACHE: ::core::option::Option<#krate::__private::CacheSpec> = #cache;
            fn id(&self) -> &Self::Id {
                &self.#id
            }
            fn version(&self) -> u64 {
                #to_u64
            }
            fn set_version(&mut self, version: u64) {
                self.#ver = #from_u64;
            }
        }
        #registration
    }
}

/// The impl emitted beside the errors of a failed derive: it satisfies every use of the type,
/// so that the errors stand alone. Its bodies never run (the crate does not compile). A type
/// with lifetime parameters gets none: it can never be a document, and says so once.
pub fn fallback(input: &syn::DeriveInput) -> TokenStream {
    if input.generics.lifetimes().next().is_some() {
        return TokenStream::new();
    }
    let krate: syn::Path = syn::parse_quote!(::forze_runtime);
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    // The id field's type when one field is marked, so that calls with the id still type-check.
    let id_ty = match &input.data {
        syn::Data::Struct(s) => {
            let marked: Vec<&syn::Type> = s
                .fields
                .iter()
                .filter(|f| f.attrs.iter().any(marks_id))
                .map(|f| &f.ty)
                .collect();
            match marked.as_slice() {
                [ty] => quote!(#ty),
                _ => quote!(::std::string::String),
            }
        }
        _ => quote!(::std::string::String),
    };
    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::__private::DocumentSpec for #ident #ty_generics #where_clause {
            type Id = #id_ty;
            type Create = Self;
            type Update = Self;
            type Read = Self;
            const NAME: &'static str = "";
            const CACHE: ::core::option::Option<#krate::__private::CacheSpec> =
                ::core::option::Option::None;
            fn id(&self) -> &Self::Id {
                ::core::unreachable!()
            }
            fn version(&self) -> u64 {
                0
            }
            fn set_version(&mut self, _: u64) {}
        }
    }
}

/// `#[document(id)]`.
fn marks_id(attr: &syn::Attribute) -> bool {
    attr.path().is_ident("document")
        && attr
            .parse_args_with(
                syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated,
            )
            .is_ok_and(|list| list.iter().any(|m| m.path().is_ident("id")))
}
