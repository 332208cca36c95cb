//! HTTPS for `--listen` (`--listen-tls-cert` / `--listen-tls-key`), for `/metrics` scraped across
//! the network. The files are read again when one changes (cert-manager renews them in place):
//! each new connection checks their modification times; connections already open keep theirs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// The listener's certificate and key, and the acceptor built from them.
pub struct ListenTls {
    cert: PathBuf,
    key: PathBuf,
    loaded: Mutex<(Stamp, TlsAcceptor)>,
}

type Stamp = [Option<(SystemTime, u64)>; 2];

impl std::fmt::Debug for ListenTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenTls").field("cert", &self.cert).field("key", &self.key).finish()
    }
}

impl ListenTls {
    /// Reads both files now: a bad pair stops `serve` before it listens.
    pub fn new(cert: PathBuf, key: PathBuf) -> Result<Arc<ListenTls>, String> {
        let stamp = stamp(&cert, &key);
        let acceptor = acceptor(&cert, &key)?;
        Ok(Arc::new(ListenTls { cert, key, loaded: Mutex::new((stamp, acceptor)) }))
    }

    /// The acceptor for the next connection; a changed pair that cannot be read keeps the last good
    /// one (and says so), so a half-written renewal never takes the endpoint down.
    pub fn acceptor(&self) -> TlsAcceptor {
        let now = stamp(&self.cert, &self.key);
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if loaded.0 != now {
            match acceptor(&self.cert, &self.key) {
                Ok(next) => {
                    tracing::info!(cert = %self.cert.display(), "listener certificate changed: new connections use it");
                    *loaded = (now, next);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "listener certificate changed but cannot be used; keeping the last one")
                }
            }
        }
        loaded.1.clone()
    }
}

fn stamp(cert: &Path, key: &Path) -> Stamp {
    [cert, key].map(|p| {
        let meta = std::fs::metadata(p).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    })
}

fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let bytes = std::fs::read(cert).map_err(|e| format!("cannot read --listen-tls-cert {}: {e}", cert.display()))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("--listen-tls-cert {}: {e:?}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("--listen-tls-cert {} holds no PEM certificate", cert.display()));
    }
    let bytes = std::fs::read(key).map_err(|e| format!("cannot read --listen-tls-key {}: {e}", key.display()))?;
    let key_der = PrivateKeyDer::from_pem_slice(&bytes)
        .map_err(|e| format!("--listen-tls-key {}: no PEM private key ({e:?})", key.display()))?;
    // ring, as for the remoting connections (see remoting/tls.rs).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| format!("--listen-tls-cert and --listen-tls-key do not go together: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
