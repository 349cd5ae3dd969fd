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
