//! The RocketMQ 4.9.6 remoting protocol as the sidecar speaks it: frames, headers, ACL signing,
//! fastjson-tolerant JSON and the broker's properties bodies. Nothing outside this module knows
//! about frames, opaques or signatures; callers build a [`Command`] and get one back.
//!
//! The wire format is documented in `proto/README.md`.

mod acl;
mod bytes;
mod client;
pub mod codes;
mod command;
mod error;
mod frame;
pub mod json;
mod message;
pub mod properties;
mod tls;

pub use acl::{sign, Credentials};
pub use client::{Client, ClientOptions, RequestObserver};
pub use command::{Command, LanguageCode, SerializeType, CURRENT_VERSION};
pub use error::{AclModel, FrameError, RemotingError};
pub use frame::{decode_payload, encode, parse_length, split_frame, DEFAULT_MAX_FRAME};
pub use message::{decode_stored, StoredEntry};
pub(crate) use tls::{file_stamp, read_certs, read_key, ring_provider};
pub use tls::{Tls, TlsConfigError, TlsFailure, TlsFiles};
