//! TLS for the gRPC listener (rustls through tonic): `--tls-cert` and `--tls-key` turn it on,
//! `--client-ca` makes it mutual (every agent must present a certificate that CA signed).

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
}
