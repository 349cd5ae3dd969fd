//! What the benches share: the median (and spread) of rounds, and client commands counted from
//! `INFO commandstats`.

use redis::aio::MultiplexedConnection;

/// The median of `v` (rounds of one scenario).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// `median (min–max)` of per-round ratios, two decimals.
pub fn ratio_spread(v: Vec<f64>) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{:.2} ({lo:.2}–{hi:.2})", median(v))
}

/// The calls so far of the commands `names` (lower-case, e.g. `["get", "set"]`). Commands run
/// inside scripts count under their own names, so count only what clients send.
pub async fn command_calls(conn: &mut MultiplexedConnection, names: &[&str]) -> u64 {
    command_stat(conn, names, "calls=").await
}

/// The server's time so far (µs, `INFO commandstats` `usec`) in the commands `names`: the
/// difference over a run, divided by its operations, is the server's cost per operation.
pub async fn command_usec(conn: &mut MultiplexedConnection, names: &[&str]) -> u64 {
    command_stat(conn, names, "usec=").await
}

/// The server process's CPU time so far (µs, `INFO cpu`: `used_cpu_user` + `used_cpu_sys`):
/// beside [`command_usec`], what the server spends outside commands too (reading and writing
/// sockets, tracking's broadcasts between event-loop turns).
pub async fn server_cpu_usec(conn: &mut MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("cpu")
        .query_async(conn)
        .await
        .expect("INFO cpu");
    let seconds: f64 = info
        .lines()
        .filter_map(|l| {
            let (name, value) = l.trim().split_once(':')?;
            matches!(name, "used_cpu_user" | "used_cpu_sys")
                .then(|| value.parse::<f64>().ok())
                .flatten()
        })
        .sum();
    (seconds * 1e6) as u64
}

/// The sum of one `INFO commandstats` field (`calls=`, `usec=`) over the commands `names`.
async fn command_stat(conn: &mut MultiplexedConnection, names: &[&str], field: &str) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .expect("INFO commandstats");
    info.lines()
        .filter(|l| {
            names.iter().any(|n| {
                l.strip_prefix("cmdstat_")
                    .is_some_and(|r| r.starts_with(&format!("{n}:")))
            })
        })
        .filter_map(|l| {
            l.split(field)
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// The config a bench runs forze with: `RedisConfig::new(url)` as users get it, or with
/// `max_size` from `FORZE_BENCH_MAX_SIZE`.
pub fn bench_config(url: String) -> forze_runtime::RedisConfig {
    match std::env::var("FORZE_BENCH_MAX_SIZE")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        Some(n) => forze_runtime::RedisConfig::new(url).max_size(n),
        None => forze_runtime::RedisConfig::new(url),
    }
}

/// A bench's world: what each task clones, and one operation of it.
pub trait Scenario: Clone + Send + 'static {
    /// Which operation a run repeats.
    type Op: Copy + Send + 'static;
    /// The runtime the tasks run in the scope of.
    fn forze(&self) -> &forze_runtime::Forze;
    /// A task's own world for `op` (e.g. on another connection), and the operation it runs.
    fn for_task(&self, op: Self::Op) -> (Self, Self::Op) {
        (self.clone(), op)
    }
    /// The `i`-th operation `op` of task `t`.
    fn step(
        &mut self,
        op: Self::Op,
        i: u64,
        t: u64,
    ) -> impl std::future::Future<Output = ()> + Send;
}

/// Runs `op` from `tasks` tasks for `dur`; returns (operations per second, operations done).
pub async fn run<W: Scenario>(
    world: &W,
    op: W::Op,
    tasks: usize,
    dur: std::time::Duration,
) -> (f64, u64) {
    // Each task counts its own operations, summed at the end: one shared counter bumped by
    // every operation would bounce its cache line between the cores and cost the fastest
    // operations (an in-process near hit) a large share of their time.
    let start = std::time::Instant::now();
    let handles: Vec<_> = (0..tasks as u64)
        .map(|t| {
            let (mut w, op) = world.for_task(op);
            tokio::spawn(async move {
                let f = w.forze().clone();
                f.scope(async move {
                    let (mut i, mut done) = (t, 0u64);
                    while start.elapsed() < dur {
                        w.step(op, i, t).await;
                        i += tasks as u64;
                        done += 1;
                    }
                    done
                })
                .await
            })
        })
        .collect();
    let mut n = 0;
    for h in handles {
        n += h.await.expect("bench task");
    }
    (n as f64 / start.elapsed().as_secs_f64(), n)
}

/// With `FORZE_BENCH_PROFILE` set, runs `FORZE_BENCH_OPS` (default 20 000) operations, the
/// one `pick` names for its value, from one task and returns `true` (the bench then exits):
/// for `valgrind --tool=callgrind`, whose instruction counts less those of a run with
/// `FORZE_BENCH_OPS=0` give the cost of one operation.
pub async fn profile<W: Scenario>(world: &W, pick: impl Fn(&str) -> W::Op) -> bool {
    let Ok(side) = std::env::var("FORZE_BENCH_PROFILE") else {
        return false;
    };
    let ops: u64 = std::env::var("FORZE_BENCH_OPS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let (mut w, op) = world.for_task(pick(&side));
    let f = world.forze().clone();
    f.scope(async move {
        for i in 0..ops {
            w.step(op, i, 0).await;
        }
    })
    .await;
    true
}

/// The value the cache benches store: a small user record, as JSON.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct User {
    /// Its id.
    pub id: u64,
    /// A name.
    pub name: String,
    /// An e-mail address.
    pub email: String,
    /// Some roles.
    pub roles: Vec<String>,
}

/// The user of `id`.
pub fn user(id: u64) -> User {
    User {
        id,
        name: format!("user-{id}"),
        email: format!("user-{id}@example.com"),
        roles: vec!["reader".into(), "writer".into()],
    }
}
