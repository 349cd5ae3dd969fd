//! Which server answers: Redis or Valkey, and its version, read from `INFO server` at start-up.
//! Valkey also reports `redis_version` (7.2.4, the Redis version it forked from), so
//! `valkey_version` is read first.

use std::fmt;

/// The server product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Product {
    /// Redis.
    Redis,
    /// Valkey.
    Valkey,
}

/// The server a backend is connected to.
///
/// ```
/// use forze_runtime::adapters::redis::{Product, ServerInfo};
/// let info = ServerInfo::parse("# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:9.1.2\r\n");
/// assert_eq!(info, Some(ServerInfo { product: Product::Valkey, version: (9, 1, 2) }));
/// assert_eq!(info.map(|i| i.to_string()).as_deref(), Some("valkey 9.1.2"));
/// assert!(info.is_some_and(|i| i.at_least(Product::Valkey, (8, 1, 0))));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerInfo {
    /// Redis or Valkey.
    pub product: Product,
    /// `(major, minor, patch)`.
    pub version: (u32, u32, u32),
}

impl ServerInfo {
    /// Reads the answer to `INFO server`; `None` when it names no version.
    pub fn parse(info: &str) -> Option<Self> {
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.trim().strip_prefix(name)?.strip_prefix(':'))
                .and_then(parse_version)
        };
        if let Some(version) = field("valkey_version") {
            return Some(Self {
                product: Product::Valkey,
                version,
            });
        }
        field("redis_version").map(|version| Self {
            product: Product::Redis,
            version,
        })
    }

    /// Whether this is `product` at `version` or later.
    pub fn at_least(&self, product: Product, version: (u32, u32, u32)) -> bool {
        self.product == product && self.version >= version
    }
}

impl fmt::Display for ServerInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.product {
            Product::Redis => "redis",
            Product::Valkey => "valkey",
        };
        let (a, b, c) = self.version;
        write!(f, "{name} {a}.{b}.{c}")
    }
}

fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.trim().split('.').map(|p| {
        p.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<u32>()
            .ok()
    });
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_redis_and_valkey() {
        let redis = "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n";
        assert_eq!(
            ServerInfo::parse(redis),
            Some(ServerInfo {
                product: Product::Redis,
                version: (7, 0, 15)
            })
        );
        // Valkey reports the Redis version it forked from too: valkey_version wins.
        let valkey = "redis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.1.0\r\n";
        let v = ServerInfo::parse(valkey).map(|i| (i.product, i.version));
        assert_eq!(v, Some((Product::Valkey, (8, 1, 0))));
        assert_eq!(
            ServerInfo::parse("redis_version:8.4-rc1").map(|i| i.version),
            Some((8, 4, 0))
        );
        assert_eq!(ServerInfo::parse("# Server\r\n"), None);
        assert_eq!(ServerInfo::parse("redis_version:x"), None);
    }
}

/// The server's commands that replace a script (see [`Native::of`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Native {
    /// `SET key value IFEQ expected` (Valkey ≥ 8.1, Redis ≥ 8.4).
    pub(crate) set_ifeq: bool,
    /// An owner-only delete.
    pub(crate) delete: Option<DeleteIfEqual>,
}

/// How the server deletes a key only when it holds a given value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeleteIfEqual {
    /// `DELIFEQ key value` (Valkey ≥ 9.0).
    DelIfEq,
    /// `DELEX key IFEQ value` (Redis ≥ 8.4).
    DelEx,
}

impl Native {
    /// What `server` has, or nothing when it is unknown or `enabled` is false (the config
    /// switch that forces the scripts).
    pub(crate) fn of(server: Option<ServerInfo>, enabled: bool) -> Self {
        let Some(s) = server.filter(|_| enabled) else {
            return Self::default();
        };
        let delete = if s.at_least(Product::Valkey, (9, 0, 0)) {
            Some(DeleteIfEqual::DelIfEq)
        } else if s.at_least(Product::Redis, (8, 4, 0)) {
            Some(DeleteIfEqual::DelEx)
        } else {
            None
        };
        Self {
            set_ifeq: s.at_least(Product::Valkey, (8, 1, 0))
                || s.at_least(Product::Redis, (8, 4, 0)),
            delete,
        }
    }

