//! The broker's parameters: what each one is, and whether a value is one the broker will
//! really take. 4.9.6 answers SUCCESS to any update and silently drops what it cannot parse,
//! so every check the broker skips happens here, before anything is sent.

mod catalog;
mod error;
mod validate;

pub use catalog::{lookup, names, Effect, JavaType, Param, SchemaType, Scope, CATALOG, EXTRA, FOREIGN};
pub use error::ParamError;
pub use validate::{alternative, check, closest, normalize, Checked};
