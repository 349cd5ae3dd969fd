//! Glue of `#[rate_limited]`: the site's facts, the refusal's conversion into the function's
//! error, and the call into [`crate::Limiter::admit`].

use std::future::Future;
use std::sync::atomic::AtomicBool;

use super::bounds::TakesLimit;
use super::{warn_once, with_runtime};
use crate::error::Error;
use crate::ports::Quota;
use crate::{Forze, RateLimited};

/// A return type that is a `Result` (aliases included).
#[diagnostic::on_unimplemented(
    message = "#[rate_limited]: `{Self}` is not a `Result`",
    label = "#[rate_limited] needs a function returning `Result<T, E>`"
)]
pub trait IsResult {
    /// `T`.
    type Ok;
    /// `E`.
    type Err;
    /// From a `Result`.
    fn from_result(r: Result<Self::Ok, Self::Err>) -> Self;

    /// See [`limit_codec`] (generated code calls it as `<R as IsResult>::limit_codec()`, which
    /// reports a non-`Result` return type once, on that type).
    fn limit_codec() -> LimitCodec<Self>
    where
        Self: Sized,
        Self::Err: TakesLimit,
    {
        limit_codec::<Self>()
    }
}

impl<T, E> IsResult for Result<T, E> {
    type Ok = T;
    type Err = E;
    fn from_result(r: Result<T, E>) -> Self {
        r
    }
}

/// One `#[rate_limited]` annotation's static facts.
#[derive(Debug)]
pub struct LimitSite {
    /// The limiter's name.
    pub limiter: &'static str,
    /// The quota from the annotation (`None`: the wiring's).
    pub quota: Option<Quota>,
    /// `module::path::function`.
    pub function: &'static str,
    warned: AtomicBool,
}

impl LimitSite {
    /// The facts of one annotation.
    pub const fn new(limiter: &'static str, quota: Option<Quota>, function: &'static str) -> Self {
        Self {
            limiter,
            quota,
            function,
            warned: AtomicBool::new(false),
        }
    }
}

/// How a refusal becomes the function's error, types erased.
pub struct LimitCodec<R> {
    refuse: fn(RateLimited) -> R,
}

/// The [`LimitCodec`] of a `Result<T, E>` written as such: generated code names `E` as the user
/// wrote it, so that an error type without `From<RateLimited>` is one error on it.
pub fn result_limit_codec<T, E: TakesLimit>() -> LimitCodec<Result<T, E>> {
    limit_codec::<Result<T, E>>()
}

/// The [`LimitCodec`] of `R`.
pub fn limit_codec<R>() -> LimitCodec<R>
where
    R: IsResult,
    R::Err: From<RateLimited>,
{
    LimitCodec {
        refuse: |r| R::from_result(Err(R::Err::from(r))),
    }
}

/// The body of every `#[rate_limited]` function: [`crate::Limiter::admit`] (one check, one
/// round trip), then the body if admitted, else the refusal as the function's error. No
/// runtime, or an unknown limiter, refuses the call too (fail closed, with the reason in
/// [`RateLimited::reason`] and a `warn` once per function): a limit never silently vanishes.
pub async fn rate_limited<R, F>(
    site: &'static LimitSite,
    via: Option<Forze>,
    key: String,
    cost: u64,
    codec: LimitCodec<R>,
    body: F,
) -> R
where
    F: Future<Output = R>,
{
    let limit = site.quota.map_or(0, |q| q.limit);
    let limiter = match with_runtime(via.as_ref(), |rt| rt.limiter(site.limiter)) {
        Some(Ok(l)) => l,
        found => {
            let why = match found {
                Some(Err(e)) => e,
                _ => Error::NoRuntime {
                    function: site.function.to_owned(),
                },
            };
            warn_once(
                &site.warned,
                site.function,
                &format_args!("{why}; refusing the call"),
            );
            return (codec.refuse)(RateLimited::unchecked(limit, false, why.to_string()));
        }
    };
    match limiter.admit(&key, site.quota.as_ref(), cost).await {
        Ok(_) => body.await,
        Err(refused) => (codec.refuse)(refused),
    }
}
