//! The `rocketmq-sidecar` binary: everything is in the library's `cli` module.

fn main() -> std::process::ExitCode {
    rocketmq_sidecar::cli::run()
}
