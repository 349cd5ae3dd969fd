//! The projects API: `cargo run -p forze-examples --bin service` (PORT, REDIS_URL, DATABASE_URL,
//! RATE_LIMIT_PER_MINUTE from the environment).

use forze_examples::service::{build, serve, Config};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
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
    tokio::select! {
        r = serve(listener, app) => r?,
        _ = tokio::signal::ctrl_c() => println!("shutting down"),
    }
    forze.shutdown().await;
    Ok(())
}
