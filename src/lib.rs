//! rocketmq-sidecar: a native agent for Apache RocketMQ 4.9.6 brokers managed by KubeBlocks.
//!
//! Layers, each depending only on the ones above it:
//! - [`properties`]: Java `.properties` text as the broker reads it (no dependencies).
//! - [`periodic`]: the run-every-interval-until-shutdown loop of the background pollers.
//! - [`sorted`]: lookups into a name-keyed map in the map's own order (no dependencies).
//! - [`remoting`]: the wire protocol (frames, headers, ACL signing, lenient JSON).
//! - [`admin`]: typed broker and name-server operations.
//! - [`params`]: the broker parameter catalog and value validation (no I/O).
//! - [`role`]: master/slave detection and the poller's shared state.
//! - [`reload`]: the config reloader (diff, apply in one request, verify, watch the file).
//! - [`guard`]: the scale-in guard (backlog per group/topic/queue, drain).
//! - [`metrics`]: Prometheus metrics, the agent's own and the broker's (rocketmq-exporter names).
//! - [`seed`]: topic/group metadata for a new shard (serve endpoints, `seed` command).
//! - [`http`]: the read-only probe endpoints served by `serve`.
//! - [`cli`]: the `rocketmq-sidecar` command line.

/// The version of every JSON document the agent prints or serves (`schemaVersion`, docs/json.md):
/// fields are only ever added; a rename or removal bumps it.
pub const JSON_SCHEMA_VERSION: u32 = 1;

pub mod admin;
pub mod cli;
pub mod guard;
pub mod http;
pub mod metrics;
pub mod params;
pub mod periodic;
pub mod properties;
pub mod reload;
pub mod remoting;
pub mod role;
pub mod seed;
pub mod sorted;
