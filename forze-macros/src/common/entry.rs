//! What every attribute macro does around its own stages: parse the item as a function, run
//! args → validate → expand, and on errors emit the function unchanged with every error (of the
//! arguments and of the function) beside it.

use proc_macro2::Span;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::args::Forms;

/// Runs one attribute macro named `name`, whose arguments are `forms`.
pub fn attribute<A>(
    name: &str,
    forms: Forms,
    attr: TokenStream,
    item: TokenStream,
    parse: fn(TokenStream) -> (Option<A>, Vec<darling::Error>),
    build: fn(A, &syn::ItemFn) -> darling::Result<TokenStream>,
) -> TokenStream {
    let label = format!("#[{name}]");
    let func: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            let mut out = item;
            out.extend(
                syn::Error::new(
                    e.span(),
                    format!("{label}: expected an async fn with a body: {e}"),
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
            "{label}: written twice on this function; one is enough (the second would run \
             inside the first, on the same key)"
        ))
        .with_span(&again.meta);
        return super::errors::with_item(&func, error);
    }
    if let Some(error) = conflict(name, &func) {
        return super::errors::with_item(&func, error);
    }
    let (attr, stacked) = strip_stacked(attr);
    if !stacked && func.attrs.iter().any(is_forze_macro) {
        return outermost_first(name, attr, &func);
    }
    let (args, mut errors) = parse(attr);
    match args {
        Some(args) => match build(args, &func) {
            Ok(out) if errors.is_empty() => return out,
            Ok(_) => {}
            Err(e) => errors.push(e),
        },
        None => {
            // Still check the function, so that every mistake shows up in one compile.
            let mut more = darling::Error::accumulator();
            super::sig::analyze(&func, name, &mut more);
            errors.extend(more.into_inner());
        }
    }
    super::errors::with_item(
        &func,
        super::errors::voiced(&label, forms, darling::Error::multiple(errors)),
    )
}

/// `{ body }` with the braces of the user's `block`, kept at their place in the source: with
/// them, the function is the user's item to rustc (an unused one gets its `dead_code`
/// warning).
fn user_braces(block: &syn::Block, body: TokenStream) -> proc_macro2::Group {
    let mut braces = proc_macro2::Group::new(proc_macro2::Delimiter::Brace, body);
    braces.set_span(block.brace_token.span.join());
    braces
}

/// The forze macros that cannot go on one function together, and why. Every other pair stacks,
/// the outer one running first: `#[rate_limited]` above `#[cached]` counts hits too, below it
/// only misses; `#[idempotent]` above `#[cache_invalidate]` invalidates on the first run only.
const CONFLICTS: &[(&str, &str, &str)] = &[
    (
        "cached",
        "idempotent",
        "a cached function is a read and an idempotent one a write: cache the read the \
         operation makes, not the operation",
    ),
    (
        "cached",
        "cache_invalidate",
        "a function cannot both be cached and drop cache entries: put the invalidation on \
         the function that writes",
    ),
];

/// The names of the forze attribute macros.
const MACROS: &[&str] = &["cached", "cache_invalidate", "idempotent", "rate_limited"];

/// The marker a stacked forze attribute carries once its place is settled.
const STACKED: &str = "__forze_stacked";

/// Whether `attr` is a forze attribute macro (by its name; a path through another crate than
/// forze is not).
fn is_forze_macro(attr: &syn::Attribute) -> bool {
    let path = attr.path();
    let through_forze = path.segments.len() == 1
        || path
            .segments
            .first()
            .is_some_and(|s| s.ident.to_string().starts_with("forze"));
    through_forze
        && path
            .segments
            .last()
            .is_some_and(|s| MACROS.iter().any(|m| s.ident == m))
}

/// The arguments without the stacking marker, and whether it was there.
fn strip_stacked(attr: TokenStream) -> (TokenStream, bool) {
    let tokens: Vec<proc_macro2::TokenTree> = attr.into_iter().collect();
    match tokens.last() {
        Some(proc_macro2::TokenTree::Ident(i)) if i == STACKED => {
            let mut rest = tokens[..tokens.len() - 1].to_vec();
            if matches!(rest.last(), Some(proc_macro2::TokenTree::Punct(p)) if p.as_char() == ',') {
                rest.pop();
            }
            (rest.into_iter().collect(), true)
        }
        _ => (tokens.into_iter().collect(), false),
    }
}

