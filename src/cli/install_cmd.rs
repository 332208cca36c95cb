//! `rocketmq-sidecar install DIR`: copies this static binary where an init container puts it.

use std::path::PathBuf;

use clap::Args;

use super::error::CliError;

pub const ABOUT: &str = "Copy this binary into a directory (an init container filling a shared volume)";

pub const LONG_ABOUT: &str = "\
Copy this binary into DIR as DIR/rocketmq-sidecar (mode 0755), atomically: a temp file in DIR,
fsync, rename. For an init container run from the sidecar's image (which has no shell and no cp):
it fills an emptyDir that the rocketmq-broker container also mounts, so KubeBlocks exec actions,
which run in a container started from the rocketmq image, can call the static binary there.";

#[derive(Args, Debug)]
pub struct InstallArgs {
    /// Target directory (must exist, e.g. an emptyDir mount)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

pub fn run(args: InstallArgs) -> Result<(), CliError> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let fail =
        |what: &str, e: std::io::Error| CliError::Runtime(format!("install into {}: {what}: {e}", args.dir.display()));
    let me = std::env::current_exe().map_err(|e| fail("cannot find this executable", e))?;
    let bytes = std::fs::read(&me).map_err(|e| fail("cannot read this executable", e))?;
    let target = args.dir.join("rocketmq-sidecar");
    let tmp = args.dir.join(".rocketmq-sidecar.tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| fail("cannot create a file (does the directory exist?)", e))?;
    f.write_all(&bytes).and_then(|_| f.sync_all()).map_err(|e| fail("cannot write", e))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).map_err(|e| fail("cannot chmod", e))?;
    std::fs::rename(&tmp, &target).map_err(|e| fail("cannot rename into place", e))?;
    println!("installed {} ({} bytes)", target.display(), bytes.len());
    Ok(())
}
