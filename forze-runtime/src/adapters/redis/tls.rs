//! TLS (`rediss://`, `valkeys://`, feature `tls`): which certificates to trust and present, and
//! the client that uses them.

use crate::error::BackendError;

/// TLS settings for a `rediss://` / `valkeys://` URL. By default the server's certificate is
/// verified against the platform's root certificates and the URL's host name; `ca_pem` trusts
/// the given CA instead (a private CA); `client_cert_pem` + `client_key_pem` present a client
/// certificate (servers with `tls-auth-clients yes`). A URL ending in `#insecure` skips the
/// verification, with the `tls-insecure` feature only (tests against self-signed servers).
/// Certificates and keys never appear in `Debug` output.
///
/// ```
/// use forze_runtime::RedisConfig;
/// let cfg = RedisConfig::new("rediss://cache.internal:6380")
///     .tls_ca(b"-----BEGIN CERTIFICATE-----\n...".to_vec());
/// assert!(cfg.tls.ca_pem.is_some());
/// assert!(!format!("{cfg:?}").contains("BEGIN CERTIFICATE"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// CA certificates (PEM) to verify the server with, instead of the platform's roots.
    pub ca_pem: Option<Vec<u8>>,
    /// A client certificate chain (PEM), for mutual TLS.
    pub client_cert_pem: Option<Vec<u8>>,
    /// The client certificate's private key (PEM).
    pub client_key_pem: Option<Vec<u8>>,
}

impl TlsConfig {
    /// Whether anything is set.
    pub fn is_set(&self) -> bool {
        self.ca_pem.is_some() || self.client_cert_pem.is_some() || self.client_key_pem.is_some()
    }

    /// Every problem with these settings for a URL with `scheme` (ending in `#insecure`, or
    /// not).
    pub(super) fn problems(&self, scheme: &str, insecure: bool) -> Vec<String> {
        let mut out = Vec::new();
        if self.is_set() && !matches!(scheme, "rediss" | "valkeys") {
            out.push(format!(
                "redis TLS settings are given, but the URL's scheme is {scheme}:// (TLS needs \
                 rediss:// or valkeys://)"
            ));
        }
        if cfg!(not(feature = "tls-insecure")) && insecure {
            out.push(
                "a redis URL ending in #insecure skips the certificate check and needs the \
                 `tls-insecure` feature of forze-runtime (for tests only)"
                    .to_owned(),
            );
        }
        if self.client_cert_pem.is_some() != self.client_key_pem.is_some() {
            out.push(
                "redis TLS client certificate: give both the certificate and its key".to_owned(),
            );
        }
        out
    }
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |v: &Option<Vec<u8>>| if v.is_some() { "<set>" } else { "<none>" };
        f.debug_struct("TlsConfig")
            .field("ca_pem", &shown(&self.ca_pem))
            .field("client_cert_pem", &shown(&self.client_cert_pem))
            .field("client_key_pem", &shown(&self.client_key_pem))
            .finish()
    }
}

/// rustls needs a process-wide crypto provider; install ring's unless the application chose one
/// already.
#[cfg(feature = "tls")]
fn crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// The certificates of `tls` in redis-rs' form, when any is set.
#[cfg(feature = "tls")]
fn certificates(tls: &TlsConfig) -> Option<redis::TlsCertificates> {
    tls.is_set().then(|| redis::TlsCertificates {
        client_tls: match (&tls.client_cert_pem, &tls.client_key_pem) {
            (Some(cert), Some(key)) => Some(redis::ClientTlsConfig {
                client_cert: cert.clone(),
                client_key: key.clone(),
            }),
            _ => None,
        },
        root_cert: tls.ca_pem.clone(),
    })
}

/// The client for `url` with `tls`.
pub(super) fn client(url: &str, tls: &TlsConfig) -> Result<redis::Client, BackendError> {
    #[cfg(feature = "tls")]
    {
        crypto_provider();
        if let Some(certs) = certificates(tls) {
            return redis::Client::build_with_tls(url, certs).map_err(BackendError::from);
        }
    }
    #[cfg(not(feature = "tls"))]
    let _ = tls;
    redis::Client::open(url).map_err(BackendError::from)
}

/// The cluster client for the seed `nodes` with the timeouts and TLS settings of `config`:
/// TLS comes from the nodes' scheme (`rediss://`), the certificates from `config.tls`.
pub(super) fn cluster_client(
    nodes: &[String],
    config: &super::RedisConfig,
) -> Result<redis::cluster::ClusterClient, BackendError> {
    let builder = redis::cluster::ClusterClientBuilder::new(nodes.iter().map(String::as_str))
        .connection_timeout(config.connect_timeout)
        // No response timeout of the client's own: every call is bounded by forze's deadline
        // (one timer per call, retries and reconnections included).
        .retries(super::conn::CLUSTER_RETRIES)
        .min_retry_wait(10)
        .max_retry_wait(500);
    #[cfg(feature = "tls")]
    {
        crypto_provider();
        if let Some(certs) = certificates(&config.tls) {
            return builder.certs(certs).build().map_err(BackendError::from);
        }
    }
    builder.build().map_err(BackendError::from)
}
