//! HTTPS for `--listen` (`--listen-tls-cert` / `--listen-tls-key`), for `/metrics` scraped across
//! the network. The files are read again when one changes (cert-manager renews them in place):
//! each new connection checks their modification times; connections already open keep theirs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio_rustls::TlsAcceptor;

use crate::remoting::{file_stamp, read_certs, read_key, ring_provider};

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
    [cert, key].map(file_stamp)
}

fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let chain = read_certs("--listen-tls-cert", cert).map_err(|e| e.to_string())?;
    let key_der = read_key("--listen-tls-key", key).map_err(|e| e.to_string())?;
    let config = rustls::ServerConfig::builder_with_provider(ring_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| format!("--listen-tls-cert and --listen-tls-key do not go together: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
