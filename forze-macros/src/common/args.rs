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
                darling::Error::custom(format!("#[{macro_name}] has no argument `{name}`{hint}"))
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

/// Parses the known arguments with darling after `split_unknown`. When arguments were unknown,
/// darling's "missing field" errors are left out: they are the same mistake seen twice (a
/// misspelt required argument).
pub fn parse_known<T>(
    items: &[NestedMeta],
    unknown: Vec<darling::Error>,
    parse: impl FnOnce(&[NestedMeta]) -> darling::Result<T>,
) -> darling::Result<T> {
    let parsed = parse(items);
    if unknown.is_empty() {
        return parsed;
    }
    let mut errors = unknown;
    if let Err(e) = parsed {
        errors.extend(
            e.into_iter()
                .filter(|e| !e.to_string().starts_with("Missing field")),
        );
    }
    Err(darling::Error::multiple(errors))
}

/// The runtime crate's path: `crate = path` when given, else `::forze_runtime`.
pub fn crate_path(krate: Option<syn::Path>) -> syn::Path {
    krate.unwrap_or_else(|| syn::parse_quote!(::forze_runtime))
}
