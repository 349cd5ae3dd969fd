//! One connection of the backend, whatever the deployment: a `ConnectionManager` to one
//! server (it reconnects on its own), or a cluster connection (it follows the cluster's slot
//! map, redirections and failovers on its own). Both are multiplexed and cheap to clone.

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

/// How many times the cluster client sends a request again: after a redirection (`MOVED`,
/// `ASK`), a `TRYAGAIN` / `CLUSTERDOWN` during a failover, or a connection that dropped. A
/// command whose connection dropped after the server applied it can thus be applied up to
/// `1 + CLUSTER_RETRIES` times (see README, "Redis Cluster").
///
/// ```
/// assert_eq!(forze_runtime::adapters::redis::CLUSTER_RETRIES, 3);
/// ```
pub const CLUSTER_RETRIES: u32 = 3;

#[derive(Clone)]
pub(super) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Conn {
    /// One command; on one server through the manager's own method (which boxes its future
    /// once less than `Cmd::query_async`).
    pub(super) async fn send_packed_command(&mut self, cmd: &Cmd) -> RedisResult<Value> {
        match self {
            Self::Single(c) => c.send_packed_command(cmd).await,
            Self::Cluster(c) => c.req_packed_command(cmd).await,
        }
    }

    /// `cmd` on one server; on a cluster on one primary, whichever (for `INFO`, `CONFIG GET`:
    /// what one node says of itself).
    pub(super) async fn on_one_node<T: redis::FromRedisValue>(
        &mut self,
        cmd: Cmd,
    ) -> RedisResult<T> {
        let value = match self {
            Self::Single(c) => c.send_packed_command(&cmd).await?,
            Self::Cluster(c) => {
                c.route_command(
                    cmd,
                    RoutingInfo::SingleNode(SingleNodeRoutingInfo::RandomPrimary),
                )
                .await?
            }
        };
        Ok(redis::from_redis_value(value.extract_error()?)?)
    }
}

impl Conn {
    /// `cmd` on every primary of a cluster, each node's `host:port` with its answer (a server's
    /// own error as `Value::ServerError`); on one server, its answer, with no address.
    pub(super) async fn on_every_primary(&mut self, cmd: Cmd) -> RedisResult<Vec<(String, Value)>> {
        match self {
            Self::Single(c) => Ok(vec![(String::new(), c.send_packed_command(&cmd).await?)]),
            Self::Cluster(c) => {
                let routing = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
                Ok(match c.route_command(cmd, routing).await? {
                    Value::Map(pairs) => pairs
                        .into_iter()
                        .map(|(node, answer)| {
                            (redis::from_redis_value(node).unwrap_or_default(), answer)
                        })
                        .collect(),
                    answer => vec![(String::new(), answer)],
                })
            }
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(cmd, offset, count),
            Self::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}
