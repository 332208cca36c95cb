//! The broker's parameters: what each one is, and whether a value is one the broker will
//! really take, per RocketMQ release ([`Release`]). 4.9.6 answers SUCCESS to any update and
//! silently drops what it cannot parse, so every check the broker skips happens here, before
//! anything is sent.

mod catalog;
mod error;
mod release;
mod validate;

pub use catalog::{lookup, names, Effect, JavaType, Param, SchemaType, Scope, CATALOG, EXTRA, FOREIGN};
pub use error::ParamError;
pub use release::Release;
pub use validate::{alternative, check, check_in, closest, closest_in, normalize, Checked};