/// Stacked forze macros run in the order they are written, the first one outermost, as
/// decorators do. Rust expands attributes top-down and each one wraps the body it is given, so
/// the last to expand ends up outermost: the first forze macro to expand writes the forze
/// attributes again in reverse order, each marked as placed, itself last (other attributes
/// keep their order, before them).
fn outermost_first(name: &str, attr: TokenStream, func: &syn::ItemFn) -> TokenStream {
    let (forze, other): (Vec<&syn::Attribute>, Vec<&syn::Attribute>) =
        func.attrs.iter().partition(|a| is_forze_macro(a));
    let marker = syn::Ident::new(STACKED, Span::call_site());
    let marked = |path: &syn::Path, args: TokenStream| {
        if args.is_empty() {
            quote!(#[#path(#marker)])
        } else {
            quote!(#[#path(#args, #marker)])
        }
    };
    let below = forze.iter().rev().map(|a| {
        let args = match &a.meta {
            syn::Meta::List(list) => list.tokens.clone(),
            _ => TokenStream::new(),
        };
        marked(a.path(), args)
    });
    let krate = crate_argument(&attr).unwrap_or_else(|| syn::parse_quote!(::forze_runtime));
    let ident = syn::Ident::new(name, Span::call_site());
    let this = marked(&syn::parse_quote!(#krate::#ident), attr);
    let (inner, outer): (Vec<_>, Vec<_>) = other
        .into_iter()
        .partition(|a| matches!(a.style, syn::AttrStyle::Inner(_)));
    let syn::ItemFn {
        vis, sig, block, ..
    } = func;
    let stmts = &block.stmts;
    let braces = user_braces(block, quote!(#(#inner)* #(#stmts)*));
    quote! {
        #(#outer)*
        #(#below)*
        #this
        #vis #sig #braces
    }
}

/// The path given as `crate = path`, if any (the macros are re-exported at its root).
fn crate_argument(attr: &TokenStream) -> Option<syn::Path> {
    let items = darling::ast::NestedMeta::parse_meta_list(attr.clone()).ok()?;
    items.into_iter().find_map(|item| match item {
        darling::ast::NestedMeta::Meta(syn::Meta::NameValue(nv)) if nv.path.is_ident("crate") => {
            match nv.value {
                syn::Expr::Path(p) => Some(p.path),
                _ => None,
            }
        }
        _ => None,
    })
}

/// The error for another forze macro on `func` (below this one) that cannot stack with `name`.
fn conflict(name: &str, func: &syn::ItemFn) -> Option<darling::Error> {
    func.attrs
        .iter()
        .filter(|a| is_forze_macro(a))
        .find_map(|attr| {
            let other = attr.path().segments.last()?.ident.to_string();
            let (_, _, why) = CONFLICTS
                .iter()
                .find(|(a, b, _)| (*a == name && *b == other) || (*b == name && *a == other))?;
            Some(
                darling::Error::custom(format!("#[{name}]: cannot stack with #[{other}]; {why}"))
                    .with_span(&attr.meta),
            )
        })
}

/// The runtime argument of a generated call: `Some(via(&expr))` or `None` (the ambient one).
///
/// The expression goes in an invisible group, so that a value of the wrong type is one error on
/// the whole expression.
pub fn via_expr(krate: &syn::Path, via: Option<&syn::Expr>) -> TokenStream {
    match via {
        Some(e) => {
            let group = proc_macro2::Group::new(
                proc_macro2::Delimiter::None,
                quote::ToTokens::to_token_stream(e),
            );
            quote_spanned!(e.span()=>
                ::core::option::Option::Some(#krate::__private::via(&#group))
            )
        }
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

    /// The function's original body as an `async move` block whose output is pinned to `ret`
    /// (the fake return edge of tracing-attributes): a wrongly typed `return` in the body is
    /// one error on that `return`, against the declared return type.
    pub fn body(&self, ret: &syn::Type) -> TokenStream {
        let stmts = &self.func.block.stmts;
        let fake = quote::format_ident!("__forze_fake_return", span = Span::mixed_site());
        let edge = quote_spanned! {ret.span()=>
            #[allow(
                unknown_lints,
                unreachable_code,
                clippy::diverging_sub_expression,
                clippy::empty_loop,
                clippy::let_unit_value,
                clippy::needless_return,
                clippy::unreachable
            )]
            if false {
                let #fake: #ret = loop {};
                return #fake;
            }
        };
        quote!(async move { #edge #(#stmts)* })
    }

    /// The function with its attributes, visibility and signature kept, and `body` as its body.
    /// Inner attributes of the original body (`#![allow(..)]`) stay inner attributes of the
    /// new one (hoisted, as tokio and tracing do).
    pub fn with_body(&self, body: TokenStream) -> TokenStream {
        let syn::ItemFn {
            attrs,
            vis,
            sig,
            block,
            ..
        } = self.func;
        let (inner, outer): (Vec<_>, Vec<_>) = attrs
            .iter()
            .partition(|a| matches!(a.style, syn::AttrStyle::Inner(_)));
        // The body's braces keep their place in the user's source: with them, the function is
        // the user's item to rustc, and an unused one gets its `dead_code` warning.
        let braces = user_braces(block, quote!(#(#inner)* #body));
        quote! {
            #(#outer)*
            #vis #sig #braces
        }
    }
}
