//! Errors: one [`Error`] for everything a handle can report, and [`BackendError`] for what an
//! adapter reports to the layer above it.

use std::fmt;

/// The kind of a wired route; errors name it along with the route's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RouteKind {
    /// A cache route.
    Cache,
    /// A counter route.
    Counter,
    /// An idempotency store.
    Idempotency,
    /// A rate limiter.
    Limiter,
    /// A lock route.
    Lock,
}

impl fmt::Display for RouteKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RouteKind::Cache => "cache",
            RouteKind::Counter => "counter",
            RouteKind::Idempotency => "idempotency store",
            RouteKind::Limiter => "limiter",
            RouteKind::Lock => "lock route",
        })
    }
}

/// What went wrong inside an adapter (Redis or memory), before the route and key are attached.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct BackendError {
    /// The broad class of the failure.
    pub kind: BackendErrorKind,
    /// The backend's own words.
    pub message: String,
}

/// The broad class of a [`BackendError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendErrorKind {
    /// The server could not be reached or the connection dropped.
    Unreachable,
    /// The server did not answer in time.
    Timeout,
    /// The server answered with an error or an unexpected reply.
    Protocol,
    /// The in-memory backend is full.
    Capacity,
    /// A number went out of range (e.g. a counter overflow).
    Overflow,
    /// The TLS handshake failed: a certificate that is not trusted or names another host, or
    /// a client certificate the server refused.
    Tls,
    /// The server refused the credentials (a wrong user or password, or none given).
    Auth,
    /// The user may not run the command (`NOPERM`, an ACL that does not allow it).
    Permission,
}

impl BackendErrorKind {
    /// The kind in words (`"unreachable"`, `"timed out"`, …), as `Display` writes it.
    ///
    /// ```
    /// assert_eq!(forze_runtime::BackendErrorKind::Timeout.as_str(), "timed out");
    /// ```
    pub fn as_str(&self) -> &'static str {
        match self {
            BackendErrorKind::Unreachable => "unreachable",
            BackendErrorKind::Timeout => "timed out",
            BackendErrorKind::Protocol => "protocol error",
            BackendErrorKind::Capacity => "capacity exhausted",
            BackendErrorKind::Overflow => "out of range",
            BackendErrorKind::Tls => "TLS handshake failed",
            BackendErrorKind::Auth => "authentication failed",
            BackendErrorKind::Permission => "not permitted",
        }
    }
}

impl fmt::Display for BackendErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl BackendError {
    /// A new error of `kind`.
    ///
    /// ```
    /// use forze_runtime::{BackendError, BackendErrorKind};
    /// let e = BackendError::new(BackendErrorKind::Capacity, "full");
    /// assert_eq!(e.to_string(), "capacity exhausted: full");
    /// ```
    pub fn new(kind: BackendErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// True when the failure is about reaching the server (down, refused, dropped, timed out),
    /// the cases that failure policies such as fail-open apply to.
    ///
    /// A failed TLS handshake or refused credentials count too: the server cannot be used, and
    /// a cache that falls open, or a limiter's failure policy, should say so rather than fail.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self.kind,
            BackendErrorKind::Unreachable
                | BackendErrorKind::Timeout
                | BackendErrorKind::Tls
                | BackendErrorKind::Auth
        )
    }
}

/// What to do about a failed TLS handshake, from rustls' words.
fn tls_hint(text: &str) -> Option<&'static str> {
    if text.contains("NotValidForName") || text.contains("not valid for name") {
        Some(
            "the server's certificate does not name this host: connect with a host name the \
             certificate names (the URL's host is checked, an IP address too)",
        )
    } else if text.contains("invalid peer certificate") {
        Some(
            "the server's certificate is not trusted: trust its CA with `RedisConfig::tls_ca` \
             (the platform's roots are used otherwise)",
        )
    } else if text.contains("received fatal alert") {
        Some(
            "the server refused this client in the handshake (a server with \
             `tls-auth-clients yes` needs `RedisConfig::tls_client_cert`, signed by a CA it \
             trusts)",
        )
    } else {
        None
    }
}

impl From<redis::RedisError> for BackendError {
    fn from(err: redis::RedisError) -> Self {
        let text = err.to_string();
        if let Some(hint) = tls_hint(&text) {
            return BackendError::new(BackendErrorKind::Tls, format!("{text}; {hint}"));
        }
        if err.kind() == redis::ErrorKind::AuthenticationFailed
            || text.contains("WRONGPASS")
            || text.contains("NOAUTH")
        {
            return BackendError::new(
                BackendErrorKind::Auth,
                format!("{text}; check the user and password in the URL"),
            );
        }
        if err.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoPerm) {
            return BackendError::new(BackendErrorKind::Permission, text);
        }
        let kind = if err.is_timeout() {
            BackendErrorKind::Timeout
        } else if err.is_io_error()
            || err.is_connection_refusal()
            || err.is_connection_dropped()
            || err.is_unrecoverable_error()
        {
            BackendErrorKind::Unreachable
        } else if err.to_string().contains("overflow") {
            BackendErrorKind::Overflow
        } else {
            BackendErrorKind::Protocol
        };
        BackendError::new(kind, text)
    }
}

