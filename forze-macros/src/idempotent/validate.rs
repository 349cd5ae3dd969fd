//! Checks the arguments against the function.

use std::time::Duration;

use syn::{ItemFn, Type};

use super::args::IdempotentArgs;
use crate::common::duration;
use crate::common::sig;
use crate::common::suggest::did_you_mean;

pub struct Plan {
    pub krate: syn::Path,
    pub store: String,
    pub operation: Option<String>,
    pub key: syn::Ident,
    pub key_ty: Type,
    pub key_is_option: bool,
    pub fingerprint: Vec<(syn::Ident, Type)>,
    pub ttl: Option<Duration>,
    pub wait: Option<Duration>,
    pub via: Option<syn::Expr>,
    pub ret: Type,
}

pub fn is_option(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}

/// The return type, or an error on the function when there is none.
pub fn result_type(func: &ItemFn, macro_name: &str) -> darling::Result<Type> {
    match &func.sig.output {
        syn::ReturnType::Type(_, ty) => match &**ty {
            Type::ImplTrait(_) => Err(darling::Error::custom(format!(
                "#[{macro_name}]: needs a nameable `Result<T, E>` return type, not `impl Trait`"
            ))
            .with_span(ty)),
            ty => Ok(ty.clone()),
        },
        syn::ReturnType::Default => Err(darling::Error::custom(format!(
            "#[{macro_name}]: needs a function returning `Result<T, E>`; this one returns `()`"
        ))
        .with_span(&func.sig.ident)),
    }
}

pub fn validate(args: IdempotentArgs, func: &ItemFn) -> darling::Result<Plan> {
    let mut errors = darling::Error::accumulator();
    let info = sig::analyze(func, "idempotent", &mut errors);
    if args.store.trim().is_empty() {
        errors
            .push(darling::Error::custom("the store name is empty").with_span(&args.store.span()));
    }
    if let Some(op) = &args.operation {
        if op.trim().is_empty() {
            errors
                .push(darling::Error::custom("the operation name is empty").with_span(&op.span()));
        }
    }
    let ttl = args
        .ttl
        .as_ref()
        .and_then(|t| errors.handle(duration::parse(t, "ttl")));
    let wait = args
        .wait
        .as_ref()
        .and_then(|t| errors.handle(duration::parse(t, "wait")));
    let ret = errors.handle(result_type(func, "idempotent"));

    let names: Vec<String> = info.names().collect();
    let key = match &args.key {
        syn::Expr::Path(p) if p.qself.is_none() && p.path.get_ident().is_some() => {
            let ident = p.path.get_ident().cloned();
            match ident
                .as_ref()
                .and_then(|i| info.param(&i.to_string()).map(|p| (i, p)))
            {
                Some((i, p)) => Some((i.clone(), p.ty.clone())),
                None => {
                    let name = ident.map(|i| i.to_string()).unwrap_or_default();
                    errors.push(
                        darling::Error::custom(format!(
                            "`{name}` is not a parameter of `{}` (parameters: {}){}",
                            info.name,
                            info.names_list(),
                            did_you_mean(&name, names.iter().map(String::as_str)),
                        ))
                        .with_span(&args.key),
                    );
                    None
                }
            }
        }
        other => {
            errors.push(
                darling::Error::custom(
                    "`key` names the parameter that holds the idempotency key, like `key = idem_key`",
                )
                .with_span(other),
            );
            None
        }
    };

    let mut skipped = Vec::new();
    if let Some(skip) = &args.skip {
        for (name, path) in sig::skipped(&info, skip, &mut errors) {
            if key.as_ref().is_some_and(|(k, _)| k == &name) {
                errors.push(
                    darling::Error::custom(format!(
                        "`{name}` is the idempotency key: it is never part of the fingerprint, \
                         and skipping it would say otherwise"
                    ))
                    .with_span(&path),
                );
            }
            skipped.push(name);
        }
    }
    let mut fingerprint = Vec::new();
    for p in &info.params {
        match &p.name {
            Some(n) if skipped.iter().any(|s| n == s) => {}
            Some(n) if key.as_ref().is_some_and(|(k, _)| k == n) => {}
            Some(n) => fingerprint.push((n.clone(), p.ty.clone())),
            None => errors.push(
                darling::Error::custom(
                    "a destructured parameter cannot be fingerprinted; name it or `skip` it",
                )
                .with_span(&p.span),
            ),
        }
    }
    errors.finish()?;
    let (Some((key, key_ty)), Some(ret)) = (key, ret) else {
        return Err(darling::Error::custom(
            "forze: internal error in #[idempotent]",
        ));
    };
    Ok(Plan {
        krate: crate::common::args::crate_path(args.krate),
        store: args.store.as_str().to_owned(),
        operation: args.operation.map(|o| o.as_str().to_owned()),
        key_is_option: is_option(&key_ty),
        key,
        key_ty,
        fingerprint,
        ttl,
        wait,
        via: args.via,
        ret,
    })
}
