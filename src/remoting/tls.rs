//! TLS on the remoting connections, for brokers and name servers that run
//! `tls.server.mode=enforcing` (RocketMQ's `TlsSystemConfig`): rustls with the ring provider.
//!
//! - The server is verified against `--tls-ca` (RocketMQ's `tls.client.trustCertPath`), by the name
//!   `--tls-server-name` gives or else the address's host. `--tls-insecure` (RocketMQ's test mode, a
//!   self-signed certificate, `tls.client.authServer=false`) encrypts without verifying: every new
//!   connection logs a warning.
//! - `--tls-cert` / `--tls-key` present a client certificate (`tls.server.need.client.auth=require`).
//! - The files are read again when one of them changes (cert-manager rotates them in place): every
//!   new connection checks their modification times; a kept connection keeps its session.
//! - A failed handshake is classified ([`TlsFailure`]) so an unknown CA, an expired certificate, a
//!   missing client certificate, a name mismatch and a peer that does not speak TLS each have their
//!   own error kind and advice.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use tokio_rustls::TlsConnector;

/// What the operator gave (flags or RocketMQ's own `tls.properties`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificates of the CAs that sign the brokers' and name servers' certificates.
    pub ca: Option<PathBuf>,
    /// PEM client certificate chain and its PKCS#8 / PKCS#1 / SEC1 key, for mutual TLS.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// Encrypt without verifying the server (RocketMQ's test mode).
    pub insecure: bool,
    /// The name the server certificate must carry (default: the host of the address asked).
    pub server_name: Option<String>,
}

/// Why the TLS settings cannot be used (a configuration error, found before any connection).
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error("cannot read {what} {path}: {reason}")]
    Read { what: &'static str, path: String, reason: String },
    #[error("{what} {path} holds no PEM certificate")]
    NoCertificate { what: &'static str, path: String },
    #[error("--tls-cert and --tls-key go together (a client certificate needs its key)")]
    CertWithoutKey,
    #[error("TLS is on but nothing says whom to trust: give --tls-ca FILE (the CA of the brokers' certificates), or --tls-insecure for a self-signed test certificate")]
    NoTrust,
    #[error("the client certificate {cert} and key {key} do not go together: {reason}")]
    BadPair { cert: String, key: String, reason: String },
    #[error("invalid TLS server name {name:?}: {reason}")]
    ServerName { name: String, reason: String },
}

/// How a handshake failed; each has its own error kind (metrics label, `/status`) and advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFailure {
    /// The server's certificate is not signed by a CA in --tls-ca.
    UnknownCa,
    /// The server's certificate has expired or is not valid yet.
    Expired,
    /// The server's certificate does not carry the name asked for.
    NameMismatch,
    /// The server asks for a client certificate (need.client.auth) and none, or a wrong one, was sent.
    ClientCertRejected,
    /// The peer answered with something that is not TLS (a plaintext port).
    NotTls,
    /// Anything else (protocol versions, ciphers, a reset during the handshake).
    Handshake,
}

impl TlsFailure {
    pub fn kind(self) -> &'static str {
        match self {
            TlsFailure::UnknownCa => "tls_unknown_ca",
            TlsFailure::Expired => "tls_expired",
            TlsFailure::NameMismatch => "tls_name_mismatch",
            TlsFailure::ClientCertRejected => "tls_client_cert",
            TlsFailure::NotTls => "tls_not_tls",
            TlsFailure::Handshake => "tls_handshake",
        }
    }

    pub fn advice(self) -> &'static str {
        match self {
            TlsFailure::UnknownCa => "give the CA that signed the broker's certificate with --tls-ca",
            TlsFailure::Expired => "the certificate must be renewed (check the clocks too)",
            TlsFailure::NameMismatch => {
                "connect by a name the certificate carries, or set --tls-server-name to one of its names"
            }
            TlsFailure::ClientCertRejected => {
                "the peer requires a client certificate it trusts (tls.server.need.client.auth): give --tls-cert and --tls-key"
            }
            TlsFailure::NotTls => "the port answers in plaintext: turn --tls off for it (or use --tls auto)",
            TlsFailure::Handshake => "check the peer's TLS settings (tls.properties) against ours",
        }
    }
}

