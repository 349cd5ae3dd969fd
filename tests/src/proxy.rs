//! A TCP proxy in front of a test's redis-server that can go silent: it keeps accepting
//! connections but answers nothing (a proxy with a dead backend, a failover address that does
//! not serve yet), then comes back, closing the connections it held so that clients reconnect.
//!
//! It can also hold the server's replies on the data path while the tracking connections (those
//! that sent `CLIENT TRACKING`) go on: a reply in flight, made to arrive after an invalidation;
//! or hold the tracking connections' invalidations while the data path goes on.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Bytes flow both ways.
    Forward,
    /// Connections are accepted and held; nothing is forwarded or answered.
    Silent,
}

/// A proxy on a free local port, forwarding to `127.0.0.1:{upstream}`. Stops with the test's
/// runtime.
pub struct Proxy {
    port: u16,
    mode: watch::Sender<Mode>,
    hold: watch::Sender<bool>,
    hold_tracking: watch::Sender<bool>,
    held: Arc<AtomicUsize>,
}

impl Proxy {
    /// Starts forwarding to the local port `upstream`.
    pub async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let (mode, rx) = watch::channel(Mode::Forward);
        let (hold, holding) = watch::channel(false);
        let (hold_tracking, holding_tracking) = watch::channel(false);
        let held = Arc::new(AtomicUsize::new(0));
        let counted = held.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let path = DataPath {
                    holding: holding.clone(),
                    holding_tracking: holding_tracking.clone(),
                    held: counted.clone(),
                };
                tokio::spawn(serve(client, upstream, rx.clone(), path));
            }
        });
        Self {
            port,
            mode,
            hold,
            hold_tracking,
            held,
        }
    }

    /// Holds what the server sends on the tracking connections (its invalidations), until
    /// [`Proxy::release_tracking`]; the data path goes on.
    pub fn hold_tracking(&self) {
        self.hold_tracking.send_replace(true);
    }

    /// Lets the tracking connections' held bytes through.
    pub fn release_tracking(&self) {
        self.hold_tracking.send_replace(false);
    }

    /// Holds every reply on the connections that did not turn on `CLIENT TRACKING`, until
    /// [`Proxy::release_replies`].
    pub fn hold_replies(&self) {
        self.hold.send_replace(true);
    }

    /// Lets the held replies through.
    pub fn release_replies(&self) {
        self.hold.send_replace(false);
    }

    /// How many connections have a reply held now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }

    /// `redis://127.0.0.1:{port}` of the proxy.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops answering: every connection, old and new, is held open and silent.
    pub fn go_silent(&self) {
        self.mode.send_replace(Mode::Silent);
    }

    /// Forwards again; the connections held while silent are closed.
    pub fn restore(&self) {
        self.mode.send_replace(Mode::Forward);
    }
}

/// What a connection needs to hold its replies.
struct DataPath {
    holding: watch::Receiver<bool>,
    holding_tracking: watch::Receiver<bool>,
    held: Arc<AtomicUsize>,
}

async fn serve(
    mut client: TcpStream,
    upstream: u16,
    mut mode: watch::Receiver<Mode>,
    mut path: DataPath,
) {
    if *mode.borrow_and_update() == Mode::Forward {
        let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
            return;
        };
        if forward(&mut client, &mut server, &mut mode, &mut path).await {
            return;
        }
        drop(server);
    }
    // Silent: hold the client's socket, read nothing, until the proxy forwards again.
    let _ = mode.wait_for(|m| *m == Mode::Forward).await;
    let _ = tokio::time::timeout(Duration::from_millis(100), client.shutdown()).await;
}

/// Forwards both ways until either side closes (true) or the proxy goes silent (false).
async fn forward(
    client: &mut TcpStream,
    server: &mut TcpStream,
    mode: &mut watch::Receiver<Mode>,
    path: &mut DataPath,
) -> bool {
    let tracking = AtomicBool::new(false);
    let (mut from_client, mut to_client) = client.split();
    let (mut from_server, mut to_server) = server.split();
    let up = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = from_client.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            if buf[..n]
                .windows(8)
                .any(|w| w.eq_ignore_ascii_case(b"TRACKING"))
            {
                tracking.store(true, Ordering::SeqCst);
            }
            if to_server.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let down = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = from_server.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            let hold = if tracking.load(Ordering::SeqCst) {
                &mut path.holding_tracking
            } else {
                &mut path.holding
            };
            if *hold.borrow_and_update() {
                path.held.fetch_add(1, Ordering::SeqCst);
                let _ = hold.wait_for(|h| !*h).await;
                path.held.fetch_sub(1, Ordering::SeqCst);
            }
            if to_client.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = up => true,
        _ = down => true,
        _ = mode.wait_for(|m| *m == Mode::Silent) => false,
    }
}
