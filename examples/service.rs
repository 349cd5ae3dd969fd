//! The projects API: `cargo run -p forze-examples --bin service` (PORT, REDIS_URL, DATABASE_URL,
//! RATE_LIMIT_PER_MINUTE from the environment).

use std::io::IsTerminal;

use forze_examples::service::{build, serve, shutdown_signal, Config};

#[tokio::main]
async fn main() {
    // Errors are printed as sentences (`Display`), not as the structs `main` would print.
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // Colours only on a terminal: logs collected from a pipe or a file stay plain text.
    tracing_subscriber::fmt()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let cfg = Config::from_env();
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let (app, forze, _store) = build(cfg.clone()).await?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "projects API on http://{} (cache/counters/limits: {}, store: {})",
        listener.local_addr()?,
        forze.backend_name(),
        if cfg.database_url.is_some() {
            "postgres"
        } else {
            "memory"
        }
    );
    // SIGTERM or Ctrl-C: stop accepting, finish the requests in flight, then close the backend.
    serve(listener, app, shutdown_signal()).await?;
    println!("shutting down");
    forze.shutdown().await;
    Ok(())
}
