//! TLS for the gRPC listener (rustls through tonic): `--tls-cert` and `--tls-key` turn it on,
//! `--client-ca` makes it mutual (every agent must present a certificate that CA signed).
//! The HTTP listener (`--http`) serves HTTPS with the same pair, or with its own
//! (`--http-tls-cert`, `--http-tls-key`), through rustls directly ([`HttpTlsFiles`]).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

/// The TLS files given to `serve`.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    /// PEM certificate chain of the collector.
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert`.
    pub key: Option<PathBuf>,
    /// PEM CA whose certificates agents must present (mutual TLS).
    pub client_ca: Option<PathBuf>,
}

fn read_pem(what: &str, path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read the {what} {}", path.display()))?;
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        anyhow::bail!("the {what} {} is not PEM (no -----BEGIN line)", path.display());
    }
    Ok(bytes)
}

impl TlsFiles {
    /// The server configuration, or `None` for plain text. Files are read now, so a wrong path
    /// stops the start-up with its name rather than failing the first handshake.
    pub fn server_config(&self) -> anyhow::Result<Option<ServerTlsConfig>> {
        let (cert, key) = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => (cert, key),
            (None, None) if self.client_ca.is_some() => {
                anyhow::bail!("--client-ca needs --tls-cert and --tls-key: mutual TLS is TLS first")
            }
            (None, None) => return Ok(None),
            _ => anyhow::bail!("--tls-cert and --tls-key go together: give both"),
        };
        let identity = Identity::from_pem(read_pem("TLS certificate", cert)?, read_pem("TLS key", key)?);
        let mut config = ServerTlsConfig::new().identity(identity);
        if let Some(ca) = &self.client_ca {
            config = config.client_ca_root(Certificate::from_pem(read_pem("client CA", ca)?));
        }
        Ok(Some(config))
    }
}

/// The certificate and key of the HTTPS listener.
#[derive(Debug, Clone, Default)]
pub struct HttpTlsFiles {
    /// `--http-tls-cert`, else `--tls-cert`.
    pub cert: Option<PathBuf>,
    /// `--http-tls-key`, else `--tls-key`.
    pub key: Option<PathBuf>,
}

impl HttpTlsFiles {
    /// The pair for `--http`: its own if given (both or neither), else the gRPC pair.
    pub fn choose(own: (Option<PathBuf>, Option<PathBuf>), grpc: &TlsFiles) -> anyhow::Result<Self> {
        match own {
            (Some(cert), Some(key)) => Ok(Self { cert: Some(cert), key: Some(key) }),
            (None, None) => Ok(Self { cert: grpc.cert.clone(), key: grpc.key.clone() }),
            _ => anyhow::bail!("--http-tls-cert and --http-tls-key go together: give both"),
        }
    }

    /// The rustls configuration (HTTP/2 and HTTP/1.1 offered by ALPN), or `None` for plain HTTP.
    /// Read now, so a wrong file stops the start-up with its name.
    pub fn server_config(&self) -> anyhow::Result<Option<std::sync::Arc<rustls::ServerConfig>>> {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let (Some(cert), Some(key)) = (&self.cert, &self.key) else { return Ok(None) };
        let chain = CertificateDer::pem_slice_iter(&read_pem("HTTPS certificate", cert)?)
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("the HTTPS certificate {} is not a PEM certificate chain", cert.display()))?;
        if chain.is_empty() {
            anyhow::bail!("the HTTPS certificate {} holds no CERTIFICATE block", cert.display());
        }
        let key_der = PrivateKeyDer::from_pem_slice(&read_pem("HTTPS key", key)?)
            .with_context(|| format!("the HTTPS key {} holds no private key", key.display()))?;
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("the TLS library has no usable protocol version")?
            .with_no_client_auth()
            .with_single_cert(chain, key_der)
            .with_context(|| {
                format!("the HTTPS key {} does not match the certificate {}", key.display(), cert.display())
            })?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Some(std::sync::Arc::new(config)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_or_unreadable_tls_settings_stop_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        std::fs::write(&cert, "not a certificate").unwrap();
        let only_cert = TlsFiles { cert: Some(cert.clone()), ..TlsFiles::default() };
        assert!(only_cert.server_config().unwrap_err().to_string().contains("go together"));
        let only_ca = TlsFiles { client_ca: Some(cert.clone()), ..TlsFiles::default() };
        assert!(only_ca.server_config().unwrap_err().to_string().contains("mutual TLS is TLS first"));
        let garbage = TlsFiles { cert: Some(cert.clone()), key: Some(cert.clone()), client_ca: None };
        assert!(garbage.server_config().unwrap_err().to_string().contains("is not PEM"));
        let missing = TlsFiles { cert: Some(dir.path().join("nope.pem")), key: Some(cert), client_ca: None };
        assert!(missing.server_config().unwrap_err().to_string().starts_with("cannot read the TLS certificate"));
        assert!(TlsFiles::default().server_config().unwrap().is_none());
    }

    #[test]
    fn the_https_pair_defaults_to_the_grpc_pair_and_is_checked_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let grpc = TlsFiles { cert: Some("g.pem".into()), key: Some("g.key".into()), client_ca: None };
        let same = HttpTlsFiles::choose((None, None), &grpc).unwrap();
        assert_eq!((same.cert, same.key), (grpc.cert.clone(), grpc.key.clone()));
        let own = HttpTlsFiles::choose((Some("h.pem".into()), Some("h.key".into())), &grpc).unwrap();
        assert_eq!(own.cert, Some(PathBuf::from("h.pem")));
        let half = HttpTlsFiles::choose((Some("h.pem".into()), None), &grpc).unwrap_err();
        assert!(half.to_string().contains("go together"), "{half}");
        assert!(HttpTlsFiles::default().server_config().unwrap().is_none());
        let fake = dir.path().join("fake.pem");
        std::fs::write(&fake, "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n").unwrap();
        let files = HttpTlsFiles { cert: Some(fake.clone()), key: Some(fake) };
        let error = format!("{:#}", files.server_config().unwrap_err());
        assert!(error.contains("is not a PEM certificate chain"), "{error}");
    }
}