    /// The commands in use, for health.
    pub(crate) fn names(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.set_ifeq {
            out.push("SET IFEQ");
        }
        match self.delete {
            Some(DeleteIfEqual::DelIfEq) => out.push("DELIFEQ"),
            Some(DeleteIfEqual::DelEx) => out.push("DELEX IFEQ"),
            None => {}
        }
        out
    }
}

/// What the primaries of a deployment have in common (`nodes`: each one's server, `None` for a
/// node that did not say): the native commands every node has, and the server that has the
/// fewest (the one that decides). Any node unknown: no native commands (the scripts run on
/// every server).
pub(crate) fn common(nodes: &[Option<ServerInfo>], enabled: bool) -> (Option<ServerInfo>, Native) {
    let known: Vec<ServerInfo> = nodes.iter().flatten().copied().collect();
    if known.is_empty() || known.len() != nodes.len() {
        return (known.first().copied(), Native::default());
    }
    let natives: Vec<Native> = known
        .iter()
        .map(|s| Native::of(Some(*s), enabled))
        .collect();
    let native = Native {
        set_ifeq: natives.iter().all(|n| n.set_ifeq),
        delete: natives
            .iter()
            .all(|n| n.delete == natives[0].delete)
            .then_some(natives[0].delete)
            .flatten(),
    };
    let weakest = known
        .iter()
        .zip(&natives)
        .min_by_key(|(_, n)| n.names().len())
        .map(|(s, _)| *s);
    (weakest, native)
}

#[cfg(test)]
mod native_tests {
    use super::*;

    #[test]
    fn a_deployment_uses_what_every_primary_has() {
        let redis7 = ServerInfo {
            product: Product::Redis,
            version: (7, 0, 15),
        };
        let valkey81 = ServerInfo {
            product: Product::Valkey,
            version: (8, 1, 0),
        };
        let valkey91 = ServerInfo {
            product: Product::Valkey,
            version: (9, 1, 2),
        };
        let (server, native) = common(&[Some(valkey91), Some(valkey91)], true);
        assert_eq!(
            (server, native.names()),
            (Some(valkey91), vec!["SET IFEQ", "DELIFEQ"])
        );
        // An upgrade half done: what the older node has.
        let (server, native) = common(&[Some(valkey91), Some(valkey81), Some(valkey91)], true);
        assert_eq!((server, native.names()), (Some(valkey81), vec!["SET IFEQ"]));
        let (server, native) = common(&[Some(valkey91), Some(redis7)], true);
        assert_eq!((server, native), (Some(redis7), Native::default()));
        // A node that did not say: the scripts everywhere.
        let (_, native) = common(&[Some(valkey91), None], true);
        assert_eq!(native, Native::default());
        assert_eq!(common(&[], true), (None, Native::default()));
    }

    fn native(product: Product, version: (u32, u32, u32)) -> Vec<&'static str> {
        Native::of(Some(ServerInfo { product, version }), true).names()
    }

    #[test]
    fn native_commands_follow_the_server_version() {
        assert!(native(Product::Redis, (7, 0, 15)).is_empty());
        assert_eq!(
            native(Product::Redis, (8, 4, 0)),
            ["SET IFEQ", "DELEX IFEQ"]
        );
        assert_eq!(native(Product::Valkey, (8, 1, 0)), ["SET IFEQ"]);
        assert_eq!(native(Product::Valkey, (9, 1, 2)), ["SET IFEQ", "DELIFEQ"]);
        let off = Native::of(
            Some(ServerInfo {
                product: Product::Valkey,
                version: (9, 1, 2),
            }),
            false,
        );
        assert_eq!(off, Native::default());
        assert_eq!(Native::of(None, true), Native::default());
    }
}
