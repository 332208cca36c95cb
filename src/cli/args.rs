//! Connection options shared by every command, their env-var fallbacks (the addon's pod env),
//! and duration parsing.

use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::remoting::{ClientOptions, Credentials, SerializeType, DEFAULT_MAX_FRAME};

use super::error::CliError;
use super::tls_args::TlsArgs;

/// How to reach the broker and name servers, shared by every command.
#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    /// Broker address HOST:PORT [default: 127.0.0.1:$BROKER_PORT, else 127.0.0.1:10911]
    #[arg(long, env = "ROCKETMQ_SIDECAR_BROKER", value_name = "HOST:PORT")]
    pub broker: Option<String>,

    /// Name servers HOST:PORT[;HOST:PORT...] [default: from ALL_NAMESRV_FQDN and NAMESRV_PORT when set]
    #[arg(long, env = "ROCKETMQ_SIDECAR_NAMESRV", value_name = "ADDRS")]
    pub namesrv: Option<String>,

    /// ACL access key [fallback when ENABLE_ACL=true: ROCKETMQ_USER]
    #[arg(long, env = "ROCKETMQ_SIDECAR_ACCESS_KEY", value_name = "KEY")]
    pub access_key: Option<String>,

    /// Refused: a secret on the command line shows in `ps` and shell history. The ACL secret key
    /// comes from the env var ROCKETMQ_SIDECAR_SECRET_KEY or from --secret-key-file [fallback when
    /// ENABLE_ACL=true: ROCKETMQ_PASSWORD]
    #[arg(long, value_name = "SECRET", hide = true)]
    pub secret_key: Option<String>,

    /// Read the ACL secret key from this file (trailing newline ignored); or set the env var
    /// ROCKETMQ_SIDECAR_SECRET_KEY. Never on the command line
    #[arg(long, env = "ROCKETMQ_SIDECAR_SECRET_KEY_FILE", value_name = "PATH")]
    pub secret_key_file: Option<std::path::PathBuf>,

    /// Time limit for each request, connect included (e.g. 500ms, 2s, 1m)
    #[arg(long, env = "ROCKETMQ_SIDECAR_TIMEOUT", default_value = "2s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Largest frame accepted from a peer, in bytes (the broker's own limit is 16 MiB)
    #[arg(long, env = "ROCKETMQ_SIDECAR_MAX_FRAME", default_value_t = DEFAULT_MAX_FRAME, value_name = "BYTES")]
    pub max_frame: usize,

    /// Request header format: binary (RocketMQ's own; costs the broker less CPU per request) or
    /// json (what the Java client sends by default). Answers are read in either
    #[arg(long, env = "ROCKETMQ_SIDECAR_HEADER_FORMAT", value_enum, default_value_t = HeaderFormat::Binary)]
    pub header_format: HeaderFormat,

    #[command(flatten)]
    pub tls: TlsArgs,
}

/// How request headers are written ([`SerializeType`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HeaderFormat {
    Binary,
    Json,
}

impl From<HeaderFormat> for SerializeType {
    fn from(format: HeaderFormat) -> SerializeType {
        match format {
            HeaderFormat::Binary => SerializeType::RocketMq,
            HeaderFormat::Json => SerializeType::Json,
        }
    }
}

impl ConnectArgs {
    pub fn broker_addr(&self) -> String {
        self.broker.clone().unwrap_or_else(|| {
            let port = std::env::var("BROKER_PORT").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "10911".into());
            format!("127.0.0.1:{port}")
        })
    }

    /// The name server list; falls back to the addon's ALL_NAMESRV_FQDN + NAMESRV_PORT.
    pub fn namesrv_addrs(&self) -> Result<String, CliError> {
        if let Some(addrs) = self.namesrv.clone().filter(|a| !a.trim().is_empty()) {
            return Ok(addrs);
        }
        let fqdns = std::env::var("ALL_NAMESRV_FQDN").unwrap_or_default();
        let port = std::env::var("NAMESRV_PORT").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "9876".into());
        let list: Vec<String> =
            fqdns.split(',').map(str::trim).filter(|f| !f.is_empty()).map(|f| format!("{f}:{port}")).collect();
        if list.is_empty() {
            return Err(CliError::Usage(
                "no name server given: use --namesrv HOST:PORT[;HOST:PORT] or set ROCKETMQ_SIDECAR_NAMESRV".into(),
            ));
        }
        Ok(list.join(";"))
    }

    pub fn credentials(&self) -> Result<Option<Credentials>, CliError> {
        if self.secret_key.is_some() {
            return Err(CliError::Usage(
                "--secret-key is not accepted: a secret on the command line shows in `ps` and shell history; \
                 set ROCKETMQ_SIDECAR_SECRET_KEY or use --secret-key-file"
                    .into(),
            ));
        }
        let acl_env = std::env::var("ENABLE_ACL").map(|v| v.eq_ignore_ascii_case("true")).unwrap_or(false);
        let access_key = self
            .access_key
            .clone()
            .or_else(|| acl_env.then(|| std::env::var("ROCKETMQ_USER").ok()).flatten())
            .filter(|k| !k.is_empty());
        let secret = match &self.secret_key_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| CliError::Usage(format!("cannot read --secret-key-file {}: {e}", path.display())))?
                    .trim_end_matches(['\n', '\r'])
                    .to_string(),
            ),
            None => std::env::var(super::env_names::SECRET_KEY)
                .ok()
                .or_else(|| acl_env.then(|| std::env::var("ROCKETMQ_PASSWORD").ok()).flatten()),
        }
        .filter(|s| !s.is_empty());
        match (access_key, secret) {
            (Some(ak), Some(sk)) => Ok(Some(Credentials::new(ak, sk))),
            (None, None) => Ok(None),
            (Some(_), None) => Err(CliError::Usage(
                "an ACL access key was given without a secret key (--secret-key-file or ROCKETMQ_SIDECAR_SECRET_KEY)"
                    .into(),
            )),
            (None, Some(_)) => Err(CliError::Usage(
                "an ACL secret key was given without an access key (--access-key or ROCKETMQ_SIDECAR_ACCESS_KEY)"
                    .into(),
            )),
        }
    }

    pub fn client_options(&self) -> Result<ClientOptions, CliError> {
        if self.max_frame < 1024 {
            return Err(CliError::Usage(format!("--max-frame {} is too small (minimum 1024 bytes)", self.max_frame)));
        }
        let tls = self.tls.choice()?;
        Ok(ClientOptions {
            connect_timeout: self.timeout,
            request_timeout: self.timeout,
            max_frame: self.max_frame,
            credentials: self.credentials()?,
            serialize_type: self.header_format.into(),
            plaintext_fallback: tls.as_ref().is_some_and(|t| t.plaintext_fallback),
            tls: tls.map(|t| t.tls),
            ..ClientOptions::default()
        })
    }
}

/// Parses `500ms`, `2s`, `1.5s`, `1m`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("invalid duration {s:?} (use e.g. 500ms, 2s, 1m)"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("invalid duration unit in {s:?} (use ms, s or m)")),
    };
    if !(secs > 0.0 && secs <= 3600.0) {
        return Err(format!("duration {s:?} must be above 0 and at most 1h"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        for bad in ["", "0s", "-1s", "2h", "abc", "5 parsecs"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