/// The TLS side of every connection of a client: the files, and the connector built from them.
pub struct Tls {
    files: TlsFiles,
    loaded: Mutex<Option<(Stamp, TlsConnector)>>,
}

/// The modification time and length of each file, to notice a rotation.
type Stamp = Vec<Option<(SystemTime, u64)>>;

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("files", &self.files).finish()
    }
}

impl Tls {
    /// Checks the files now, so a bad setting is a usage error before any connection.
    pub fn new(files: TlsFiles) -> Result<Arc<Tls>, TlsConfigError> {
        if files.cert.is_some() != files.key.is_some() {
            return Err(TlsConfigError::CertWithoutKey);
        }
        if files.ca.is_none() && !files.insecure {
            return Err(TlsConfigError::NoTrust);
        }
        if let Some(name) = &files.server_name {
            ServerName::try_from(name.clone())
                .map_err(|e| TlsConfigError::ServerName { name: name.clone(), reason: e.to_string() })?;
        }
        let tls = Tls { files, loaded: Mutex::new(None) };
        tls.connector()?;
        Ok(Arc::new(tls))
    }

    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// The connector for the next connection, built again when a file changed since the last one.
    pub fn connector(&self) -> Result<TlsConnector, TlsConfigError> {
        let stamp = self.stamp();
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((seen, connector)) = loaded.as_ref() {
            if *seen == stamp {
                return Ok(connector.clone());
            }
        }
        let connector = TlsConnector::from(Arc::new(self.client_config()?));
        if loaded.is_some() {
            tracing::info!(files = ?self.files, "TLS files changed: new connections use them");
        }
        *loaded = Some((stamp, connector.clone()));
        Ok(connector)
    }

    /// The name the server's certificate is checked against, for a connection to `addr`.
    pub fn server_name(&self, addr: &str) -> Result<ServerName<'static>, TlsConfigError> {
        let name = self.files.server_name.clone().unwrap_or_else(|| host_of(addr).to_string());
        ServerName::try_from(name.clone()).map_err(|e| TlsConfigError::ServerName { name, reason: e.to_string() })
    }

    fn stamp(&self) -> Stamp {
        [&self.files.ca, &self.files.cert, &self.files.key].into_iter().map(|p| file_stamp(p.as_ref()?)).collect()
    }

    fn client_config(&self) -> Result<rustls::ClientConfig, TlsConfigError> {
        let provider = ring_provider();
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions");
        let builder = if self.files.insecure {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyServer(provider)))
        } else {
            let mut roots = rustls::RootCertStore::empty();
            let ca = self.files.ca.as_ref().ok_or(TlsConfigError::NoTrust)?;
            for cert in read_certs("--tls-ca", ca)? {
                roots.add(cert).map_err(|e| TlsConfigError::Read {
                    what: "--tls-ca",
                    path: ca.display().to_string(),
                    reason: e.to_string(),
                })?;
            }
            builder.with_root_certificates(roots)
        };
        match (&self.files.cert, &self.files.key) {
            (Some(cert), Some(key)) => {
                let chain = read_certs("--tls-cert", cert)?;
                let key_der = read_key("--tls-key", key)?;
                builder.with_client_auth_cert(chain, key_der).map_err(|e| TlsConfigError::BadPair {
                    cert: cert.display().to_string(),
                    key: key.display().to_string(),
                    reason: e.to_string(),
                })
            }
            _ => Ok(builder.with_no_client_auth()),
        }
    }
}

/// The crypto behind every TLS session of the agent, remoting and HTTPS alike.
pub(crate) fn ring_provider() -> Arc<rustls::crypto::CryptoProvider> {
    // ring builds with a plain C compiler (aws-lc-rs also needs cmake); what it lacks, a
    // post-quantum key exchange, is why rustls marks it deprecated.
    #[allow(deprecated)]
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A file's modification time and length, to notice it was replaced (None: cannot be read).
pub(crate) fn file_stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// The PEM certificates in `path`, the file the option `what` names; at least one.
pub(crate) fn read_certs(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let read_err = |reason: String| TlsConfigError::Read { what, path: path.display().to_string(), reason };
    let bytes = std::fs::read(path).map_err(|e| read_err(e.to_string()))?;
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&bytes).collect::<Result<_, _>>().map_err(|e| read_err(format!("{e:?}")))?;
    if certs.is_empty() {
        return Err(TlsConfigError::NoCertificate { what, path: path.display().to_string() });
    }
    Ok(certs)
}

