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
