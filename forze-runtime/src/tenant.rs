//! The current tenant, for routes wired with `tenant_aware`.
//!
//! A tenant-aware route puts the tenant into every key (`{namespace}/tenant/{tenant}/…`, escaped
//! like every other caller-supplied part), so tenants never see each other's entries. The tenant
//! comes from the handle (`.with_tenant(id)`) or, failing that, from the task-scoped value set by
//! [`scope`]; a tenant-aware route used with neither is an error, never a shared key.

use std::future::Future;
use std::sync::Arc;

tokio::task_local! {
    static TENANT: Arc<str>;
}

/// Runs `fut` with `tenant` as the current tenant.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use forze_runtime::tenant;
/// let seen = tenant::scope("acme", async { tenant::current() }).await;
/// assert_eq!(seen.as_deref(), Some("acme"));
/// assert_eq!(tenant::current(), None);
/// # }
/// ```
pub async fn scope<F: Future>(tenant: impl Into<Arc<str>>, fut: F) -> F::Output {
    TENANT.scope(tenant.into(), fut).await
}

/// The tenant set by the enclosing [`scope`], if any.
pub fn current() -> Option<Arc<str>> {
    TENANT.try_with(Arc::clone).ok()
}
