//! The TLS options of every command that talks to RocketMQ, and RocketMQ's own `tls.properties`
//! (`--tls-config`), so a sidecar that mounts the broker's file needs nothing else. Flags win over
//! the file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, ValueEnum};

use crate::remoting::{Tls, TlsFiles};

use super::error::CliError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TlsMode {
    /// Plaintext (RocketMQ's default client).
    Off,
    /// TLS on every connection (a peer in tls.server.mode=enforcing requires it).
    On,
    /// TLS first; plaintext again only with a peer that does not speak TLS on that port (a
    /// permissive peer speaks both, an enforcing one only TLS).
    Auto,
}

#[derive(Args, Debug, Clone, Default)]
pub struct TlsArgs {
    /// TLS on the connections to brokers and name servers [default: off, or what --tls-config says]
    #[arg(long = "tls", env = "ROCKETMQ_SIDECAR_TLS", value_enum, value_name = "MODE")]
    pub tls: Option<TlsMode>,

    /// PEM file of the CA(s) that signed the brokers' and name servers' certificates (RocketMQ's
    /// tls.client.trustCertPath)
    #[arg(long, env = "ROCKETMQ_SIDECAR_TLS_CA", value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,

    /// PEM client certificate chain, for peers that require one (tls.server.need.client.auth)
    #[arg(long, env = "ROCKETMQ_SIDECAR_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key (PKCS#8, PKCS#1 or SEC1, unencrypted) of --tls-cert
    #[arg(long, env = "ROCKETMQ_SIDECAR_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// Encrypt without verifying the peer's certificate (RocketMQ's test mode, a self-signed
    /// certificate): not authenticated, and every new connection logs a warning
    #[arg(long, env = "ROCKETMQ_SIDECAR_TLS_INSECURE")]
    pub tls_insecure: bool,

    /// The name the peers' certificates must carry [default: the host of each address]
    #[arg(long, env = "ROCKETMQ_SIDECAR_TLS_SERVER_NAME", value_name = "NAME")]
    pub tls_server_name: Option<String>,

    /// Read RocketMQ's own TLS file (e.g. the broker's /etc/rocketmq/tls.properties): tls.enable,
    /// tls.server.mode, tls.test.mode.enable, tls.client.authServer, tls.client.trustCertPath,
    /// tls.client.certPath and tls.client.keyPath; flags win over it
    #[arg(long, env = "ROCKETMQ_SIDECAR_TLS_CONFIG", value_name = "FILE")]
    pub tls_config: Option<PathBuf>,
}

/// What the TLS options add up to: the TLS side of every connection, and whether a peer that does
/// not speak TLS is asked again in plaintext (`--tls auto`).
pub struct TlsChoice {
    pub tls: Arc<Tls>,
    pub plaintext_fallback: bool,
}

impl TlsArgs {
    pub fn choice(&self) -> Result<Option<TlsChoice>, CliError> {
        let file = match &self.tls_config {
            Some(path) => read_tls_properties(path)?,
            None => HashMap::new(),
        };
        let get = |k: &str| file.get(k).map(String::as_str);
        let mode = self.tls.unwrap_or(match (get("tls.enable"), get("tls.server.mode")) {
            (Some("true"), _) | (_, Some("enforcing")) => TlsMode::On,
            (_, Some("permissive")) => TlsMode::Auto,
            _ => TlsMode::Off,
        });
        if mode == TlsMode::Off {
            return Ok(None);
        }
        if get("tls.client.keyPassword").is_some_and(|p| !p.is_empty()) {
            return Err(CliError::Usage(
                "tls.client.keyPassword is set: an encrypted client key is not supported; give an unencrypted PKCS#8 key".into(),
            ));
        }
        let path = |flag: &Option<PathBuf>, key: &str| flag.clone().or_else(|| get(key).map(PathBuf::from));
        // RocketMQ's client verifies the server only with tls.client.authServer=true (test mode and
        // authServer=false trust any certificate); an explicit --tls-ca always verifies.
        let file_verifies = get("tls.client.authServer") == Some("true") && get("tls.test.mode.enable") != Some("true");
        let ca = self
            .tls_ca
            .clone()
            .or_else(|| file_verifies.then(|| get("tls.client.trustCertPath").map(PathBuf::from)).flatten());
        let file_insecure = self.tls_config.is_some() && !file_verifies;
        let files = TlsFiles {
            insecure: self.tls_insecure || (ca.is_none() && file_insecure),
            ca,
            cert: path(&self.tls_cert, "tls.client.certPath"),
            key: path(&self.tls_key, "tls.client.keyPath"),
            server_name: self.tls_server_name.clone(),
        };
        let tls = Tls::new(files).map_err(|e| CliError::Usage(e.to_string()))?;
        Ok(Some(TlsChoice { tls, plaintext_fallback: mode == TlsMode::Auto }))
    }
}

fn read_tls_properties(path: &Path) -> Result<HashMap<String, String>, CliError> {
    let bytes = std::fs::read(path)
        .map_err(|e| CliError::Usage(format!("cannot read --tls-config {}: {e}", path.display())))?;
    let entries = crate::properties::load(&bytes)
        .map_err(|e| CliError::Usage(format!("--tls-config {}: {e}", path.display())))?;
    Ok(entries.into_iter().map(|e| (e.key, e.value.trim().to_string())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each call its own file: tests run at once, and two writing one path (same text length, as
    /// the name once was) let one read the other's half-written file.
    fn with_file(text: &str) -> TlsArgs {
        static FILES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("tls-args-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("tls-{n}.properties"));
        std::fs::write(&path, text).unwrap();
        TlsArgs { tls_config: Some(path), ..TlsArgs::default() }
    }

    #[test]
    fn no_options_no_tls() {
        assert!(TlsArgs::default().choice().unwrap().is_none());
    }

    #[test]
    fn the_brokers_own_file_turns_tls_on_and_says_whom_to_trust() {
        let enforcing_test_mode = with_file("tls.server.mode=enforcing\n");
        let c = enforcing_test_mode.choice().unwrap().unwrap();
        assert!(c.tls.files().insecure, "RocketMQ's default test mode trusts any certificate");
        assert!(!c.plaintext_fallback);
        let permissive = with_file("tls.server.mode=permissive\ntls.test.mode.enable=true\n");
        assert!(permissive.choice().unwrap().unwrap().plaintext_fallback);
        let disabled = with_file("tls.server.mode=disabled\n");
        assert!(disabled.choice().unwrap().is_none());
        let encrypted_key = with_file("tls.enable=true\ntls.client.keyPassword=secret\n");
        let err = encrypted_key.choice().err().unwrap().to_string();
        assert!(err.contains("encrypted client key is not supported"), "{err}");
    }

    #[test]
    fn flags_win_over_the_file() {
        let mut args = with_file("tls.server.mode=enforcing\n");
        args.tls = Some(TlsMode::Off);
        assert!(args.choice().unwrap().is_none());
    }
}
