//! ACL signing exactly as the 4.9.6 Java client does it (`AclClientRPCHook`, `AclUtils`):
//! add `AccessKey` (and `SecurityToken`), concatenate the *values* of all extFields in key order
//! (Java `TreeMap`: UTF-16 code-unit order), skipping `Signature`, append the raw body, and
//! put base64(HMAC-SHA1(secret, bytes)) into `Signature`.
use std::fmt;

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::command::Command;

const ACCESS_KEY: &str = "AccessKey";
const SECURITY_TOKEN: &str = "SecurityToken";
const SIGNATURE: &str = "Signature";

/// ACL credentials. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key: String,
    secret_key: String,
    pub security_token: Option<String>,
}

impl Credentials {
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Credentials {
        Credentials { access_key: access_key.into(), secret_key: secret_key.into(), security_token: None }
    }

    pub fn with_security_token(mut self, token: Option<String>) -> Credentials {
        self.security_token = token;
        self
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("security_token", &self.security_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Adds `AccessKey`, `SecurityToken` (when set) and `Signature` to the request's extFields.
pub fn sign(cmd: &mut Command, creds: &Credentials) {
    cmd.ext_fields.remove(SIGNATURE);
    cmd.ext_fields.insert(ACCESS_KEY.to_string(), creds.access_key.clone());
    if let Some(token) = &creds.security_token {
        cmd.ext_fields.insert(SECURITY_TOKEN.to_string(), token.clone());
    }
    let signature = signature(cmd, &creds.secret_key);
    cmd.ext_fields.insert(SIGNATURE.to_string(), signature);
}

fn signature(cmd: &Command, secret_key: &str) -> String {
    let mut keys: Vec<&String> = cmd.ext_fields.keys().filter(|k| k.as_str() != SIGNATURE).collect();
    // Rust orders Strings by UTF-8 bytes, Java's TreeMap by UTF-16 units; they differ only
    // above U+FFFF, but follow Java exactly.
    keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
    let mut mac = Hmac::<Sha1>::new_from_slice(secret_key.as_bytes()).expect("HMAC accepts any key length");
    for k in keys {
        mac.update(cmd.ext_fields[k].as_bytes());
    }
    mac.update(&cmd.body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let c = Credentials::new("ak", "very-secret").with_security_token(Some("tok-secret".into()));
        let shown = format!("{c:?}");
        assert!(!shown.contains("very-secret") && !shown.contains("tok-secret"), "{shown}");
    }

    #[test]
    fn signing_replaces_an_old_signature_and_is_deterministic() {
        let creds = Credentials::new("RocketMQ", "12345678");
        let mut a = Command::request(crate::remoting::codes::request::GET_BROKER_CONFIG).with_ext("Signature", "stale");
        sign(&mut a, &creds);
        let mut b = Command::request(crate::remoting::codes::request::GET_BROKER_CONFIG);
        sign(&mut b, &creds);
        assert_eq!(a.ext_fields, b.ext_fields);
        assert_ne!(a.ext_fields["Signature"], "stale");
    }
}
