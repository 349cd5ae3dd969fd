//! Argument helpers shared by the macros: unknown names with suggestions, string literals.

use darling::ast::NestedMeta;
use darling::util::SpannedValue;

use super::suggest::did_you_mean;

/// Removes the arguments whose names are not in `known`, returning one error for each (with a
/// suggestion), so that every unknown argument is reported once, on its name.
pub fn split_unknown(
    items: Vec<NestedMeta>,
    known: &[&str],
    macro_name: &str,
) -> (Vec<NestedMeta>, Vec<darling::Error>) {
    let mut kept = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for item in items {
        let path = match &item {
            NestedMeta::Meta(m) => m.path(),
            NestedMeta::NameValueInvalidExpr(m) => &m.path,
            NestedMeta::Lit(_) => {
                kept.push(item);
                continue;
            }
        };
        let name = path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_else(|| quote::quote!(#path).to_string().replace(' ', ""));
        if known.contains(&name.as_str()) {
            kept.push(item);
        } else {
            let hint = did_you_mean(&name, known.iter().copied());
            let hint = if hint.is_empty() {
                format!("; expected one of: {}", known.join(", "))
            } else {
                hint
            };
            errors.push(
                darling::Error::custom(format!("#[{macro_name}]: no argument `{name}`{hint}"))
                    .with_span(path),
            );
        }
    }
    (kept, errors)
}

/// `name = "literal"`, with an error on anything else that says why a literal is required.
pub fn string_literal(meta: &syn::Meta) -> darling::Result<SpannedValue<String>> {
    let name = meta
        .path()
        .get_ident()
        .map(|i| i.to_string())
        .unwrap_or_default();
    match meta {
        syn::Meta::NameValue(nv) => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Ok(SpannedValue::new(s.value(), s.span())),
            other => Err(darling::Error::custom(format!(
                "`{name}` must be a string literal, like `{name} = \"users\"`: the name is \
                 checked at compile time and registered for the start-up check of the wiring"
            ))
            .with_span(other)),
        },
        other => Err(darling::Error::custom(format!(
            "write `{name} = \"...\"` with a string literal"
        ))
        .with_span(other)),
    }
}

/// A macro's arguments as they are written: `(name, example)`, e.g. `("ttl", "ttl = \"10m\"")`.
/// The names are the arguments the macro knows; the examples show the accepted form in errors.
pub type Forms = &'static [(&'static str, &'static str)];

/// The accepted form of argument `name`.
pub fn form_of(forms: Forms, name: &str) -> Option<&'static str> {
    forms.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// Parses an attribute's arguments: each unknown name is an error on its token (with a
/// suggestion); the known ones go to darling (`parse`). Returns the arguments when the known
/// ones parse, so that they are still validated against the function — every mistake of an
/// attribute comes out in one compile — and all errors so far. When arguments were unknown,
/// darling's "missing field" errors are left out: they are the same mistake seen twice (a
/// misspelt required argument).
pub fn parse_args<T>(
    attr: proc_macro2::TokenStream,
    forms: Forms,
    macro_name: &str,
    parse: impl FnOnce(&[NestedMeta]) -> darling::Result<T>,
) -> (Option<T>, Vec<darling::Error>) {
    let items = match NestedMeta::parse_meta_list(attr) {
        Ok(items) => items,
        Err(e) => return (None, vec![e.into()]),
    };
    let known: Vec<&str> = forms.iter().map(|(n, _)| *n).collect();
    let (items, mut errors) = split_unknown(items, &known, macro_name);
    let misspelt = !errors.is_empty();
    match parse(&items) {
        Ok(args) => (Some(args), errors),
        Err(e) => {
            errors.extend(
                e.into_iter()
                    .filter(|e| !(misspelt && e.to_string().starts_with("Missing field"))),
            );
            (None, errors)
        }
    }
}

/// The runtime crate's path: `crate = path` when given, else `::forze_runtime`.
pub fn crate_path(krate: Option<syn::Path>) -> syn::Path {
    krate.unwrap_or_else(|| syn::parse_quote!(::forze_runtime))
}
