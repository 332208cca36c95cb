//! Watching the mounted broker config file.
//!
//! We watch the file's *directory*, not the file: Kubernetes updates a ConfigMap volume by
//! swapping the `..data` symlink, editors write a new file and rename it over the old one, and
//! tools delete and re-create. A watch on the file itself loses track in all three cases; a
//! directory watch sees every one. When the path is a symlink (a ConfigMap's `broker.conf ->
//! ..data/broker.conf`), the directory the link resolves to is watched too, and re-resolved
//! after every change, so in-place edits behind the link are seen as well. Bursts are debounced: one signal once the directory has
//! been quiet for `quiet` (but at most `max_wait` after the first event).

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// Keeps the OS watch alive; dropping it stops the watch.
pub struct FileWatch {
    watcher: RecommendedWatcher,
    file: PathBuf,
    dir: PathBuf,
    resolved_dir: Option<PathBuf>,
    pub changes: mpsc::Receiver<()>,
}

impl FileWatch {
    /// Follows the file's symlinks again and moves the second watch if they now point elsewhere.
    pub fn refresh(&mut self) {
        let resolved = std::fs::canonicalize(&self.file).ok().and_then(|p| p.parent().map(PathBuf::from));
        let resolved = resolved.filter(|r| Some(r) != std::fs::canonicalize(&self.dir).ok().as_ref());
        if resolved == self.resolved_dir {
            return;
        }
        if let Some(old) = self.resolved_dir.take() {
            let _ = self.watcher.unwatch(&old);
        }
        if let Some(new) = resolved {
            if self.watcher.watch(&new, RecursiveMode::NonRecursive).is_ok() {
                self.resolved_dir = Some(new);
            }
        }
    }
}

/// Starts watching the directory holding `file`. A signal on `changes` means "re-read it".
pub fn watch(file: &Path, quiet: Duration, max_wait: Duration) -> notify::Result<FileWatch> {
    let dir = watch_dir(file);
    let (raw_tx, raw_rx) = mpsc::unbounded_channel::<()>();
    // Any event but a read, errors included (e.g. a queue overflow), means "something may have
    // changed"; re-reading is idempotent, so a spurious signal costs one config read. Reads are
    // left out: the reloader's own read of the file would otherwise signal another read, forever.
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.as_ref().is_ok_and(|e| matches!(e.kind, notify::EventKind::Access(_))) {
            return;
        }
        let _ = raw_tx.send(());
    })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    let (tx, changes) = mpsc::channel(1);
    tokio::spawn(debounce(raw_rx, tx, quiet, max_wait));
    let mut w = FileWatch { watcher, file: file.to_path_buf(), dir, resolved_dir: None, changes };
    w.refresh();
    Ok(w)
}

fn watch_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

async fn debounce(mut raw: mpsc::UnboundedReceiver<()>, out: mpsc::Sender<()>, quiet: Duration, max_wait: Duration) {
    while raw.recv().await.is_some() {
        let deadline = tokio::time::Instant::now() + max_wait;
        loop {
            let wait = quiet.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
            match tokio::time::timeout(wait, raw.recv()).await {
                Ok(Some(())) if tokio::time::Instant::now() < deadline => continue,
                Ok(None) => return,
                _ => break,
            }
        }
        // A full channel already holds a pending signal: one re-read covers both.
        let _ = out.try_send(());
    }
}