/// The PEM private key in `path`, the file the option `what` names.
pub(crate) fn read_key(what: &'static str, path: &Path) -> Result<PrivateKeyDer<'static>, TlsConfigError> {
    let read_err = |reason: String| TlsConfigError::Read { what, path: path.display().to_string(), reason };
    let bytes = std::fs::read(path).map_err(|e| read_err(e.to_string()))?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| read_err(format!("no PEM private key ({e:?})")))
}

/// The host part of `host:port` (an IPv6 address in brackets loses them).
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// Classifies a failed handshake from the error tokio-rustls returns; also the detail to show.
pub fn classify(err: &std::io::Error) -> (TlsFailure, String) {
    let Some(tls) = err.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) else {
        // A RocketMQ port without TLS reads the ClientHello as a frame far over its limit and
        // hangs up.
        let closed = matches!(
            err.kind(),
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        );
        if closed {
            let detail = format!("the peer hung up during the handshake ({err}): a port without TLS (tls.server.mode=disabled) does this");
            return (TlsFailure::NotTls, detail);
        }
        return (TlsFailure::Handshake, err.to_string());
    };
    use rustls::AlertDescription as Alert;
    use rustls::Error as E;
    let failure = match tls {
        E::InvalidCertificate(CertificateError::UnknownIssuer | CertificateError::BadSignature) => {
            TlsFailure::UnknownCa
        }
        E::InvalidCertificate(
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. },
        ) => TlsFailure::Expired,
        E::InvalidCertificate(CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }) => {
            TlsFailure::NameMismatch
        }
        // A peer that wants a client certificate says so with one of these alerts (TLS 1.3: after
        // our handshake finished, on the first read).
        E::AlertReceived(
            Alert::CertificateRequired | Alert::BadCertificate | Alert::UnknownCA | Alert::CertificateUnknown,
        ) => TlsFailure::ClientCertRejected,
        E::InvalidMessage(_) => TlsFailure::NotTls,
        _ => TlsFailure::Handshake,
    };
    (failure, tls.to_string())
}

/// Test mode: any certificate is accepted; the handshake's signatures are still checked, so the
/// connection is encrypted to whoever holds the key of the certificate shown (not authenticated).
#[derive(Debug)]
struct AnyServer(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_of_an_address() {
        assert_eq!(host_of("127.0.0.1:10911"), "127.0.0.1");
        assert_eq!(host_of("broker-0.rocketmq.svc:10911"), "broker-0.rocketmq.svc");
        assert_eq!(host_of("[::1]:10911"), "::1");
    }

    #[test]
    fn settings_that_cannot_work_are_refused_before_any_connection() {
        let only_cert = TlsFiles { cert: Some("c.pem".into()), insecure: true, ..TlsFiles::default() };
        assert!(matches!(Tls::new(only_cert), Err(TlsConfigError::CertWithoutKey)));
        assert!(matches!(Tls::new(TlsFiles::default()), Err(TlsConfigError::NoTrust)));
        let missing = TlsFiles { ca: Some("/nonexistent/ca.pem".into()), ..TlsFiles::default() };
        let err = Tls::new(missing).unwrap_err().to_string();
        assert!(err.contains("cannot read --tls-ca /nonexistent/ca.pem"), "{err}");
        let dir = std::env::temp_dir().join(format!("tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = Tls::new(TlsFiles { ca: Some(empty), ..TlsFiles::default() }).unwrap_err().to_string();
        assert!(err.contains("holds no PEM certificate"), "{err}");
        assert!(Tls::new(TlsFiles { insecure: true, ..TlsFiles::default() }).is_ok());
    }
}
