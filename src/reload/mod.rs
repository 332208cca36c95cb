//! The config reloader: desired broker parameters (a file or pairs) → validated → diffed
//! against the broker → sent in one UPDATE_BROKER_CONFIG → read back and verified.

mod applied;
mod apply;
mod desired;
mod error;
mod plan;
mod reconciler;
mod status;
mod watch;

pub use applied::{wait_applied, Applied};
pub use apply::{apply, not_taken};
pub use desired::{read_pairs, Desired, GUARD_OWNED};
pub use error::ReloadError;
pub use plan::{Change, Plan};
pub use reconciler::{cycle, run, ReloadSettings};
pub use status::{Ignored, Outcome, ReloadState, ReloadStatus};
pub use watch::{watch, FileWatch};
