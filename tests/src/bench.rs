//! What the benches share: the median of rounds, and client commands counted from
//! `INFO commandstats`.

use redis::aio::MultiplexedConnection;

/// The median of `v` (rounds of one scenario).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// The calls so far of the commands `names` (lower-case, e.g. `["get", "set"]`). Commands run
/// inside scripts count under their own names, so count only what clients send.
pub async fn command_calls(conn: &mut MultiplexedConnection, names: &[&str]) -> u64 {
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
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}
