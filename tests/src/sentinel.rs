//! A real Sentinel deployment per test: a master, a replica and three sentinels, each a server
//! of [`RedisServer`] (own port, own temporary directory, stopped by pid).

use std::time::Duration;

use crate::server::RedisServer;

/// The name the sentinels monitor the master under.
pub const MASTER_NAME: &str = "forze";

/// A master (node 0), its replica (node 1) and three sentinels with a quorum of two. Dropping
/// it stops every process.
pub struct RedisSentinel {
    /// The master at start, then its replica.
    pub nodes: Vec<RedisServer>,
    /// The three sentinels.
    pub sentinels: Vec<RedisServer>,
}

async fn query<T: redis::FromRedisValue>(port: u16, cmd: &redis::Cmd) -> redis::RedisResult<T> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    cmd.query_async(&mut conn).await
}

impl RedisSentinel {
    /// Starts the five processes; returns once the replica is in sync and every sentinel
    /// knows the master, the replica and the other two sentinels (so that a failover can be
    /// voted).
    pub async fn start() -> Self {
        let master = RedisServer::start_with(&["--repl-diskless-sync-delay", "0"]);
        let port = master.port().to_string();
        let replica = RedisServer::start_with(&[
            "--replicaof",
            "127.0.0.1",
            &port,
            "--repl-diskless-sync-delay",
            "0",
        ]);
        let config = format!(
            "sentinel monitor {MASTER_NAME} 127.0.0.1 {port} 2\n\
             sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
             sentinel failover-timeout {MASTER_NAME} 5000\n\
             sentinel parallel-syncs {MASTER_NAME} 1\n"
        );
        let sentinels = (0..3)
            .map(|_| RedisServer::start_sentinel(&config))
            .collect();
        let deployment = Self {
            nodes: vec![master, replica],
            sentinels,
        };
        deployment.until_known().await;
        deployment
    }

    async fn until_known(&self) {
        let replica = self.nodes[1].port();
        crate::eventually(
            Duration::from_secs(30),
            "the replica in sync",
            || async move {
                let info: String = query(replica, redis::cmd("INFO").arg("replication"))
                    .await
                    .ok()?;
                info.contains("master_link_status:up").then_some(())
            },
        )
        .await;
        for sentinel in &self.sentinels {
            let port = sentinel.port();
            crate::eventually(
                Duration::from_secs(30),
                "each sentinel knowing the replica and the other sentinels",
                || async move {
                    let fields: Vec<String> =
                        query(port, redis::cmd("SENTINEL").arg("MASTER").arg(MASTER_NAME))
                            .await
                            .ok()?;
                    let field = |name: &str| {
                        fields
                            .iter()
                            .position(|f| f == name)
                            .and_then(|i| fields.get(i + 1))
                            .cloned()
                    };
                    (field("num-slaves").as_deref() == Some("1")
                        && field("num-other-sentinels").as_deref() == Some("2"))
                    .then_some(())
                },
            )
            .await;
        }
    }

    /// `redis+sentinel://` with the three sentinels and the master's name.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port()))
            .collect();
        format!("redis+sentinel://{}/{MASTER_NAME}", hosts.join(","))
    }

    /// `SENTINEL FAILOVER` on the first sentinel: the replica is promoted and the master
    /// demoted (it keeps answering, as a replica).
    pub async fn failover(&self) {
        let _: () = query(
            self.sentinels[0].port(),
            redis::cmd("SENTINEL").arg("FAILOVER").arg(MASTER_NAME),
        )
        .await
        .expect("SENTINEL FAILOVER");
    }

    /// The port of the master as the first sentinel that answers says.
    pub async fn master_port(&self) -> Option<u16> {
        for sentinel in &self.sentinels {
            let addr: redis::RedisResult<Option<(String, u16)>> = query(
                sentinel.port(),
                redis::cmd("SENTINEL")
                    .arg("get-master-addr-by-name")
                    .arg(MASTER_NAME),
            )
            .await;
            if let Ok(Some((_, port))) = addr {
                return Some(port);
            }
        }
        None
    }

    /// The node (index) whose port is `port`.
    pub fn node_at(&self, port: u16) -> Option<usize> {
        self.nodes.iter().position(|n| n.port() == port)
    }

    /// The role the node `i` says it has (`"master"`, `"slave"`), if it answers.
    pub async fn role(&self, i: usize) -> Option<String> {
        let role: Vec<redis::Value> = query(self.nodes[i].port(), &redis::cmd("ROLE"))
            .await
            .ok()?;
        redis::from_redis_value(role.first()?.clone()).ok()
    }
}
