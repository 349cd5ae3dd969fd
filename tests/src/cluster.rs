//! A real Redis Cluster per test: 3 masters and 3 replicas, each a server of [`RedisServer`]
//! (own port, own temporary directory, stopped by pid), joined with `CLUSTER ADDSLOTSRANGE`,
//! `CLUSTER MEET` and `CLUSTER REPLICATE`, ready once every node reports `cluster_state:ok`
//! with the same view and every replica is in sync.

use std::time::Duration;

use crate::server::RedisServer;

/// The environment variable that makes the harness's Redis environments a cluster
/// (`FORZE_TOPOLOGY=cluster`) or a Sentinel deployment (`FORZE_TOPOLOGY=sentinel`);
/// `scripts/test` runs the suites once each way.
pub const TOPOLOGY_ENV: &str = "FORZE_TOPOLOGY";

/// Whether the suites run on a cluster ([`TOPOLOGY_ENV`]).
pub fn on_cluster() -> bool {
    std::env::var(TOPOLOGY_ENV).is_ok_and(|t| t.eq_ignore_ascii_case("cluster"))
}

/// Whether the suites run on Sentinel ([`TOPOLOGY_ENV`]).
pub fn on_sentinel() -> bool {
    std::env::var(TOPOLOGY_ENV).is_ok_and(|t| t.eq_ignore_ascii_case("sentinel"))
}

/// A node: its server and its cluster bus port.
pub struct Node {
    /// The node's server.
    pub server: RedisServer,
    /// Its cluster bus port.
    pub bus: u16,
}

/// A running cluster of three masters (nodes 0–2, slots split in three) and one replica of
/// each (node 3 + i replicates node i). Dropping it stops every node.
pub struct RedisCluster {
    /// The six nodes.
    pub nodes: Vec<Node>,
    /// Whether the nodes speak TLS only (clients, cluster bus and replication), and the client
    /// certificate the harness presents to them, if they ask for one.
    tls: Option<Option<redis::ClientTlsConfig>>,
}

/// How the harness reaches a node: plain, or TLS (with a client certificate or not).
type Tls<'a> = Option<&'a Option<redis::ClientTlsConfig>>;

const SLOTS: [(u16, u16); 3] = [(0, 5460), (5461, 10922), (10923, 16383)];

/// `cmd` on the node at `port` (over TLS, not verified, on a TLS cluster: the harness's own
/// checks, not what is tested).
async fn command<T: redis::FromRedisValue>(
    tls: Tls<'_>,
    port: u16,
    cmd: &redis::Cmd,
) -> redis::RedisResult<T> {
    let client = match tls {
        Some(identity) => {
            crate::tls_provider();
            redis::Client::build_with_tls(
                format!("rediss://127.0.0.1:{port}/#insecure"),
                redis::TlsCertificates {
                    client_tls: identity.clone(),
                    root_cert: None,
                },
            )?
        }
        None => redis::Client::open(format!("redis://127.0.0.1:{port}"))?,
    };
    let mut conn = client.get_multiplexed_async_connection().await?;
    cmd.query_async(&mut conn).await
}

