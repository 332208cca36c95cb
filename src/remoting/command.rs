//! The remoting command (request or response): code, flags, opaque, remark, ext fields, body.

use std::collections::BTreeMap;

/// The `version` we send: MQVersion ordinal of V4_9_6. Name servers switch route JSON to
/// standard (quoted-key) JSON for versions >= 401; brokers only record it.
pub const CURRENT_VERSION: i32 = 405;

/// How the header of a frame is serialized (high byte of the header-length word).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SerializeType {
    #[default]
    Json,
    /// RocketMQ's compact binary header (`RocketMQSerializable`).
    RocketMq,
}

impl SerializeType {
    pub fn code(self) -> u8 {
        match self {
            SerializeType::Json => 0,
            SerializeType::RocketMq => 1,
        }
    }
}

/// `LanguageCode` of the peer, as its byte code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LanguageCode(pub u8);

const LANGUAGE_NAMES: [&str; 13] =
    ["JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY", "OTHER", "HTTP", "GO", "PHP", "OMS", "RUST"];

impl LanguageCode {
    pub const JAVA: LanguageCode = LanguageCode(0);
    pub const OTHER: LanguageCode = LanguageCode(7);
    pub const RUST: LanguageCode = LanguageCode(12);

    pub fn name(self) -> &'static str {
        LANGUAGE_NAMES.get(self.0 as usize).copied().unwrap_or("OTHER")
    }

    /// Unknown names map to OTHER rather than failing the whole frame.
    pub fn from_name(name: &str) -> LanguageCode {
        LANGUAGE_NAMES.iter().position(|n| *n == name).map(|i| LanguageCode(i as u8)).unwrap_or(Self::OTHER)
    }
}

/// Flag bit 0: this is a response. (Bit 1 marks a one-way request, which the sidecar never sends:
/// every request it makes needs its answer.)
const FLAG_RESPONSE: i32 = 1;

/// One remoting command (request or response): a header plus an opaque body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Request code for requests, response code for responses.
    pub code: i32,
    pub language: LanguageCode,
    pub version: i32,
    /// Request id; a response carries the opaque of its request.
    pub opaque: i32,
    pub flag: i32,
    pub remark: Option<String>,
    /// The custom header, as strings (the Java side parses them into typed fields).
    pub ext_fields: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub serialize_type: SerializeType,
}

impl Command {
    /// A new request with the given code; the client assigns the opaque.
    pub fn request(code: i32) -> Command {
        Command {
            code,
            language: LanguageCode::RUST,
            version: CURRENT_VERSION,
            opaque: 0,
            flag: 0,
            remark: None,
            ext_fields: BTreeMap::new(),
            body: Vec::new(),
            serialize_type: SerializeType::Json,
        }
    }

    pub fn with_ext(mut self, key: &str, value: impl Into<String>) -> Command {
        self.ext_fields.insert(key.to_string(), value.into());
        self
    }

    pub fn with_body(mut self, body: Vec<u8>) -> Command {
        self.body = body;
        self
    }

    pub fn is_response(&self) -> bool {
        self.flag & FLAG_RESPONSE != 0
    }
}
