//! The scale-in guard: does this shard still hold messages some consumer has not consumed, and
//! have producers stopped writing to it? Exact (per queue, from the broker's own offsets and the
//! broadcast clients' own) and fail-closed: any doubt is "cannot tell", never "safe".

mod backlog;
mod batch;
mod broadcast;
mod catch_up;
mod drain;
mod error;
mod kept;
mod online;
mod read;
mod removal;
mod rows;
mod scanner;
mod writes;

pub use backlog::{compute, evaluate, Backlog, Kind, Policy, Row, Verdict};
pub use batch::QueueEnds;
pub use drain::{drain, DrainOutcome, DrainSettings, Progress};
pub use error::GuardError;
pub use kept::{KeptStats, RuntimeSample, StatsRead, StatsSource, KEEP_AT_MOST};
pub use online::OFFLINE_ASKS_PER_REFRESH;
pub use read::{read, read_with_runtime, BrokerOffsets, Carry};
pub use removal::{
    blocking_rows, failure_summary, is_scaling_in, shard_master, stop_writes_and_check, summary, SKIP_ANNOTATION,
};
pub use scanner::{Scan, Scanner};
pub use writes::{format_ms, Writes, DEFAULT_QUIET_WINDOW};
