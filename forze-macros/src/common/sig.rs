//! What the macros need to know about the annotated `async fn`.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{FnArg, GenericParam, Ident, ItemFn, Pat, ReturnType, Type};

/// One typed parameter.
#[derive(Debug, Clone)]
pub struct Param {
    /// The name, when the pattern is a plain identifier.
    pub name: Option<Ident>,
    /// The declared type.
    pub ty: Type,
    /// The whole parameter (for error spans).
    pub span: Span,
}

/// The annotated function, analysed.
#[derive(Debug, Clone)]
pub struct FnInfo {
    /// The function's name.
    pub name: Ident,
    /// The typed parameters, in order (without `self`).
    pub params: Vec<Param>,
    /// Whether it takes `self`.
    pub has_receiver: bool,
    /// Names of the fn's own generic type parameters.
    pub type_params: Vec<Ident>,
}

impl FnInfo {
    /// The parameter called `name`.
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params
            .iter()
            .find(|p| p.name.as_ref().is_some_and(|n| n == name))
    }

    /// The names of all named parameters.
    pub fn names(&self) -> impl Iterator<Item = String> + '_ {
        self.params
            .iter()
            .filter_map(|p| p.name.as_ref().map(Ident::to_string))
    }

    /// "a, b, c" or "none".
    pub fn names_list(&self) -> String {
        let names: Vec<String> = self.names().collect();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    }
}

/// Reads the signature; `macro_name` is used in messages. Errors point at the offending token.
pub fn analyze(
    item: &ItemFn,
    macro_name: &str,
    errors: &mut darling::error::Accumulator,
) -> FnInfo {
    if item.sig.asyncness.is_none() {
        errors.push(
            darling::Error::custom(format!(
                "#[{macro_name}]: goes on an `async fn`; make this function async"
            ))
            .with_span(&item.sig.fn_token),
        );
    }
    if let Some(c) = &item.sig.constness {
        errors.push(
            darling::Error::custom(format!("#[{macro_name}]: cannot go on a `const fn`"))
                .with_span(c),
        );
    }
    let mut params = Vec::new();
    let mut has_receiver = false;
    for arg in &item.sig.inputs {
        match arg {
            FnArg::Receiver(_) => has_receiver = true,
            FnArg::Typed(t) => {
                let name = match &*t.pat {
                    Pat::Ident(pi) if pi.subpat.is_none() => Some(pi.ident.clone()),
                    _ => None,
                };
                params.push(Param {
                    name,
                    ty: (*t.ty).clone(),
                    span: t.span(),
                });
            }
        }
    }
    let type_params = item
        .sig
        .generics
        .params
        .iter()
        .filter_map(|g| match g {
            GenericParam::Type(t) => Some(t.ident.clone()),
            _ => None,
        })
        .collect();
    FnInfo {
        name: item.sig.ident.clone(),
        params,
        has_receiver,
        type_params,
    }
}

/// How a return type's values are cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returns {
    /// `Result<T, E>`: `Ok` values only.
    Result,
    /// `Option<T>`: `Some` values only.
    Option,
    /// Any value.
    Plain,
    /// Not visible in the syntax (an alias or a user type): decided by the type checker, which
    /// sees through aliases (`Result` → `Ok` only, `Option` → `Some` only, else any value).
    Inferred,
}

/// The return type, or an error on it when it cannot be cached.
pub fn return_type<'a>(
    item: &'a ItemFn,
    info: &FnInfo,
    macro_name: &str,
    explicit: Option<Returns>,
) -> darling::Result<(&'a Type, Returns)> {
    let ty = match &item.sig.output {
        ReturnType::Default => {
            return Err(darling::Error::custom(format!(
                "#[{macro_name}]: needs a return value to store; this function returns `()`"
            ))
            .with_span(&item.sig.ident))
        }
        ReturnType::Type(_, ty) => &**ty,
    };
    let kind = match ty {
        Type::ImplTrait(_) => {
            return Err(darling::Error::custom(format!(
                "#[{macro_name}]: cannot store an `impl Trait` value: it could not be read back; \
                 return a concrete type"
            ))
            .with_span(ty))
        }
        Type::Tuple(t) if t.elems.is_empty() => {
            return Err(darling::Error::custom(format!(
                "#[{macro_name}]: needs a return value to store; this function returns `()`"
            ))
            .with_span(ty))
        }
        _ if explicit.is_some() => explicit.unwrap_or(Returns::Plain),
        Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last().map(|s| s.ident.to_string());
            match last.as_deref() {
                Some("Result") => Returns::Result,
                Some("Option") => Returns::Option,
                Some(name)
                    if p.path.segments.len() == 1 && info.type_params.iter().any(|t| t == name) =>
                {
                    return Err(darling::Error::custom(format!(
                        "cannot tell how to cache the generic return type `{name}` (a `Result` \
                         must not have its errors cached); add `returns = \"result\"`, \
                         `\"option\"` or `\"plain\"`"
                    ))
                    .with_span(ty))
                }
                _ => Returns::Inferred,
            }
        }
        _ => Returns::Plain,
    };
    Ok((ty, kind))
}

/// Checks `skip(a, b)` against the parameters: each unknown name is an error on its token, with
/// a suggestion. Returns the names and their paths (for further checks by the caller).
pub fn skipped(
    info: &FnInfo,
    skip: &darling::util::PathList,
    errors: &mut darling::error::Accumulator,
) -> Vec<(String, syn::Path)> {
    let names: Vec<String> = info.names().collect();
    skip.iter()
        .map(|path| {
            let name = path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_else(|| quote::quote!(#path).to_string());
            if info.param(&name).is_none() {
                errors.push(
                    darling::Error::custom(format!(
                        "cannot skip `{name}`: `{}` has no such parameter (parameters: {}){}",
                        info.name,
                        info.names_list(),
                        super::suggest::did_you_mean(&name, names.iter().map(String::as_str)),
                    ))
                    .with_span(path),
                );
            }
            (name, path.clone())
        })
        .collect()
}
