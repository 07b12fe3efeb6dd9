//! Group commit for a firm's SQLite file. Its connections run `synchronous = NORMAL`: a
//! commit writes its pages to the write-ahead log without waiting for the disk. Before a
//! write transaction's caller hears "committed", [`WalSync::durable`] syncs the log, and
//! every commit made before that sync began shares it — what `synchronous = FULL` does
//! (one sync per commit, SQLite's own words: "an extra WAL sync after each transaction"),
//! without each writer waiting for a sync of its own while holding the write lock.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::StoreError;

#[derive(Debug)]
pub(crate) struct WalSync {
    wal: PathBuf,
    /// Commits that asked to be made durable, numbered in the order they asked.
    committed: AtomicU64,
    /// Every commit numbered up to this is on disk.
    synced: AtomicU64,
    /// Held by whoever is syncing: the others wait, then find their commit covered.
    turn: tokio::sync::Mutex<()>,
    syncs: AtomicU64,
}

impl WalSync {
    pub(crate) fn of_database(db: &Path) -> Self {
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        Self {
            wal: wal.into(),
            committed: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            turn: tokio::sync::Mutex::new(()),
            syncs: AtomicU64::new(0),
        }
    }

    /// Returns once the caller's commit, made before this call, is on disk.
    pub(crate) async fn durable(&self) -> Result<(), StoreError> {
        let mine = self.committed.fetch_add(1, Ordering::SeqCst) + 1;
        let _turn = self.turn.lock().await;
        if self.synced.load(Ordering::SeqCst) >= mine {
            return Ok(());
        }
        // Every commit numbered so far was made before this sync begins, so it covers them.
        let covered = self.committed.load(Ordering::SeqCst);
        let wal = self.wal.clone();
        tokio::task::spawn_blocking(move || sync_file(&wal))
            .await
            .map_err(|e| StoreError::io(&self.wal, io::Error::other(e)))?
            .map_err(|e| StoreError::io(&self.wal, e))?;
        self.syncs.fetch_add(1, Ordering::SeqCst);
        self.synced.fetch_max(covered, Ordering::SeqCst);
        Ok(())
    }

    /// How many syncs were made.
    #[cfg(test)]
    pub(crate) fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::SeqCst)
    }
}

fn sync_file(path: &Path) -> io::Result<()> {
    match std::fs::File::open(path) {
        Ok(file) => file.sync_data(),
        // No log: the last connection closed, which moved the log into the database file
        // and synced that.
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn log_in(dir: &Path) -> WalSync {
        let db = dir.join("firm.db");
        std::fs::write(dir.join("firm.db-wal"), b"frames").expect("log");
        WalSync::of_database(&db)
    }

    #[tokio::test]
    async fn each_commit_waits_for_a_sync_that_began_after_it() {
        let dir = tempfile::tempdir().expect("dir");
        let sync = log_in(dir.path());
        for expected in 1..=3 {
            sync.durable().await.expect("durable");
            assert_eq!(sync.syncs(), expected, "a commit after the last sync needs a sync of its own");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_commits_share_syncs() {
        let dir = tempfile::tempdir().expect("dir");
        let sync = Arc::new(log_in(dir.path()));
        // A sync is under way (its turn is held) while 64 commits ask to be made durable.
        let busy = sync.turn.lock().await;
        let waiting: Vec<_> = (0..64)
            .map(|_| {
                let sync = sync.clone();
                tokio::spawn(async move { sync.durable().await })
            })
            .collect();
        while sync.committed.load(Ordering::SeqCst) < 64 {
            tokio::task::yield_now().await;
        }
        drop(busy);
        for commit in waiting {
            commit.await.expect("task").expect("durable");
        }
        assert_eq!(sync.syncs(), 1, "the next sync covers every commit that waited for it");
        assert_eq!(sync.synced.load(Ordering::SeqCst), 64);
    }

    #[tokio::test]
    async fn a_missing_log_means_nothing_is_left_to_sync() {
        let dir = tempfile::tempdir().expect("dir");
        let sync = WalSync::of_database(&dir.path().join("firm.db"));
        sync.durable().await.expect("no log, no error");
    }
}
