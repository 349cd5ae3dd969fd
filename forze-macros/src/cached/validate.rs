//! Checks the arguments against the function and turns them into a [`Plan`].

use std::time::Duration;

use darling::util::SpannedValue;
use proc_macro2::Span;
use syn::{ItemFn, Type};

use super::args::CachedArgs;
use crate::common::duration;
use crate::common::sig::{self, FnInfo, Returns};
use crate::common::suggest::did_you_mean;
use crate::common::template::{self, Template};

/// How the key of one call is built.
pub enum KeyPlan {
    /// From a template.
    Template(Template),
    /// The function's path and these parameters (name, type).
    Default(Vec<(syn::Ident, Type)>),
}

/// Everything the expansion needs, checked.
pub struct Plan {
    pub krate: syn::Path,
    pub cache: String,
    pub key: KeyPlan,
    pub ttl: Option<Duration>,
    pub via: Option<syn::Expr>,
    pub returns: Returns,
    pub ret: Type,
    pub tags: Vec<Template>,
    pub lock: Option<String>,
}

/// Parses a template and checks each placeholder against the parameters.
pub fn checked_template(
    lit: &SpannedValue<String>,
    info: &FnInfo,
    what: &str,
) -> darling::Result<Template> {
    let span = lit.span();
    let mut t =
        template::parse(lit, span).map_err(|m| darling::Error::custom(m).with_span(&span))?;
    let mut errors = darling::Error::accumulator();
    for root in t.roots() {
        let known = info.param(root).is_some() || (root == "self" && info.has_receiver);
        if !known {
            let names: Vec<String> = info.names().collect();
            errors.push(
                darling::Error::custom(format!(
                    "`{{{root}}}` in the {what} is not a parameter of `{}` (parameters: {}){}",
                    info.name,
                    info.names_list(),
                    did_you_mean(root, names.iter().map(String::as_str)),
                ))
                .with_span(&span),
            );
        }
    }
    t.types = t
        .roots()
        .filter_map(|r| info.param(r).map(|p| (r.to_owned(), p.ty.clone())))
        .collect();
    errors.finish_with(t)
}

/// Every tag template of `tags = [...]`, checked; errors go to `errors`.
pub fn checked_tags(
    tags: Option<&SpannedValue<Vec<SpannedValue<String>>>>,
    info: &FnInfo,
    errors: &mut darling::error::Accumulator,
) -> Vec<Template> {
    tags.into_iter()
        .flat_map(|list| list.iter())
        .filter_map(|t| errors.handle(checked_template(t, info, "tag template")))
        .collect()
}

fn returns_arg(lit: &SpannedValue<String>) -> darling::Result<Returns> {
    match lit.as_str() {
        "result" => Ok(Returns::Result),
        "option" => Ok(Returns::Option),
        "plain" => Ok(Returns::Plain),
        other => Err(darling::Error::custom(format!(
            "unknown `returns` value {other:?}: expected \"result\", \"option\" or \"plain\"{}",
            did_you_mean(other, ["result", "option", "plain"])
        ))
        .with_span(&lit.span())),
    }
}

pub fn validate(args: CachedArgs, func: &ItemFn) -> darling::Result<Plan> {
    let mut errors = darling::Error::accumulator();
    let info = sig::analyze(func, "cached", &mut errors);
    if let Some(syn::ReceiverKind::Reference(_, _, Some(receiver))) =
        func.sig.receiver().map(|r| &r.kind)
    {
        errors.push(
            darling::Error::custom(
                "cannot cache a `&mut self` method: a hit skips the body, and with it the \
                 mutation; take `&self`, or cache a function the method calls",
            )
            .with_span(receiver),
        );
    }

    if args.cache.trim().is_empty() {
        errors
            .push(darling::Error::custom("the cache name is empty").with_span(&args.cache.span()));
    }
    let ttl = args
        .ttl
        .as_ref()
        .and_then(|t| errors.handle(duration::parse(t, "ttl")));
    let explicit = args
        .returns
        .as_ref()
        .and_then(|r| errors.handle(returns_arg(r)));

    let ret = errors.handle(sig::return_type(func, &info, "cached", explicit));
    let mut returns = ret.as_ref().map_or(Returns::Plain, |(_, r)| *r);
    if args.cache_none.is_present() {
        if returns == Returns::Option {
            returns = Returns::Plain;
        } else {
            errors.push(
                darling::Error::custom(
                    "`cache_none` applies to functions returning `Option<T>` (write \
                     `returns = \"option\"` for an alias of Option)",
                )
                .with_span(&args.cache_none.span()),
            );
        }
    }

    let key = match (&args.key, &args.skip) {
        (Some(key), skip) => {
            if let Some(skip) = skip {
                errors.push(
                    darling::Error::custom(
                        "`skip` only shapes the default key; this attribute has a `key` template, \
                         which already names what goes in",
                    )
                    .with_span(&skip.span()),
                );
            }
            errors
                .handle(checked_template(key, &info, "key template"))
                .map(KeyPlan::Template)
        }
        (None, skip) => {
            let skipped: Vec<String> = match skip {
                Some(skip) => sig::skipped(&info, skip, &mut errors)
                    .into_iter()
                    .map(|(name, _)| name)
                    .collect(),
                None => Vec::new(),
            };
            let mut params = Vec::new();
            for p in &info.params {
                match &p.name {
                    Some(n) if skipped.iter().any(|s| n == s) => {}
                    Some(n) => params.push((n.clone(), p.ty.clone())),
                    None => errors.push(
                        darling::Error::custom(
                            "a destructured parameter cannot be part of the default key; name it \
                             or give a `key` template",
                        )
                        .with_span(&p.span),
                    ),
                }
            }
            Some(KeyPlan::Default(params))
        }
    };

    if let Some(lock) = &args.lock {
        if lock.trim().is_empty() {
            errors.push(
                darling::Error::custom("the lock route name is empty").with_span(&lock.span()),
            );
        }
    }
    let tags = checked_tags(args.tags.as_ref(), &info, &mut errors);

    errors.finish()?;
    let (Some(key), Some((ret, _))) = (key, ret) else {
        return unreachable_plan();
    };
    Ok(Plan {
        krate: crate::common::args::crate_path(args.krate),
        cache: args.cache.as_str().to_owned(),
        key,
        ttl,
        via: args.via,
        returns,
        ret: ret.clone(),
        tags,
        lock: args.lock.map(|l| l.as_str().to_owned()),
    })
}

/// Reached only if a step failed without reporting an error, which would be a bug here.
fn unreachable_plan() -> darling::Result<Plan> {
    Err(
        darling::Error::custom("forze: internal error in #[cached]; please report it")
            .with_span(&Span::call_site()),
    )
}
