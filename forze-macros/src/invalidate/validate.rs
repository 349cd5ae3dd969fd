//! Checks the arguments against the function.

use syn::{ItemFn, Type};

use super::args::InvalidateArgs;
use crate::cached::{checked_tags, checked_template};
use crate::common::sig::{self, Returns};
use crate::common::template::Template;

pub struct Plan {
    pub krate: syn::Path,
    pub cache: String,
    pub key: Option<Template>,
    pub tags: Vec<Template>,
    pub via: Option<syn::Expr>,
    pub returns: Returns,
    pub ret: Type,
}

pub fn validate(args: InvalidateArgs, func: &ItemFn) -> darling::Result<Plan> {
    let mut errors = darling::Error::accumulator();
    let info = sig::analyze(func, "cache_invalidate", &mut errors);
    if args.cache.trim().is_empty() {
        errors
            .push(darling::Error::custom("the cache name is empty").with_span(&args.cache.span()));
    }
    if args.key.is_none() && args.tags.as_ref().is_none_or(|t| t.is_empty()) {
        errors.push(
            darling::Error::custom(
                "say what to invalidate: `key = \"...\"`, `tags = [\"...\"]` or both",
            )
            .with_span(&args.cache.span()),
        );
    }
    let key = args
        .key
        .as_ref()
        .and_then(|k| errors.handle(checked_template(k, &info, "key template")));
    let tags = checked_tags(args.tags.as_ref(), &info, &mut errors);
    let (ret, returns) = match &func.sig.output {
        syn::ReturnType::Default => (syn::parse_quote!(()), Returns::Plain),
        syn::ReturnType::Type(_, ty) => match &**ty {
            Type::ImplTrait(_) => (syn::parse_quote!(()), Returns::Plain),
            ty => {
                let r = match ty {
                    Type::Path(p) => match p.path.segments.last().map(|s| s.ident.to_string()) {
                        Some(s) if s == "Result" => Returns::Result,
                        _ => Returns::Inferred,
                    },
                    _ => Returns::Plain,
                };
                (ty.clone(), r)
            }
        },
    };
    if let syn::ReturnType::Type(_, ty) = &func.sig.output {
        if let Type::ImplTrait(_) = &**ty {
            errors.push(
                darling::Error::custom(
                    "#[cache_invalidate]: needs a nameable return type to know whether the call \
                     succeeded; return a concrete type",
                )
                .with_span(ty),
            );
        }
    }
    errors.finish()?;
    Ok(Plan {
        krate: crate::common::args::crate_path(args.krate),
        cache: args.cache.as_str().to_owned(),
        key,
        tags,
        via: args.via,
        returns,
        ret,
    })
}
