//! Leases that follow the work: an idempotency claim or a fill lock is renewed by its owner
//! every third of its lease while the work runs, so work longer than any fixed lease keeps it,
//! and the lease of an owner that died runs out within one lease.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use crate::error::Error;

/// Runs `work`, calling `renew` every `lease / 3` until it ends. A renewal that finds the lease
/// taken over stops renewing (the owner's commit or release reports it); one that fails is
/// retried at the next tick.
pub(crate) async fn renewing<W, R, Fut>(what: &str, lease: Duration, renew: R, work: W) -> W::Output
where
    W: Future,
    R: FnMut() -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let ticks = renew_forever(what, lease / 3, renew);
    tokio::pin!(work);
    tokio::pin!(ticks);
    tokio::select! {
        biased;
        out = &mut work => out,
        never = &mut ticks => match never {},
    }
}

async fn renew_forever<R, Fut>(what: &str, every: Duration, mut renew: R) -> Infallible
where
    R: FnMut() -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let mut lost = false;
    loop {
        if lost {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(every).await;
        match renew().await {
            Ok(()) => {}
            Err(e @ Error::NotOwner { .. }) => {
                tracing::warn!(what, error = %e, "lease lapsed and was taken over while the work ran");
                lost = true;
            }
            Err(e) => tracing::warn!(what, error = %e, "lease not renewed; retrying"),
        }
    }
}
