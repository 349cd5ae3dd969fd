//! Which deployment a URL names: one server (`redis://`, `rediss://`, `valkey://`,
//! `valkeys://`, `redis+unix://`), a Redis Cluster (`redis+cluster://` and its TLS and Valkey
//! forms) given by several seed nodes, or a Sentinel-managed master (`redis+sentinel://`).

/// A deployment, parsed from [`super::RedisConfig::url`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Topology {
    /// One server (with replicas or not): the URL as it is.
    Single(String),
    /// A Redis Cluster: one URL per seed node (each with the same credentials, database and
    /// TLS settings); the cluster's own map of slots tells the rest.
    Cluster(Vec<String>),
    /// A master named `master` that the sentinels at `sentinels` (`host:port`) know; `node`
    /// is the URL template for the master's connection (scheme, credentials, database) with
    /// its host and port left to the sentinels.
    Sentinel {
        master: String,
        sentinels: Vec<String>,
        node: String,
    },
}

/// `scheme://[userinfo@]hosts[/path][?query][#fragment]`, split at the host list.
struct Parts<'a> {
    scheme: &'a str,
    userinfo: &'a str,
    hosts: &'a str,
    rest: &'a str,
}

fn parts(url: &str) -> Option<Parts<'_>> {
    let (scheme, after) = url.split_once("://")?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let (userinfo, hosts) = match authority.rfind('@') {
        Some(at) => (&authority[..=at], &authority[at + 1..]),
        None => ("", authority),
    };
    Some(Parts {
        scheme,
        userinfo,
        hosts,
        rest,
    })
}

impl Topology {
    /// The deployment `url` names, or what is wrong with it.
    pub(super) fn of(url: &str) -> Result<Self, String> {
        let Some(p) = parts(url) else {
            return Ok(Self::Single(url.to_owned()));
        };
        let (base, kind) = match p.scheme.split_once('+') {
            Some((base, kind @ ("cluster" | "sentinel"))) => (base, kind),
            _ => return Ok(Self::Single(url.to_owned())),
        };
        if !matches!(base, "redis" | "rediss" | "valkey" | "valkeys") {
            return Err(format!(
                "redis url scheme {:?}: a {kind} URL starts with redis+{kind}://, \
                 rediss+{kind}://, valkey+{kind}:// or valkeys+{kind}://",
                p.scheme
            ));
        }
        let hosts: Vec<&str> = p.hosts.split(',').map(str::trim).collect();
        if hosts.iter().any(|h| h.is_empty()) {
            return Err(format!(
                "redis {kind} url: the host list {:?} has an empty entry (write host:port,host:port)",
                p.hosts
            ));
        }
        if kind == "cluster" {
            let nodes = hosts
                .iter()
                .map(|h| format!("{base}://{}{h}{}", p.userinfo, p.rest))
                .collect();
            return Ok(Self::Cluster(nodes));
        }
        // redis+sentinel://[user:pw@]s1:26379,s2:26379/master[/db]
        let path = p.rest.split(['?', '#']).next().unwrap_or("");
        let mut segments = path.trim_start_matches('/').splitn(2, '/');
        let master = segments.next().unwrap_or("").to_owned();
        if master.is_empty() {
            return Err("redis sentinel url: name the master after the hosts \
                 (redis+sentinel://s1:26379,s2:26379/mymaster)"
                .to_owned());
        }
        let db = segments.next().unwrap_or("");
        let tail = &p.rest[path.len()..];
        let node = format!("{base}://{}{{host}}/{db}{tail}", p.userinfo,);
        Ok(Self::Sentinel {
            master,
            sentinels: hosts
                .iter()
                .map(|h| {
                    if h.contains(':') {
                        (*h).to_owned()
                    } else {
                        format!("{h}:26379")
                    }
                })
                .collect(),
            node,
        })
    }

    /// The URL of one node of this deployment, for validating the URL and for the spans'
    /// `server.address` / `server.port` (the first seed node; a sentinel's for Sentinel).
    pub(super) fn first_url(&self) -> String {
        match self {
            Self::Single(url) => url.clone(),
            Self::Cluster(nodes) => nodes[0].clone(),
            Self::Sentinel {
                sentinels, node, ..
            } => node.replace("{host}", &sentinels[0]),
        }
    }
}

/// `url` with the password of its user info (if any) replaced by `***`; works on host lists
/// too (`redis+cluster://:pw@a:1,b:2`), which are no URL for the `url` crate.
pub(super) fn redact(url: &str) -> String {
    let Some(p) = parts(url) else {
        return "<unparseable redis url>".to_owned();
    };
    let userinfo = match p.userinfo.trim_end_matches('@').split_once(':') {
        Some((user, _password)) => format!("{user}:***@"),
        None => p.userinfo.to_owned(),
    };
    format!("{}://{userinfo}{}{}", p.scheme, p.hosts, p.rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_urls_are_as_they_are() {
        let url = "redis://:pw@127.0.0.1:6379/2";
        assert_eq!(Topology::of(url), Ok(Topology::Single(url.to_owned())));
        assert_eq!(redact(url), "redis://:***@127.0.0.1:6379/2");
    }

    #[test]
    fn a_cluster_url_names_each_seed_node() {
        let t = Topology::of("rediss+cluster://app:pw@a:7000, b:7001#insecure").unwrap();
        assert_eq!(
            t,
            Topology::Cluster(vec![
                "rediss://app:pw@a:7000#insecure".to_owned(),
                "rediss://app:pw@b:7001#insecure".to_owned(),
            ])
        );
        assert_eq!(
            redact("redis+cluster://app:pw@a:7000,b:7001"),
            "redis+cluster://app:***@a:7000,b:7001"
        );
        assert!(Topology::of("redis+cluster://a:1,,b:2").is_err());
        assert!(Topology::of("http+cluster://a:1").is_err());
    }

    #[test]
    fn a_sentinel_url_names_the_master_and_the_sentinels() {
        let t = Topology::of("redis+sentinel://:pw@s1:26379,s2/mymaster/3").unwrap();
        assert_eq!(
            t,
            Topology::Sentinel {
                master: "mymaster".to_owned(),
                sentinels: vec!["s1:26379".to_owned(), "s2:26379".to_owned()],
                node: "redis://:pw@{host}/3".to_owned(),
            }
        );
        assert_eq!(t.first_url(), "redis://:pw@s1:26379/3");
        assert!(Topology::of("redis+sentinel://s1:26379").is_err());
    }
}
