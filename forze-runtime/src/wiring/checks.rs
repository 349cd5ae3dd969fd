//! What `ForzeBuilder::build` checks before it connects: every problem of the wiring at once,
//! and the routes that annotations name but nobody wired.

use std::collections::BTreeSet;

use super::{BackendConfig, ForzeBuilder};
use crate::error::RouteKind;
use crate::keys::{namespaces_overlap, validate_namespace};

impl ForzeBuilder {
    pub(super) fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for (kind, name, ns) in self.routes() {
            if name.trim().is_empty() {
                out.push(format!("a {kind} has an empty name"));
            }
            if !seen.insert((kind, name)) {
                out.push(format!("{kind} {name:?} is wired twice"));
            }
            if let Err(e) = validate_namespace(ns) {
                out.push(format!("{kind} {name:?}: {e}"));
            }
        }
        out.extend(self.overlapping_namespaces());
        for (name, r) in &self.caches {
            if r.ttl.is_zero() {
                out.push(format!("cache {name:?}: ttl must be above zero"));
            }
            if let Some(near) = r.near {
                if near.max_bytes == 0 || near.max_ttl.is_zero() {
                    out.push(format!(
                        "cache {name:?}: the near cache's max_bytes and max_ttl must be above zero"
                    ));
                }
            }
            if r.max_value_bytes == 0 {
                out.push(format!(
                    "cache {name:?}: max_value_bytes must be above zero"
                ));
            }
            if let Some(c) = r.compress {
                if !cfg!(feature = "compression") {
                    out.push(format!(
                        "cache {name:?}: compression needs forze-runtime's feature `compression`"
                    ));
                } else if !(1..=22).contains(&c.level) {
                    out.push(format!(
                        "cache {name:?}: the zstd level must be 1 to 22, not {}",
                        c.level
                    ));
                }
            }
        }
        for (name, r) in &self.idempotency {
            if r.ttl.is_zero() || r.lease.is_zero() {
                out.push(format!(
                    "idempotency store {name:?}: ttl and lease must be above zero"
                ));
            }
        }
        for (name, r) in &self.limiters {
            if let Some(p) = r.quota.as_ref().and_then(|q| q.problem()) {
                out.push(format!("limiter {name:?}: {p}"));
            }
        }
        for (name, r) in &self.locks {
            if r.lease.is_zero() {
                out.push(format!("lock route {name:?}: lease must be above zero"));
            }
        }
        if let BackendConfig::Redis(cfg) = &self.backend {
            out.extend(cfg.problems());
        }
        if let BackendConfig::Memory(cfg) = &self.backend {
            if cfg.max_entries == 0 || cfg.cache_max_bytes == 0 {
                out.push(
                    "memory backend: max_entries and cache_max_bytes must be above zero".into(),
                );
            }
        }
        out
    }

    /// Every wired route: its kind, name and namespace, kind by kind.
    fn routes(&self) -> Vec<(RouteKind, &str, &str)> {
        fn of<R>(
            kind: RouteKind,
            routes: &[(String, R)],
            ns: fn(&R) -> &str,
        ) -> impl Iterator<Item = (RouteKind, &str, &str)> {
            routes.iter().map(move |(n, r)| (kind, n.as_str(), ns(r)))
        }
        of(RouteKind::Cache, &self.caches, |r| &r.namespace)
            .chain(of(RouteKind::Counter, &self.counters, |r| &r.namespace))
            .chain(of(RouteKind::Idempotency, &self.idempotency, |r| {
                &r.namespace
            }))
            .chain(of(RouteKind::Limiter, &self.limiters, |r| &r.namespace))
            .chain(of(RouteKind::Lock, &self.locks, |r| &r.namespace))
            .collect()
    }

    /// Every pair of routes (of any kind) whose namespaces are equal or nest: they would share
    /// keys, or a prefix that selects keys (tracking, ACL patterns).
    fn overlapping_namespaces(&self) -> Vec<String> {
        let all = self.routes();
        let mut out = Vec::new();
        for (i, (ka, na, sa)) in all.iter().enumerate() {
            for (kb, nb, sb) in &all[i + 1..] {
                if (ka, na) != (kb, nb) && namespaces_overlap(sa, sb) {
                    let how = if sa == sb { "share" } else { "nest" };
                    out.push(format!(
                        "{ka} {na:?} (namespace {sa:?}) and {kb} {nb:?} (namespace {sb:?}) \
                         {how} namespaces; give each route a namespace of its own"
                    ));
                }
            }
        }
        out
    }

    /// Every wired route, by kind and name.
    pub(super) fn wired(&self) -> Vec<(RouteKind, String)> {
        self.routes()
            .into_iter()
            .map(|(kind, name, _)| (kind, name.to_owned()))
            .collect()
    }

    pub(super) fn missing(&self) -> Vec<(RouteKind, String)> {
        self.required
            .iter()
            .filter(|(kind, name)| !match kind {
                RouteKind::Cache => self.caches.iter().any(|(n, _)| n == name),
                RouteKind::Counter => self.counters.iter().any(|(n, _)| n == name),
                RouteKind::Idempotency => self.idempotency.iter().any(|(n, _)| n == name),
                RouteKind::Limiter => self.limiters.iter().any(|(n, _)| n == name),
                RouteKind::Lock => self.locks.iter().any(|(n, _)| n == name),
            })
            .map(|(kind, name)| (*kind, name.clone()))
            .collect()
    }
}
