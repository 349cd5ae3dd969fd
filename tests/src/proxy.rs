//! A TCP proxy in front of a test's redis-server that can go silent: it keeps accepting
//! connections but answers nothing (a proxy with a dead backend, a failover address that does
//! not serve yet), then comes back, closing the connections it held so that clients reconnect.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
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
}

impl Proxy {
    /// Starts forwarding to the local port `upstream`.
    pub async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let (mode, rx) = watch::channel(Mode::Forward);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, upstream, rx.clone()));
            }
        });
        Self { port, mode }
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

async fn serve(mut client: TcpStream, upstream: u16, mut mode: watch::Receiver<Mode>) {
    if *mode.borrow_and_update() == Mode::Forward {
        let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
            return;
        };
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
            _ = mode.wait_for(|m| *m == Mode::Silent) => {}
        }
        drop(server);
    }
    // Silent: hold the client's socket, read nothing, until the proxy forwards again.
    let _ = mode.wait_for(|m| *m == Mode::Forward).await;
    let _ = tokio::time::timeout(Duration::from_millis(100), client.shutdown()).await;
}
