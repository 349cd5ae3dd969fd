//! Counting the commands a client sends, with `MONITOR`.
//!
//! `MONITOR` prints every command the server executes; commands run inside a Lua script are
//! marked `[db lua]` and are not round trips, so they are left out. The end of the measured
//! section is marked by an `ECHO` of a unique token from another connection, so no sleep is
//! needed to know that every command has been seen.

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::server::RedisServer;

/// A `MONITOR` session on a test server.
pub struct Monitor {
    reader: BufReader<TcpStream>,
    port: u16,
}

impl Monitor {
    /// Starts monitoring.
    pub async fn start(server: &RedisServer) -> Self {
        let mut stream = TcpStream::connect(("127.0.0.1", server.port()))
            .await
            .expect("connect monitor");
        stream
            .write_all(b"MONITOR\r\n")
            .await
            .expect("send MONITOR");
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).await.expect("MONITOR reply");
        assert_eq!(line.trim_end(), "+OK", "MONITOR refused");
        Self {
            reader,
            port: server.port(),
        }
    }

    /// The client commands (upper-case names) the server executed since the last call.
    pub async fn commands(&mut self) -> Vec<String> {
        let token = format!("forze-monitor-mark-{}", rand_token());
        let mut marker = TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect marker");
        marker
            .write_all(format!("ECHO {token}\r\n").as_bytes())
            .await
            .expect("send marker");
        let mut out = Vec::new();
        loop {
            let mut line = String::new();
            let n = self
                .reader
                .read_line(&mut line)
                .await
                .expect("monitor read");
            assert!(n > 0, "monitor connection closed");
            if line.contains(&token) {
                return out;
            }
            if line.contains(" lua] ") {
                continue;
            }
            if let Some(cmd) = line.split('"').nth(1) {
                out.push(cmd.to_ascii_uppercase());
            }
        }
    }
}

fn rand_token() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (std::process::id() as u64) << 32
}
