//! Checks the arguments against the function.

use std::time::Duration;

use syn::{ItemFn, Type};

use super::args::LimitArgs;
use crate::cached::checked_template;
use crate::common::duration;
use crate::common::sig;
use crate::common::suggest::did_you_mean;
use crate::common::template::Template;
use crate::idempotent::result_type;

pub struct Plan {
    pub krate: syn::Path,
    pub limiter: String,
    pub key: Option<Template>,
    /// (limit, period, the runtime's `Algorithm` variant); `None`: the wiring's quota.
    pub quota: Option<(u64, Duration, &'static str)>,
    pub cost: Option<syn::Expr>,
    pub via: Option<syn::Expr>,
    pub ret: Type,
}

fn limit_value(expr: &syn::Expr) -> darling::Result<u64> {
    let bad = || {
        darling::Error::custom("`limit` must be a positive integer literal, like `limit = 100`")
            .with_span(expr)
    };
    match expr {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        }) => match i.base10_parse::<u64>() {
            Ok(0) => Err(darling::Error::custom("`limit` must be at least 1").with_span(expr)),
            Ok(n) if n > (1 << 40) => {
                Err(darling::Error::custom("`limit` must be at most 2^40").with_span(expr))
            }
            Ok(n) => Ok(n),
            Err(_) => Err(bad()),
        },
        syn::Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => {
            Err(darling::Error::custom("`limit` cannot be negative").with_span(expr))
        }
        _ => Err(bad()),
    }
}

fn algorithm_code(lit: &darling::util::SpannedValue<String>) -> darling::Result<&'static str> {
    const NAMES: [&str; 3] = ["fixed_window", "sliding_window", "gcra"];
    match lit.as_str() {
        "fixed_window" => Ok("FixedWindow"),
        "sliding_window" => Ok("SlidingWindow"),
        "gcra" => Ok("Gcra"),
        other => Err(darling::Error::custom(format!(
            "unknown algorithm {other:?}: expected \"fixed_window\", \"sliding_window\" or \"gcra\"{}",
            did_you_mean(other, NAMES)
        ))
        .with_span(&lit.span())),
    }
}

pub fn validate(args: LimitArgs, func: &ItemFn) -> darling::Result<Plan> {
    let mut errors = darling::Error::accumulator();
    let info = sig::analyze(func, "rate_limited", &mut errors);
    if args.limiter.trim().is_empty() {
        errors.push(
            darling::Error::custom("the limiter name is empty").with_span(&args.limiter.span()),
        );
    }
    let ret = errors.handle(result_type(func, "rate_limited"));
    let key = args
        .key
        .as_ref()
        .and_then(|k| errors.handle(checked_template(k, &info, "key template")));
    let limit = args
        .limit
        .as_ref()
        .and_then(|l| errors.handle(limit_value(l)));
    let per = args
        .per
        .as_ref()
        .and_then(|p| errors.handle(duration::parse(p, "per")));
    let algorithm = args
        .algorithm
        .as_ref()
        .and_then(|a| errors.handle(algorithm_code(a)));
    if args.from_wiring.is_present() {
        if args.limit.is_some() || args.per.is_some() || args.algorithm.is_some() {
            errors.push(
                darling::Error::custom(
                    "`from_wiring` takes the quota from the wiring; drop it or drop `limit`, \
                     `per` and `algorithm`, not both",
                )
                .with_span(&args.from_wiring.span()),
            );
        }
    } else {
        match (&args.limit, &args.per) {
            (Some(l), None) => errors.push(
                darling::Error::custom("`limit` needs `per`, like `limit = 100, per = \"1m\"`")
                    .with_span(l),
            ),
            (None, Some(p)) => errors.push(
                darling::Error::custom("`per` needs `limit`, like `limit = 100, per = \"1m\"`")
                    .with_span(&p.span()),
            ),
            (None, None) => {
                if let Some(a) = &args.algorithm {
                    errors.push(
                        darling::Error::custom(
                            "`algorithm` goes with `limit` and `per`; without them the wiring's \
                             quota (and its algorithm) applies",
                        )
                        .with_span(&a.span()),
                    );
                }
            }
            (Some(_), Some(_)) => {}
        }
    }
    errors.finish()?;
    let Some(ret) = ret else {
        return Err(darling::Error::custom(
            "forze: internal error in #[rate_limited]",
        ));
    };
    let quota = match (limit, per) {
        (Some(l), Some(p)) => Some((l, p, algorithm.unwrap_or("FixedWindow"))),
        _ => None,
    };
    Ok(Plan {
        krate: crate::common::args::crate_path(args.krate),
        limiter: args.limiter.as_str().to_owned(),
        key,
        quota,
        cost: args.cost,
        via: args.via,
        ret,
    })
}
