use std::sync::Arc;

use super::RouteCore;
use crate::error::Error;
use crate::ports::{Decision, Quota, RateLimitPort};
use crate::wiring::LimiterFailure;

/// A handle to a wired rate limiter: state at `{namespace}/ratelimit/{key}`.
///
/// Each check is one atomic round trip and never admits more than the quota, under any
/// concurrency; a denied check consumes nothing. When the backend is unreachable, the route's
/// [`LimiterFailure`] policy decides: allow (logged), deny, or return the error.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), forze_runtime::Error> {
/// use std::time::Duration;
/// use forze_runtime::{ports::{Algorithm, Quota}, Forze, LimiterRoute};
/// let quota = Quota::new(2, Duration::from_secs(60), Algorithm::Gcra);
/// let forze = Forze::builder().limiter("api", LimiterRoute::new("app:rl").quota(quota)).build().await?;
/// let api = forze.limiter("api")?;
/// assert!(api.check("user:1").await?.allowed);
/// assert!(api.check("user:1").await?.allowed);
/// let third = api.check("user:1").await?;
/// assert!(!third.allowed && third.retry_after.is_some());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Limiter {
    pub(crate) core: RouteCore,
    pub(crate) port: Arc<dyn RateLimitPort>,
    pub(crate) quota: Option<Quota>,
    pub(crate) on_unavailable: LimiterFailure,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("name", &self.core.name)
            .field("quota", &self.quota)
            .finish_non_exhaustive()
    }
}

impl Limiter {
    /// The quota from the wiring, if any.
    pub fn quota(&self) -> Option<Quota> {
        self.quota
    }

    /// This handle, scoped to `tenant` (for tenant-aware routes; ignored otherwise).
    pub fn with_tenant(&self, tenant: &str) -> Self {
        Self {
            core: self.core.with_tenant(tenant),
            ..self.clone()
        }
    }

    /// One unit against the wired quota.
    pub async fn check(&self, key: &str) -> Result<Decision, Error> {
        self.check_cost(key, 1).await
    }

    /// `cost` units against the wired quota.
    pub async fn check_cost(&self, key: &str, cost: u64) -> Result<Decision, Error> {
        let quota = self.quota.ok_or_else(|| {
            self.core
                .invalid("no quota in the wiring; pass one with check_quota")
        })?;
        self.check_quota(key, &quota, cost).await
    }

    /// `cost` units against `quota` (e.g. one given by an annotation).
    pub async fn check_quota(
        &self,
        key: &str,
        quota: &Quota,
        cost: u64,
    ) -> Result<Decision, Error> {
        if let Some(problem) = quota.problem() {
            return Err(self.core.invalid(problem));
        }
        if cost == 0 || cost > quota.limit {
            return Err(self.core.invalid(format!(
                "cost {cost} is not in 1..={} (the quota's limit)",
                quota.limit
            )));
        }
        let full = self.core.space()?.rate_limit(key);
        match self.port.check(&full, quota, cost).await {
            Ok(d) => Ok(d),
            Err(e) if e.is_unavailable() => {
                let err = self.core.backend_err(&full, e);
                match self.on_unavailable {
                    LimiterFailure::Allow => {
                        tracing::warn!(limiter = %self.core.name, key = %full, error = %err, "limiter unavailable; allowing (policy Allow)");
                        Ok(Decision {
                            allowed: true,
                            limit: quota.limit,
                            remaining: quota.limit - cost,
                            reset_after: quota.period,
                            retry_after: None,
                            degraded: true,
                        })
                    }
                    LimiterFailure::Deny => {
                        tracing::warn!(limiter = %self.core.name, key = %full, error = %err, "limiter unavailable; denying (policy Deny)");
                        Ok(Decision {
                            allowed: false,
                            limit: quota.limit,
                            remaining: 0,
                            reset_after: quota.period,
                            retry_after: Some(quota.period.min(std::time::Duration::from_secs(1))),
                            degraded: true,
                        })
                    }
                    LimiterFailure::Error => Err(err),
                }
            }
            Err(e) => Err(self.core.backend_err(&full, e)),
        }
    }
}
