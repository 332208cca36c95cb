//! Prometheus metrics for `GET /metrics`:
//! - the agent's own (`rocketmq_sidecar_*`): broker up, role, checks, request timings and
//!   errors, reload outcomes, scale-in backlog; read from the shared states at scrape time;
//! - the broker's, under rocketmq-exporter's names and labels: runtime gauges, offsets, lag and
//!   throughput, from a cache refreshed on its own interval, so a scrape never waits on the
//!   broker and label cardinality has a cap.

mod agent;
mod broker;
mod cache;
mod quiet;
mod runtime;

pub use agent::AgentMetrics;
pub use broker::{collect, Collected, Limits, Snapshot};
pub use cache::{run, BrokerMetrics, CacheView};
