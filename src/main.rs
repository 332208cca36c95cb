fn main() -> std::process::ExitCode {
    rocketmq_sidecar::cli::run()
}
