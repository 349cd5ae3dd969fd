//! The routes that annotations name, collected at link time, so that start-up can check that
//! each is wired.

use crate::error::RouteKind;

/// A route named by an annotation (`#[cached(cache = "users")]`, ...), submitted by generated
/// code and read by [`crate::ForzeBuilder::build`], which fails listing the ones not wired.
///
/// ```
/// use forze_runtime::{wiring::Registration, RouteKind};
/// let r = Registration::new(RouteKind::Cache, "users", "app::get_user");
/// assert_eq!((r.name, r.site), ("users", "app::get_user"));
/// ```
#[derive(Debug)]
pub struct Registration {
    /// The route's kind.
    pub kind: RouteKind,
    /// The route's name.
    pub name: &'static str,
    /// The annotated function (or type).
    pub site: &'static str,
}

impl Registration {
    /// A route of `kind` named `name`, used by `site`.
    pub const fn new(kind: RouteKind, name: &'static str, site: &'static str) -> Self {
        Self { kind, name, site }
    }
}

inventory::collect!(Registration);

/// Every registration linked into this program.
pub(crate) fn registrations() -> impl Iterator<Item = &'static Registration> {
    inventory::iter::<Registration>.into_iter()
}
