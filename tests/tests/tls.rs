//! TLS against a real `redis-server --tls-port` with certificates made here (rcgen): the CA is
//! verified by default, a wrong CA or host name is a clear start-up error, `#insecure` skips
//! the check, and a server that asks for client certificates gets one; the same on a cluster
//! whose nodes speak TLS only.

use forze_runtime::{CounterRoute, Error, Forze, RedisConfig};
use forze_tests::{RedisCluster, RedisServer};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

/// A CA and the files a TLS server needs.
struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
    client_cert: String,
    client_key: String,
}

/// Certificate parameters for `names`, with its own subject (OpenSSL takes a certificate whose
/// subject is its issuer's for a self-signed one).
fn params(names: &[&str], subject: &str) -> CertificateParams {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("params");
    params.distinguished_name.push(DnType::CommonName, subject);
    params
}

fn ca() -> CertifiedIssuer<'static, KeyPair> {
    let mut params = params(&[], "forze test CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("ca key")).expect("ca")
}

/// A CA, a server certificate for `localhost` only (not `127.0.0.1`), a client certificate.
fn pki() -> Pki {
    pki_for(&["localhost"])
}

/// A CA, a server certificate for `names`, a client certificate.
fn pki_for(names: &[&str]) -> Pki {
    let ca = ca();
    let server_key = KeyPair::generate().expect("server key");
    let server = params(names, "localhost")
        .signed_by(&server_key, &ca)
        .expect("server cert");
    let client_key = KeyPair::generate().expect("client key");
    let client = params(&["forze-client"], "forze-client")
        .signed_by(&client_key, &ca)
        .expect("client cert");
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, pem) in [
        ("ca.pem", ca.pem()),
        ("server.pem", server.pem()),
        ("server.key", server_key.serialize_pem()),
    ] {
        std::fs::write(dir.path().join(name), pem).expect("write pem");
    }
    Pki {
        dir,
        ca_pem: ca.pem(),
        client_cert: client.pem(),
        client_key: client_key.serialize_pem(),
    }
}

/// The TLS options of a server with `pki`'s certificate, asking for client certificates or not.
fn server_args(pki: &Pki, client_certs: bool) -> Vec<String> {
    let path = |name: &str| pki.dir.path().join(name).display().to_string();
    let auth = if client_certs { "yes" } else { "no" };
    vec![
        "--tls-cert-file".to_owned(),
        path("server.pem"),
        "--tls-key-file".to_owned(),
        path("server.key"),
        "--tls-ca-cert-file".to_owned(),
        path("ca.pem"),
        "--tls-auth-clients".to_owned(),
        auth.to_owned(),
    ]
}

