//! Reading types as written: the arguments of `Result<T, E>` / `Option<T>`, and whether a type
//! can be named again in generated code (which then puts a type error on the user's own tokens).

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::{GenericArgument, PathArguments, Type};

/// The type arguments of `ty` when it is a path whose last segment is `name` (`Result<T, E>`,
/// `io::Result<T>`, `Option<T>`).
pub fn args_of<'a>(ty: &'a Type, name: &str) -> Option<Vec<&'a Type>> {
    let Type::Path(p) = ty else { return None };
    if p.qself.is_some() {
        return None;
    }
    let last = p.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    Some(
        args.args
            .iter()
            .filter_map(|a| match a {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
    )
}

/// Whether `ty` can be written as a generic argument inside the function's body: not when it
/// holds `impl Trait` (argument position) or `_`.
pub fn nameable(ty: &Type) -> bool {
    fn clean(tokens: TokenStream) -> bool {
        tokens.into_iter().all(|t| match t {
            TokenTree::Ident(i) => i != "impl" && i != "_",
            TokenTree::Group(g) => clean(g.stream()),
            _ => true,
        })
    }
    clean(ty.to_token_stream())
}

/// `ty` when it can be named (see [`nameable`]).
pub fn named(ty: &Type) -> Option<&Type> {
    nameable(ty).then_some(ty)
}

/// `tokens` with every span set to `span` (for generated code whose type errors belong to one
/// token of the user's). Identifiers take `span`'s hygiene, so only use it on code that names
/// nothing of its own.
pub fn respanned(tokens: TokenStream, span: proc_macro2::Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut t| {
            if let TokenTree::Group(g) = &t {
                let mut group = proc_macro2::Group::new(g.delimiter(), respanned(g.stream(), span));
                group.set_span(span);
                t = TokenTree::Group(group);
            } else {
                t.set_span(span);
            }
            t
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_arguments_and_nameability() {
        let ty: Type = syn::parse_quote!(std::result::Result<Rc<User>, AppError>);
        let args = args_of(&ty, "Result").map(|a| a.len());
        assert_eq!(args, Some(2));
        assert!(args_of(&ty, "Option").is_none());
        let one: Type = syn::parse_quote!(anyhow::Result<User>);
        assert_eq!(args_of(&one, "Result").map(|a| a.len()), Some(1));
        assert!(nameable(&syn::parse_quote!(&'a [Vec<u8>])));
        assert!(!nameable(&syn::parse_quote!(impl AsRef<str>)));
        assert!(!nameable(&syn::parse_quote!(Vec<_>)));
        assert!(!nameable(&syn::parse_quote!(Box<impl Fn()>)));
    }
}
