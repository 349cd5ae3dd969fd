use std::borrow::Cow;
use std::sync::Arc;

use crate::error::{BackendError, Error, RouteKind};
use crate::keys::KeySpace;

/// What every handle knows about its route.
#[derive(Debug, Clone)]
pub(crate) struct RouteCore {
    pub(crate) kind: RouteKind,
    pub(crate) name: Arc<str>,
    namespace: Arc<str>,
    /// The key space of a route that is not tenant-aware, built once.
    fixed: Option<Arc<KeySpace>>,
    tenant: Option<Arc<str>>,
}

impl RouteCore {
    pub(crate) fn new(kind: RouteKind, name: &str, namespace: &str, tenant_aware: bool) -> Self {
        Self {
            kind,
            name: name.into(),
            namespace: namespace.into(),
            fixed: (!tenant_aware).then(|| Arc::new(KeySpace::new(namespace, None))),
            tenant: None,
        }
    }

    pub(crate) fn with_tenant(&self, tenant: &str) -> Self {
        Self {
            tenant: Some(tenant.into()),
            ..self.clone()
        }
    }

    pub(crate) fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The key space for this call: the route's (borrowed), or the current tenant's.
    pub(crate) fn space(&self) -> Result<Cow<'_, KeySpace>, Error> {
        if let Some(fixed) = &self.fixed {
            return Ok(Cow::Borrowed(fixed));
        }
        let tenant = self
            .tenant
            .clone()
            .or_else(crate::tenant::current)
            .ok_or_else(|| Error::MissingTenant {
                kind: self.kind,
                route: self.name.to_string(),
            })?;
        Ok(Cow::Owned(KeySpace::new(&self.namespace, Some(&tenant))))
    }

    pub(crate) fn backend_err(&self, key: &str, source: BackendError) -> Error {
        Error::Backend {
            kind: self.kind,
            route: self.name.to_string(),
            key: key.to_owned(),
            source,
        }
    }

    pub(crate) fn invalid(&self, message: impl Into<String>) -> Error {
        Error::InvalidArgument {
            kind: self.kind,
            route: self.name.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn encode<T: serde::Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<Vec<u8>, Error> {
        crate::codec::encode(value).map_err(|message| Error::Encode {
            kind: self.kind,
            route: self.name.to_string(),
            key: key.to_owned(),
            message,
        })
    }

    pub(crate) fn not_owner(&self, key: &str) -> Error {
        Error::NotOwner {
            kind: self.kind,
            route: self.name.to_string(),
            key: key.to_owned(),
        }
    }
}