fn server(pki: &Pki, client_certs: bool) -> RedisServer {
    let args = server_args(pki, client_certs);
    RedisServer::start_tls(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

async fn connect(cfg: RedisConfig) -> Result<Forze, Error> {
    Forze::builder()
        .redis(cfg.max_size(1))
        .counter("n", CounterRoute::new("tls:n"))
        .build()
        .await
}

#[tokio::test]
async fn rediss_verifies_the_server_against_the_given_ca() {
    let pki = pki();
    let server = server(&pki, false);
    let url = format!("rediss://localhost:{}", server.port());
    let forze = connect(RedisConfig::new(&url).tls_ca(pki.ca_pem.clone()))
        .await
        .expect("rediss:// with the server's CA connects");
    assert_eq!(forze.counter("n").unwrap().incr().await.unwrap(), 1);
    let health = forze.health().await;
    assert!(health.reachable, "{health:?}");
    assert!(!health.config.contains("BEGIN"), "{}", health.config);
    // valkeys:// is the same.
    let url = format!("valkeys://localhost:{}", server.port());
    let forze = connect(RedisConfig::new(&url).tls_ca(pki.ca_pem.clone()))
        .await
        .expect("valkeys:// connects");
    assert_eq!(forze.counter("n").unwrap().incr().await.unwrap(), 2);
}

#[tokio::test]
async fn an_unknown_ca_or_another_host_name_is_a_clear_start_up_error() {
    let pki = pki();
    let server = server(&pki, false);
    let port = server.port();
    // The platform's roots do not know this CA; nor does another CA.
    let other = ca().pem();
    for cfg in [
        RedisConfig::new(format!("rediss://localhost:{port}")),
        RedisConfig::new(format!("rediss://localhost:{port}")).tls_ca(other),
    ] {
        let err = connect(cfg).await.expect_err("an unknown CA is refused");
        let text = err.to_string();
        assert!(matches!(err, Error::Connect { .. }), "{err:?}");
        assert!(
            text.contains("certificate") && text.contains("tls_ca"),
            "{text}"
        );
    }
    // The certificate names `localhost`, not `127.0.0.1`.
    let err =
        connect(RedisConfig::new(format!("rediss://127.0.0.1:{port}")).tls_ca(pki.ca_pem.clone()))
            .await
            .expect_err("a certificate for another name is refused");
    let text = err.to_string();
    assert!(
        text.contains("certificate") && text.contains("host name"),
        "{text}"
    );
    // `#insecure` skips verification (for tests against self-signed servers).
    let forze = connect(RedisConfig::new(format!(
        "rediss://127.0.0.1:{port}/#insecure"
    )))
    .await
    .expect("#insecure connects");
    assert_eq!(forze.counter("n").unwrap().incr().await.unwrap(), 1);
}

#[tokio::test]
async fn a_server_that_asks_for_client_certificates_gets_one() {
    let pki = pki();
    let server = server(&pki, true);
    let url = format!("rediss://localhost:{}", server.port());
    let err = connect(RedisConfig::new(&url).tls_ca(pki.ca_pem.clone()))
        .await
        .expect_err("no client certificate, no connection");
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    let cfg = RedisConfig::new(&url)
        .tls_ca(pki.ca_pem.clone())
        .tls_client_cert(pki.client_cert.clone(), pki.client_key.clone());
    assert!(!format!("{cfg:?}").contains("PRIVATE KEY"));
    let forze = connect(cfg).await.expect("with a client certificate");
    assert_eq!(forze.counter("n").unwrap().incr().await.unwrap(), 1);
}

/// A cluster whose nodes speak TLS only and ask for client certificates: every node (the seeds,
/// and those the slot map names) is verified against the given CA, with the client certificate
/// presented to each; tagged writes and their invalidation cross slots over TLS; a wrong CA is
/// refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_cluster_verifies_every_node_and_presents_the_client_certificate() {
    // The slot map names nodes by IP address: the certificate names it too.
    let pki = pki_for(&["localhost", "127.0.0.1"]);
    let args = server_args(&pki, true);
    let cluster = RedisCluster::start_tls(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        Some((pki.client_cert.clone(), pki.client_key.clone())),
    )
    .await;
    let config = RedisConfig::new(cluster.url())
        .tls_ca(pki.ca_pem.clone())
        .tls_client_cert(pki.client_cert.clone(), pki.client_key.clone());
    let forze = Forze::builder()
        .redis(config)
        .cache("c", forze_runtime::CacheRoute::new("tls:c"))
        .build()
        .await
        .expect("rediss+cluster:// with the CA and a client certificate connects");
    let cache = forze.cache("c").unwrap();
    for i in 0..30 {
        cache
            .set_tagged(&format!("k{i}"), &i, &["all"])
            .await
            .unwrap();
    }
    assert_eq!(cache.get::<i32>("k7").await.unwrap(), Some(7));
    assert_eq!(cache.invalidate_tag("all").await.unwrap(), 30);
    assert!(forze.health().await.reachable);

    let wrong = Forze::builder()
        .redis(
            RedisConfig::new(cluster.url())
                .tls_ca(ca().pem())
                .tls_client_cert(pki.client_cert.clone(), pki.client_key.clone())
                .connect_timeout(std::time::Duration::from_secs(2)),
        )
        .cache("c", forze_runtime::CacheRoute::new("tls:c"))
        .build()
        .await
        .expect_err("another CA is refused");
    assert!(wrong.is_unavailable(), "{wrong}");
}