/// Every error a forze handle or the wiring can return. Each names the route and, where there is
/// one, the storage key involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The wiring or a backend config is invalid; every problem found is listed.
    #[error("invalid forze configuration: {}", problems.join("; "))]
    Config {
        /// One line per problem.
        problems: Vec<String>,
    },
    /// A handle was asked for a route name that is not wired.
    #[error("no {kind} named {name:?} is wired (wired: {known:?}){}", did_you_mean(name, known.iter().map(String::as_str)))]
    UnknownRoute {
        /// The kind of route asked for.
        kind: RouteKind,
        /// The name asked for.
        name: String,
        /// The names of that kind that are wired.
        known: Vec<String>,
    },
    /// Names used by the code (e.g. by annotations) but absent from the wiring.
    #[error("routes used but not wired: {}", missing.iter().map(|(k, n)| format!("{k} {n:?}{}", did_you_mean(n, wired.iter().filter(|(wk, _)| wk == k).map(|(_, w)| w.as_str())))).collect::<Vec<_>>().join(", "))]
    MissingRoutes {
        /// Each missing route's kind and name.
        missing: Vec<(RouteKind, String)>,
        /// The routes that are wired (the message suggests the nearest for a misspelt name).
        wired: Vec<(RouteKind, String)>,
    },
    /// The backend could not be reached at start-up.
    #[error("cannot connect to {target}: {source}")]
    Connect {
        /// The server, with any password redacted.
        target: String,
        /// What the backend said.
        #[source]
        source: BackendError,
    },
    /// The backend failed while serving a call.
    #[error("{kind} {route:?}: backend failed on key {key:?}: {source}")]
    Backend {
        /// The route's kind.
        kind: RouteKind,
        /// The route's name.
        route: String,
        /// The storage key.
        key: String,
        /// What the backend said.
        #[source]
        source: BackendError,
    },
    /// A value could not be serialized.
    #[error("{kind} {route:?}: cannot encode the value for key {key:?}: {message}")]
    Encode {
        /// The route's kind.
        kind: RouteKind,
        /// The route's name.
        route: String,
        /// The storage key.
        key: String,
        /// The serializer's words.
        message: String,
    },
    /// A stored value could not be read back as the requested type.
    #[error("{kind} {route:?}: stored value at key {key:?} does not decode: {message}")]
    Decode {
        /// The route's kind.
        kind: RouteKind,
        /// The route's name.
        route: String,
        /// The storage key.
        key: String,
        /// The deserializer's words.
        message: String,
    },
    /// A value is larger than the route allows; nothing was written.
    #[error("{kind} {route:?}: value for key {key:?} is {size} bytes, above the route's limit of {max} bytes")]
    TooLarge {
        /// The route's kind.
        kind: RouteKind,
        /// The route's name.
        route: String,
        /// The storage key.
        key: String,
        /// The encoded size.
        size: usize,
        /// The route's limit.
        max: usize,
    },
    /// A tenant-aware route was used outside [`crate::tenant::scope`] and without an explicit tenant.
    #[error("{kind} {route:?} is tenant-aware but no tenant is set (use forze_runtime::tenant::scope or .with_tenant)")]
    MissingTenant {
        /// The route's kind.
        kind: RouteKind,
        /// The route's name.
        route: String,
    },
    /// An annotated function ran with no runtime: none named by `via`, none scoped, none installed.
    #[error("no forze runtime for {function} (use Forze::install, Forze::scope or via = ...)")]
    NoRuntime {
        /// The annotated function.
        function: String,
    },
    /// An argument is out of its domain (a zero count, a cost above the limit, ...).
    #[error("{kind} {route:?}: {message}")]
    InvalidArgument {
        /// The route's kind.
        kind: RouteKind,
        /// The route's name.
        route: String,
        /// What is wrong.
        message: String,
    },
    /// An idempotency claim or a lock was lost (expired and taken over, or released) before its
    /// owner committed, extended or released it.
    #[error("{kind} {route:?}: the claim on key {key:?} is no longer held by this owner")]
    NotOwner {
        /// The route's kind.
        kind: RouteKind,
        /// The route's name.
        route: String,
        /// The storage key.
        key: String,
    },
}

impl Error {
    /// True when the error comes from the backend being unreachable or slow, as opposed to a
    /// mistake in the call or the config.
    ///
    /// ```
    /// use forze_runtime::{Error, RouteKind};
    /// let e = Error::MissingTenant { kind: RouteKind::Cache, route: "users".into() };
    /// assert!(!e.is_unavailable());
    /// ```
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Connect { .. } => true,
            Error::Backend { source, .. } => source.is_unavailable(),
            _ => false,
        }
    }
}

/// `" (did you mean \"x\"?)"` when one of `candidates` is a likely misspelling of `name`.
fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let allowed = (name.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, c)| *d <= allowed && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| format!(" (did you mean {c:?}?)"))
        .unwrap_or_default()
}
