//! What every attribute macro does around its own stages: parse the item as a function, run
//! args → validate → expand, and on errors emit the function unchanged with every error (of the
//! arguments and of the function) beside it.

use proc_macro2::TokenStream;
use quote::quote;

/// Runs one attribute macro named `name`.
pub fn attribute<A>(
    name: &str,
    attr: TokenStream,
    item: TokenStream,
    parse: fn(TokenStream) -> darling::Result<A>,
    build: fn(A, &syn::ItemFn) -> darling::Result<TokenStream>,
) -> TokenStream {
    let func: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            let mut out = item;
            out.extend(
                syn::Error::new(
                    e.span(),
                    format!("#[{name}] goes on an async fn with a body: {e}"),
                )
                .to_compile_error(),
            );
            return out;
        }
    };
    // The same macro again below this one (the first one sees the others still on the item).
    if let Some(again) = func.attrs.iter().find(|a| {
        a.path()
            .segments
            .last()
            .is_some_and(|seg| seg.ident == name)
    }) {
        let error = darling::Error::custom(format!(
            "#[{name}] is written twice on this function; one is enough (the second would run \
             inside the first, on the same key)"
        ))
        .with_span(&again.meta);
        return super::errors::with_item(&func, error);
    }
    let result = match parse(attr) {
        Ok(args) => build(args, &func),
        Err(e) => {
            // Still check the function, so that every mistake shows up in one compile.
            let mut errors = darling::Error::accumulator();
            super::sig::analyze(&func, name, &mut errors);
            let mut all = vec![e];
            if let Err(more) = errors.finish() {
                all.push(more);
            }
            Err(darling::Error::multiple(all))
        }
    };
    result.unwrap_or_else(|e| super::errors::with_item(&func, e))
}

/// The runtime argument of a generated call: `Some(via(&expr))` or `None` (the ambient one).
pub fn via_expr(krate: &syn::Path, via: Option<&syn::Expr>) -> TokenStream {
    match via {
        Some(e) => quote!(::core::option::Option::Some(#krate::__private::via(&(#e)))),
        None => quote!(::core::option::Option::None),
    }
}

/// `"module::path::function"` as a `&'static str` expression.
fn function_path(fn_name: &str) -> TokenStream {
    quote!(::core::concat!(::core::module_path!(), "::", #fn_name))
}

/// Registers the route `name` of `kind` (a `RouteKind` variant: `Cache`, `Lock`, `Idempotency`,
/// `Limiter`) used at `site` (a `&'static str` expression), for the start-up check of the wiring.
pub fn registration(krate: &syn::Path, kind: &str, name: &str, site: &TokenStream) -> TokenStream {
    let kind = syn::Ident::new(kind, proc_macro2::Span::call_site());
    quote! {
        #krate::__private::inventory::submit! {
            #krate::__private::Registration::new(#krate::__private::RouteKind::#kind, #name, #site)
        }
    }
}

/// The annotated function, as every expansion uses it.
pub struct Annotated<'a> {
    func: &'a syn::ItemFn,
    /// `"module::path::function"` as a `&'static str` expression.
    pub function: TokenStream,
    /// The hygienic name of the generated `static` that holds the annotation's facts.
    pub site: syn::Ident,
}

impl<'a> Annotated<'a> {
    /// The parts of `func`.
    pub fn new(func: &'a syn::ItemFn) -> Self {
        Self {
            func,
            function: function_path(&func.sig.ident.to_string()),
            site: quote::format_ident!("__FORZE_SITE", span = proc_macro2::Span::mixed_site()),
        }
    }

    /// The function's original body.
    pub fn block(&self) -> &syn::Block {
        &self.func.block
    }

    /// The function with its attributes, visibility and signature kept, and `body` as its body.
    /// Inner attributes of the original body (`#![allow(..)]`) stay inner attributes of the
    /// new one (hoisted, as tokio and tracing do).
    pub fn with_body(&self, body: TokenStream) -> TokenStream {
        let syn::ItemFn {
            attrs, vis, sig, ..
        } = self.func;
        let (inner, outer): (Vec<_>, Vec<_>) = attrs
            .iter()
            .partition(|a| matches!(a.style, syn::AttrStyle::Inner(_)));
        quote! {
            #(#outer)*
            #vis #sig {
                #(#inner)*
                #body
            }
        }
    }
}
