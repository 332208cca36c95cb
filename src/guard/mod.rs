//! The scale-in guard: does this shard still hold messages some consumer has not consumed?
//! Exact (per queue, from the broker's own offsets) and fail-closed: any doubt is "cannot tell".

mod backlog;
mod drain;
mod error;

pub use backlog::{compute, evaluate, read, Backlog, BrokerOffsets, Kind, Policy, Row};
pub use drain::{drain, DrainOutcome, DrainSettings};
pub use error::GuardError;
