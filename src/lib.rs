//! rocketmq-sidecar: a native agent for Apache RocketMQ 4.9.6 brokers managed by KubeBlocks.
//!
//! Layers, each depending only on the ones above it:
//! - [`remoting`]: the wire protocol (frames, headers, ACL signing, lenient JSON).
//! - [`admin`]: typed broker and name-server operations.
//! - [`role`]: master/slave detection and the poller's shared state.
//! - [`http`]: the read-only probe endpoints served by `serve`.
//! - [`cli`]: the `rocketmq-sidecar` command line.

pub mod admin;
pub mod cli;
pub mod http;
pub mod remoting;
pub mod role;