/// Polls `probe` every 20 ms for at most 30 s: the cluster's own gossip settling.
async fn until<F, Fut>(what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !probe().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "cluster: {what} not within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl RedisCluster {
    /// Starts six nodes and joins them; returns once the cluster serves every slot.
    pub async fn start() -> Self {
        Self::start_as(None, None).await
    }

    /// [`RedisCluster::start`] with nodes that speak TLS only (to clients, on the cluster bus
    /// and for replication), with the server options `tls` (`--tls-cert-file` …); the harness
    /// presents `client` (certificate and key, PEM) when the nodes ask for one.
    pub async fn start_tls(tls: &[&str], client: Option<(String, String)>) -> Self {
        let identity = client.map(|(cert, key)| redis::ClientTlsConfig {
            client_cert: cert.into_bytes(),
            client_key: key.into_bytes(),
        });
        Self::start_as(Some(tls), Some(identity)).await
    }

    async fn start_as(
        tls: Option<&[&str]>,
        identity: Option<Option<redis::ClientTlsConfig>>,
    ) -> Self {
        let nodes: Vec<Node> = (0..6)
            .map(|_| {
                let mut args = vec![
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "1000",
                    // A replica syncs at once, and takes over however far behind it was.
                    "--repl-diskless-sync-delay",
                    "0",
                    "--cluster-replica-validity-factor",
                    "0",
                ];
                if let Some(tls) = tls {
                    args.extend(["--tls-cluster", "yes", "--tls-replication", "yes"]);
                    args.extend(tls);
                }
                let server = RedisServer::start_cluster_node(&args, tls.is_some());
                let bus = server.bus_port().expect("a cluster node has a bus port");
                Node { server, bus }
            })
            .collect();
        let cluster = Self {
            nodes,
            tls: identity,
        };
        cluster.join().await;
        cluster
    }

    async fn join(&self) {
        let tls = self.tls.as_ref();
        let mut ids = Vec::new();
        for node in &self.nodes {
            let id: String = command(tls, node.server.port(), redis::cmd("CLUSTER").arg("MYID"))
                .await
                .expect("CLUSTER MYID");
            ids.push(id);
        }
        for (i, (start, end)) in SLOTS.iter().enumerate() {
            let _: () = command(
                tls,
                self.nodes[i].server.port(),
                redis::cmd("CLUSTER")
                    .arg("ADDSLOTSRANGE")
                    .arg(start)
                    .arg(end),
            )
            .await
            .expect("CLUSTER ADDSLOTSRANGE");
        }
        let first = self.nodes[0].server.port();
        for node in &self.nodes[1..] {
            let _: () = command(
                tls,
                first,
                redis::cmd("CLUSTER")
                    .arg("MEET")
                    .arg("127.0.0.1")
                    .arg(node.server.port())
                    .arg(node.bus),
            )
            .await
            .expect("CLUSTER MEET");
        }
        // Every node knows every other before a replica names its master.
        for node in &self.nodes {
            let port = node.server.port();
            until("every node knowing the six", || async move {
                command::<String>(tls, port, redis::cmd("CLUSTER").arg("NODES"))
                    .await
                    .is_ok_and(|nodes| nodes.lines().count() == 6 && !nodes.contains("handshake"))
            })
            .await;
        }
        for (replica, master_id) in self.nodes[3..].iter().zip(&ids) {
            let _: () = command(
                tls,
                replica.server.port(),
                redis::cmd("CLUSTER").arg("REPLICATE").arg(master_id),
            )
            .await
            .expect("CLUSTER REPLICATE");
        }
        self.until_settled().await;
    }

    /// Waits until every running node reports `cluster_state:ok`, sees three masters serving
    /// all slots and three replicas, none failing, and every replica's link to its master is
    /// up.
    pub async fn until_settled(&self) {
        let tls = self.tls.as_ref();
        for node in self.nodes.iter().filter(|n| n.server.pid().is_some()) {
            let port = node.server.port();
            until(
                "cluster_state:ok, 3 masters and 3 replicas in sync",
                || async move {
                    let info: String =
                        match command(tls, port, redis::cmd("CLUSTER").arg("INFO")).await {
                            Ok(info) => info,
                            Err(_) => return false,
                        };
                    let slots: Vec<redis::Value> =
                        match command(tls, port, redis::cmd("CLUSTER").arg("SLOTS")).await {
                            Ok(slots) => slots,
                            Err(_) => return false,
                        };
                    // CLUSTER NODES knows a replica's role long before CLUSTER SLOTS lists it.
                    let nodes: String =
                        match command(tls, port, redis::cmd("CLUSTER").arg("NODES")).await {
                            Ok(nodes) => nodes,
                            Err(_) => return false,
                        };
                    let count = |role: &str| {
                        nodes
                            .lines()
                            .filter(|l| l.contains(role) && !l.contains("fail"))
                            .count()
                    };
                    let replicated = count("slave") == 3 && count("master") == 3;
                    let replication: String =
                        match command(tls, port, redis::cmd("INFO").arg("replication")).await {
                            Ok(r) => r,
                            Err(_) => return false,
                        };
                    let in_sync = !replication.contains("role:slave")
                        || replication.contains("master_link_status:up");
                    info.contains("cluster_state:ok") && slots.len() == 3 && replicated && in_sync
                },
            )
            .await;
        }
    }

    /// `redis+cluster://` with the three masters as seed nodes (`rediss+cluster://` on a TLS
    /// cluster).
    pub fn url(&self) -> String {
        let seeds: Vec<String> = self.nodes[..3]
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.server.port()))
            .collect();
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}+cluster://{}", seeds.join(","))
    }

    /// A plain redis-rs cluster connection, for assertions.
    pub async fn client(&self) -> redis::cluster_async::ClusterConnection {
        let nodes: Vec<String> = self.nodes.iter().map(|n| n.server.url()).collect();
        redis::cluster::ClusterClient::new(nodes)
            .expect("cluster client")
            .get_async_connection()
            .await
            .expect("connect to the test cluster")
    }

    /// The index of the node that is master of `slot` now (panics when none is).
    pub async fn master_of(&self, slot: u16) -> usize {
        match self.serving(slot).await {
            Some(i) => i,
            None => panic!("no running master serves slot {slot}"),
        }
    }

    /// The indexes of the running nodes that say they are masters.
    pub async fn masters(&self) -> Vec<usize> {
        let tls = self.tls.as_ref();
        let mut masters = Vec::new();
        for (i, node) in self.nodes.iter().enumerate() {
            if node.server.pid().is_none() {
                continue;
            }
            let info: String = command(
                tls,
                node.server.port(),
                redis::cmd("INFO").arg("replication"),
            )
            .await
            .unwrap_or_default();
            if info.contains("role:master") {
                masters.push(i);
            }
        }
        masters
    }

    /// Moves the empty `slot` from the master serving it to master `to`, as a resharding does
    /// (`CLUSTER SETSLOT` `IMPORTING` on `to`, `MIGRATING` on the owner, then `NODE` on every
    /// running master), and waits until `to` says it serves it.
    pub async fn move_empty_slot(&self, slot: u16, to: usize) {
        let tls = self.tls.as_ref();
        let from = self.master_of(slot).await;
        let id = |i: usize| async move {
            command::<String>(
                tls,
                self.nodes[i].server.port(),
                redis::cmd("CLUSTER").arg("MYID"),
            )
            .await
            .expect("CLUSTER MYID")
        };
        let (from_id, to_id) = (id(from).await, id(to).await);
        let setslot = |i: usize, args: Vec<String>| async move {
            let mut cmd = redis::cmd("CLUSTER");
            cmd.arg("SETSLOT").arg(slot).arg(args);
            command::<()>(tls, self.nodes[i].server.port(), &cmd)
                .await
                .expect("CLUSTER SETSLOT");
        };
        setslot(to, vec!["IMPORTING".into(), from_id]).await;
        setslot(from, vec!["MIGRATING".into(), to_id.clone()]).await;
        setslot(to, vec!["NODE".into(), to_id.clone()]).await;
        setslot(from, vec!["NODE".into(), to_id.clone()]).await;
        for i in self.masters().await {
            if i != to && i != from {
                setslot(i, vec!["NODE".into(), to_id.clone()]).await;
            }
        }
        crate::eventually(
            std::time::Duration::from_secs(10),
            "the slot moved",
            || async { (self.serving(slot).await == Some(to)).then_some(()) },
        )
        .await;
    }

    /// The index of the running node that says it is master of `slot`, if one does.
    pub async fn serving(&self, slot: u16) -> Option<usize> {
        let tls = self.tls.as_ref();
        for i in self.masters().await {
            let port = self.nodes[i].server.port();
            let ranges: Vec<redis::Value> = command(tls, port, redis::cmd("CLUSTER").arg("SLOTS"))
                .await
                .unwrap_or_default();
            let mine = ranges.iter().any(|range| match range {
                redis::Value::Array(parts) if parts.len() >= 3 => {
                    let bound = |v: &redis::Value| redis::from_redis_value::<u16>(v.clone()).ok();
                    let (Some(start), Some(end)) = (bound(&parts[0]), bound(&parts[1])) else {
                        return false;
                    };
                    (start..=end).contains(&slot)
                        && matches!(&parts[2], redis::Value::Array(m) if m.get(1) == Some(&redis::Value::Int(i64::from(port))))
                }
                _ => false,
            });
            if mine {
                return Some(i);
            }
        }
        None
    }
}
