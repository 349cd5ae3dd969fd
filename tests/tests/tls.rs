//! TLS against a real `redis-server --tls-port` with certificates made here (rcgen): the CA is
//! verified by default, a wrong CA or host name is a clear start-up error, `#insecure` skips
//! the check, and a server that asks for client certificates gets one.

use forze_runtime::{CounterRoute, Error, Forze, RedisConfig};
use forze_tests::RedisServer;
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
    let ca = ca();
    let server_key = KeyPair::generate().expect("server key");
    let server = params(&["localhost"], "localhost")
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

fn server(pki: &Pki, client_certs: bool) -> RedisServer {
    let path = |name: &str| pki.dir.path().join(name).display().to_string();
    let (cert, key, ca) = (path("server.pem"), path("server.key"), path("ca.pem"));
    let auth = if client_certs { "yes" } else { "no" };
    RedisServer::start_tls(&[
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &ca,
        "--tls-auth-clients",
        auth,
    ])
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
