use std::sync::Arc;

use super::RouteCore;
use crate::error::Error;
use crate::outcomes::RateLimited;
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

    /// Admits a call of `cost` units for `key` against `quota` (the annotation's), or against
    /// the wired quota when `quota` is `None`, or refuses it (the flow of `#[rate_limited]`):
    /// `Ok` with the decision when admitted (also when the backend is down and the policy is
    /// `Allow`), else the [`RateLimited`] refusal — the quota used up, the backend down under
    /// policy `Deny` / `Error`, or the check impossible (no quota, an invalid cost; then
    /// [`RateLimited::reason`] says why). A refused call must not run.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), forze_runtime::Error> {
    /// use std::time::Duration;
    /// use forze_runtime::{ports::{Algorithm, Quota}, Forze, LimiterRoute};
    /// let forze = Forze::builder().limiter("api", LimiterRoute::new("app:rl")).build().await?;
    /// let api = forze.limiter("api")?;
    /// let quota = Quota::new(1, Duration::from_secs(60), Algorithm::FixedWindow);
    /// assert!(api.admit("user:1", Some(&quota), 1).await.is_ok());
    /// let refused = api.admit("user:1", Some(&quota), 1).await.unwrap_err();
    /// assert!(refused.reason.is_none() && refused.retry_after > Duration::ZERO);
    /// assert!(api.admit("user:1", None, 1).await.unwrap_err().reason.is_some()); // no wired quota
    /// # Ok(()) }
    /// ```
    pub async fn admit(
        &self,
        key: &str,
        quota: Option<&Quota>,
        cost: u64,
    ) -> Result<Decision, RateLimited> {
        crate::telemetry::in_flow_span!(
            crate::telemetry::flow_span("limiter", &self.core.name),
            self.admit_in_span(key, quota, cost)
        )
    }

    /// [`Limiter::admit`] within its span (outcome `allowed`, `denied` or `unchecked`).
    async fn admit_in_span(
        &self,
        key: &str,
        quota: Option<&Quota>,
        cost: u64,
    ) -> Result<Decision, RateLimited> {
        use crate::telemetry::outcome;
        let decision = match quota {
            Some(q) => self.check_quota(key, q, cost).await,
            None => self.check_cost(key, cost).await,
        };
        match decision {
            Ok(d) if d.allowed => {
                outcome("allowed");
                Ok(d)
            }
            Ok(d) => {
                outcome("denied");
                Err(RateLimited::from_decision(&d))
            }
            Err(e) => {
                outcome("unchecked");
                tracing::error!(limiter = %self.core.name, key, error = %e, "rate limit not checked; refusing the call");
                let limit = quota.or(self.quota.as_ref()).map_or(0, |q| q.limit);
                Err(RateLimited::unchecked(
                    limit,
                    e.is_unavailable(),
                    e.to_string(),
                ))
            }
        }
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
        let mut full = self.core.space()?.rate_limit(key);
        if quota.algorithm == crate::ports::Algorithm::Gcra {
            full = crate::keys::gcra_key(&full, quota.limit, quota.period.as_millis() as u64);
        }
        match self.port.check(&full, quota, cost).await {
            Ok(d) => {
                crate::telemetry::limiter_decision(&self.core.name, d.allowed);
                Ok(d)
            }
            Err(e) if e.is_unavailable() => {
                let err = self.core.backend_err(key, e);
                match self.on_unavailable {
                    LimiterFailure::Allow => {
                        tracing::warn!(limiter = %self.core.name, key, error = %err, "limiter unavailable; allowing (policy Allow)");
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
                        tracing::warn!(limiter = %self.core.name, key, error = %err, "limiter unavailable; denying (policy Deny)");
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
            Err(e) => Err(self.core.backend_err(key, e)),
        }
    }
}
